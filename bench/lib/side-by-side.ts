import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchTask, writeBacklogTasks, writeTasklaneList } from './data.js';
import { BACKLOG_BIN, commitAll, initBacklogRepo } from './measure.js';

// The same tasks for both tools, and Backlog.md's own count of them: what the benchmarks that
// put Tasklane beside Backlog.md set up before timing anything.

/** Writes `tasks` as a Tasklane list under <base>/tasklane and as a committed Backlog.md project in <base>/backlog. */
export function writeBothTools(
  base: string,
  list: string,
  tasks: BenchTask[],
): { tasklaneRoot: string; backlogRepo: string } {
  const tasklaneRoot = join(base, 'tasklane');
  writeTasklaneList(tasklaneRoot, list, tasks);
  const backlogRepo = join(base, 'backlog');
  mkdirSync(backlogRepo, { recursive: true });
  initBacklogRepo(backlogRepo);
  writeBacklogTasks(backlogRepo, tasks);
  commitAll(backlogRepo);
  return { tasklaneRoot, backlogRepo };
}

/**
 * How many tasks `backlog task list --plain` prints in `repo`. Its output goes to a file: read
 * through a Node pipe it came back cut short (860 of 1,002 lines in one try), the Bun binary
 * exiting before its pipe is drained. (hyperfine sends it to /dev/null.)
 */
export function backlogListCount(repo: string, outFile: string): number {
  const fd = openSync(outFile, 'w');
  try {
    execFileSync(BACKLOG_BIN, ['task', 'list', '--plain'], { cwd: repo, stdio: ['ignore', fd, 'inherit'] });
  } finally {
    closeSync(fd);
  }
  return readFileSync(outFile, 'utf8')
    .split('\n')
    .filter((l) => /^\s*TASK-\d+ /.test(l)).length;
}
