import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listDirName, sanitizePathComponent, TasklaneError } from '../model/index.js';

// --worktree: each task runs in its own git worktree on its own branch, so parallel agents do not
// edit the same checkout. The branch and path go into the task's result; nothing is removed
// afterwards (the branch is the work). A retry reuses the task's worktree and branch.

const run = promisify(execFile);

export interface Worktree {
  path: string;
  branch: string;
}

/** `git worktree add` takes repository-wide locks: one at a time within this process. */
let queue: Promise<unknown> = Promise.resolve();

export function prepareWorktree(cwd: string, list: string, taskId: string): Promise<Worktree> {
  const next = queue.then(() => addWorktree(cwd, list, taskId));
  queue = next.catch(() => {});
  return next;
}

async function addWorktree(cwd: string, list: string, taskId: string): Promise<Worktree> {
  let top: string;
  try {
    top = (await git(cwd, ['rev-parse', '--show-toplevel'])).trim();
  } catch (e) {
    throw new TasklaneError('USAGE', `--worktree needs a git repository, and ${cwd} is not in one (${firstLine(e)})`, {
      field: '--worktree',
    });
  }
  const branch = `tasklane/${listDirName(list)}/${sanitizePathComponent(taskId)}`;
  const base = join(top, '.tasklane', 'worktrees');
  const path = join(base, listDirName(list), sanitizePathComponent(taskId));
  mkdirSync(base, { recursive: true });
  const ignore = join(base, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '# Tasklane task worktrees: not part of the repository\n*\n');
  if (existsSync(join(path, '.git'))) return { path, branch };

  // Another process may be adding a worktree too; git's lock makes one of us wait and try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await git(top, ['worktree', 'prune']);
      const exists = await git(top, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).then(
        () => true,
        () => false,
      );
      await git(top, exists ? ['worktree', 'add', path, branch] : ['worktree', 'add', '-b', branch, path, 'HEAD']);
      return { path, branch };
    } catch (e) {
      if (attempt >= 3) {
        throw new TasklaneError('IO', `cannot create a worktree for task ${taskId} at ${path}: ${firstLine(e)}`, {
          task: taskId,
          cause: e,
        });
      }
      await new Promise((r) => setTimeout(r, 100 * attempt + Math.random() * 100));
    }
  }
}

async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', cwd, ...args], { encoding: 'utf8' });
  return stdout;
}

function firstLine(e: unknown): string {
  const text = ((e as { stderr?: string }).stderr || (e as Error).message || String(e)).trim();
  return text.split('\n')[0] ?? text;
}
