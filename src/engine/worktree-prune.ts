import { relative, sep } from 'node:path';
import { sanitizePathComponent, type Task, TasklaneError } from '../model/index.js';
import { firstLine, git, gitRun, revParse } from './git.js';
import { worktreesDir } from './worktree.js';

// `tasklane worktree prune`: removes the task worktrees of a list, which `run --worktree` leaves
// behind on purpose. Safe by default: a worktree with uncommitted changes (or an unfinished merge)
// is kept unless forced, and one whose task is in progress (an agent may be in it) is always kept.
// Branches are never deleted: they are the work.

export interface PrunedWorktree {
  /** The task's id, as its directory name gives it, and whether that task exists. */
  task: string;
  path: string;
  branch?: string;
  /** Why it was kept. */
  reason?: string;
}

export interface PruneReport {
  repository: string;
  list: string;
  dryRun: boolean;
  removed: PrunedWorktree[];
  kept: PrunedWorktree[];
}

export interface PruneOptions {
  cwd: string;
  list: string;
  tasks: Task[];
  /** Also remove worktrees with uncommitted changes. */
  force: boolean;
  /** Say what would be removed, remove nothing. */
  dryRun: boolean;
}

export async function pruneWorktrees(opts: PruneOptions): Promise<PruneReport> {
  const top = await gitRun(opts.cwd, ['rev-parse', '--show-toplevel']);
  if (top.code !== 0) {
    throw new TasklaneError(
      'USAGE',
      `worktree prune needs a git repository, and ${opts.cwd} is not in one (${firstLine(top.stderr)})`,
    );
  }
  const repository = top.stdout.trim();
  const dir = worktreesDir(repository, opts.list) + sep;
  const byDirName = new Map(opts.tasks.map((t) => [sanitizePathComponent(t.id), t]));
  const report: PruneReport = { repository, list: opts.list, dryRun: opts.dryRun, removed: [], kept: [] };
  // Forget worktrees whose directory is already gone (git's own bookkeeping; touches no files).
  if (!opts.dryRun) await gitRun(repository, ['worktree', 'prune']);
  for (const wt of await listWorktrees(repository)) {
    if (!wt.path.startsWith(dir) || wt.path.slice(dir.length).includes(sep)) continue;
    const name = wt.path.slice(dir.length);
    const task = byDirName.get(name);
    const entry: PrunedWorktree = {
      task: task?.id ?? name,
      path: wt.path,
      ...(wt.branch === undefined ? {} : { branch: wt.branch }),
    };
    const reason = await keepReason(wt.path, task, opts.force);
    if (reason !== undefined) {
      report.kept.push({ ...entry, reason });
      continue;
    }
    if (!opts.dryRun) {
      const r = await gitRun(repository, ['worktree', 'remove', ...(opts.force ? ['--force'] : []), '--', wt.path]);
      if (r.code !== 0) {
        report.kept.push({ ...entry, reason: `git worktree remove refused: ${firstLine(r.stderr)}` });
        continue;
      }
    }
    report.removed.push(entry);
  }
  return report;
}

async function keepReason(path: string, task: Task | undefined, force: boolean): Promise<string | undefined> {
  if (task?.status === 'in_progress') return `task #${task.id} is in progress: an agent may be working there`;
  if (force) return undefined;
  const status = await gitRun(path, ['status', '--porcelain', '-z']);
  if (status.code !== 0) return `git status failed there: ${firstLine(status.stderr)}`;
  const changed = status.stdout.split('\0').filter((l) => l !== '' && /^[ MADRCU?!]{2} /.test(l)).length;
  if (changed > 0) return `${changed} uncommitted ${changed === 1 ? 'change' : 'changes'} (--force removes them)`;
  if ((await revParse(path, 'MERGE_HEAD')) !== undefined) return 'an unfinished merge (--force removes it)';
  return undefined;
}

/** `git worktree list --porcelain`: each worktree's path and branch. */
async function listWorktrees(top: string): Promise<{ path: string; branch?: string }[]> {
  const out = await git(top, ['worktree', 'list', '--porcelain', '-z'], 'git worktree list');
  const found: { path: string; branch?: string }[] = [];
  let current: { path: string; branch?: string } | undefined;
  for (const field of out.split('\0')) {
    if (field.startsWith('worktree ')) {
      current = { path: field.slice('worktree '.length) };
      found.push(current);
    } else if (field.startsWith('branch refs/heads/') && current !== undefined) {
      current.branch = field.slice('branch refs/heads/'.length);
    }
  }
  return found;
}

/** A worktree path as the user reads it: relative to the repository when inside it. */
export function shownPath(repository: string, path: string): string {
  const rel = relative(repository, path);
  return rel.startsWith('..') ? path : rel;
}
