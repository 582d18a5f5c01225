import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareIds, listDirName, sanitizePathComponent, TasklaneError } from '../model/index.js';
import {
  branchTips,
  commitTree,
  firstLine,
  git,
  gitRun,
  identity,
  isAncestor,
  mergeTrees,
  messageLine,
  relation,
  revParse,
} from './git.js';

// --worktree: each task runs in its own git worktree on its own branch, stacked on the graph: the
// branch starts from its blockers' work (one blocker: its branch tip; several: a merge of their
// branches, made without a checkout before the agent starts). What the agent leaves uncommitted is
// committed when the attempt succeeds, before the task is marked completed, so a dependent always
// starts from its blockers' whole work. The starting checkout (HEAD, index, working tree) is never
// touched; worktrees are removed only by `tasklane worktree prune`. A retry reuses the task's
// worktree and branch. Layout: <repository>/.tasklane/worktrees/<list>/<id>, branch tasklane/<list>/<id>.

/** What a blocker merge that conflicts does: hand the conflicted tree to the agent, or fail the task. */
export type ConflictPolicy = 'agent' | 'fail';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['agent', 'fail'];

/** A merge of a blocker's branch left for the agent to resolve. */
export interface MergeConflict {
  /** The blocker whose branch was being merged, and the branch. */
  task: string;
  branch: string;
  files: string[];
  /** Blockers whose branches still have to be merged after this one (they conflicted too). */
  pending: { task: string; branch: string }[];
}

export interface Worktree {
  path: string;
  branch: string;
  /** The commit the branch holds after the attempt (its blockers' work and the agent's). */
  commit?: string;
  /** A blocker merge handed to the agent unresolved (policy 'agent'). */
  conflict?: MergeConflict;
}

export interface Repository {
  /** The top of the starting checkout. */
  top: string;
  /** HEAD when the run (or worker) started: where tasks without blockers, and the integration branch, start. */
  base: string;
}

const repositories = new Map<string, Promise<Repository>>();

/** The repository of `cwd` and its HEAD, read once per process, so every task of a run starts from the same commit. */
export function repositoryOf(cwd: string): Promise<Repository> {
  let found = repositories.get(cwd);
  if (found === undefined) {
    found = readRepository(cwd);
    repositories.set(cwd, found);
    found.catch(() => repositories.delete(cwd));
  }
  return found;
}

async function readRepository(cwd: string): Promise<Repository> {
  const top = await gitRun(cwd, ['rev-parse', '--show-toplevel']).catch((e: unknown) => ({
    code: 1,
    stdout: '',
    stderr: (e as Error).message,
  }));
  if (top.code !== 0) {
    throw new TasklaneError(
      'USAGE',
      `--worktree needs a git repository, and ${cwd} is not in one (${firstLine(top.stderr)})`,
      {
        field: '--worktree',
      },
    );
  }
  const base = await revParse(cwd, 'HEAD');
  if (base === undefined) {
    throw new TasklaneError(
      'USAGE',
      `--worktree needs a commit to start from, and the repository at ${cwd} has none yet`,
      {
        field: '--worktree',
      },
    );
  }
  return { top: top.stdout.trim(), base };
}

export function branchOf(list: string, taskId: string): string {
  return `tasklane/${listDirName(list)}/${sanitizePathComponent(taskId)}`;
}

export function worktreesDir(top: string, list?: string): string {
  const base = join(top, '.tasklane', 'worktrees');
  return list === undefined ? base : join(base, listDirName(list));
}

export interface TaskRef {
  id: string;
  blockedBy: readonly string[];
}

interface Blocker {
  task: string;
  branch: string;
  tip: string;
}

/** The blockers that have a branch (ran with --worktree), in id order; the others' work is in the base or nowhere. */
function blockerBranches(tips: Map<string, string>, list: string, ids: readonly string[]): Blocker[] {
  const out: Blocker[] = [];
  for (const id of [...new Set(ids)].sort(compareIds)) {
    const branch = branchOf(list, id);
    const tip = tips.get(branch);
    if (tip !== undefined) out.push({ task: id, branch, tip });
  }
  return out;
}

/** The task's worktree, made or reused, with its blockers' branches merged in. */
export async function prepareWorktree(
  cwd: string,
  list: string,
  task: TaskRef,
  policy: ConflictPolicy,
): Promise<Worktree> {
  const repo = await repositoryOf(cwd);
  const branch = branchOf(list, task.id);
  const base = worktreesDir(repo.top);
  const path = join(worktreesDir(repo.top, list), sanitizePathComponent(task.id));
  mkdirSync(base, { recursive: true });
  const ignore = join(base, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '# Tasklane task worktrees: not part of the repository\n*\n');
  // One look at the list's branches: the blockers' tips, and whether this task has one yet.
  const tips = await branchTips(repo.top, `tasklane/${listDirName(list)}/`);
  const blockers = blockerBranches(tips, list, task.blockedBy);

  if (!existsSync(join(path, '.git'))) {
    if (!tips.has(branch)) {
      // A new branch, started from its blockers' merged work: nothing to catch up with after.
      const merged = await mergeWithoutCheckout(repo.top, task.id, blockers, repo.base);
      if (merged.conflicts.length > 0 && policy === 'fail') throw conflictError(task.id, merged.conflicts);
      await addWithRetries(repo.top, task.id, path, ['-b', branch, '--', path, merged.commit]);
      const deferred = merged.conflicts.map((c) => c.blocker);
      return deferred.length === 0
        ? { path, branch }
        : { path, branch, conflict: await startMerge(path, task.id, deferred) };
    }
    await addWithRetries(repo.top, task.id, path, ['--', path, branch]);
  }
  // A reused worktree (a retry, or a branch made before): bring in any blocker work it lacks.
  return { path, branch, ...(await catchUp(path, task.id, blockers, policy)) };
}

/**
 * `git worktree add`, beside any others. Git makes each worktree's records under its own name and
 * locks each branch ref alone (a worktree being made is marked locked, so a concurrent `worktree
 * prune` leaves it), so adds need not queue: sixteen at once on a 2,000-file repository all
 * succeeded. Queued one at a time in the process, a task waited behind up to seven others' adds
 * before its agent could start (460-640 ms an add here): the largest wait between a blocker's
 * completion and its dependent's start under --worktree. A lock another git holds for a moment
 * makes an attempt fail: it is tried again.
 */
async function addWithRetries(top: string, taskId: string, path: string, args: string[]): Promise<void> {
  // Another process may be adding a worktree too; git's lock makes one of us wait and try again.
  for (let attempt = 1; ; attempt++) {
    // A worktree whose directory was deleted by hand still holds its branch in git's records.
    if (attempt > 1) await gitRun(top, ['worktree', 'prune']);
    const r = await gitRun(top, ['worktree', 'add', ...args]);
    if (r.code === 0) return;
    if (attempt >= 3) {
      throw new TasklaneError('IO', `cannot create a worktree for task ${taskId} at ${path}: ${firstLine(r.stderr)}`, {
        task: taskId,
      });
    }
    await new Promise((res) => setTimeout(res, 100 * attempt + Math.random() * 100));
  }
}

interface PlannedConflict {
  blocker: Blocker;
  files: string[];
}

/**
 * The commit a new task branch starts from: the first blocker's tip, with each further blocker
 * merged in (fast-forward when one contains the other). A merge that conflicts is left out and
 * returned, so the clean ones are done and the agent (or the failure) gets only what conflicts.
 */
async function mergeWithoutCheckout(
  top: string,
  taskId: string,
  blockers: Blocker[],
  base: string,
): Promise<{ commit: string; conflicts: PlannedConflict[] }> {
  const conflicts: PlannedConflict[] = [];
  let head: string | undefined;
  for (const b of blockers) {
    if (head === undefined) {
      head = b.tip;
      continue;
    }
    const rel = await relation(top, head, b.tip);
    if (rel === 'behind') head = b.tip; // a fast-forward
    if (rel !== 'apart') continue;
    const m = await mergeTrees(top, head, b.tip);
    if (!m.clean) {
      conflicts.push({ blocker: b, files: m.files });
      continue;
    }
    head = await commitTree(top, m.tree, [head, b.tip], `tasklane: start #${taskId} from the work of #${b.task} too`);
  }
  return { commit: head ?? base, conflicts };
}

/** Starts the merge of the first conflicting blocker in the worktree, leaving the conflict for the agent. */
async function startMerge(path: string, taskId: string, blockers: Blocker[]): Promise<MergeConflict> {
  const [first, ...rest] = blockers as [Blocker, ...Blocker[]];
  const r = await gitRun(path, [
    ...(await identity(path)),
    'merge',
    '--no-ff',
    '--no-edit',
    '-m',
    `tasklane: merge the work of #${first.task} into #${taskId}`,
    `refs/heads/${first.branch}`,
  ]);
  const files = await unmergedFiles(path);
  if (r.code !== 0 && files.length === 0) {
    throw new TasklaneError(
      'IO',
      `cannot merge ${first.branch} into the worktree of task ${taskId}: ${firstLine(r.stderr || r.stdout)}`,
      {
        task: taskId,
      },
    );
  }
  return {
    task: first.task,
    branch: first.branch,
    files,
    pending: rest.map((b) => ({ task: b.task, branch: b.branch })),
  };
}

/** In an existing worktree: a merge left unresolved by an earlier attempt, or blocker branches not yet merged. */
async function catchUp(
  path: string,
  taskId: string,
  blockers: Blocker[],
  policy: ConflictPolicy,
): Promise<{ conflict?: MergeConflict }> {
  const missing: Blocker[] = [];
  for (const b of blockers) if (!(await isAncestor(path, b.tip, 'HEAD'))) missing.push(b);
  const mergeHead = await revParse(path, 'MERGE_HEAD');
  if (mergeHead !== undefined) {
    const files = await unmergedFiles(path);
    const at = missing.find((b) => b.tip === mergeHead);
    const pending = missing.filter((b) => b !== at).map((b) => ({ task: b.task, branch: b.branch }));
    if (policy === 'fail') {
      await gitRun(path, ['merge', '--abort']);
      throw conflictError(taskId, [{ blocker: at ?? { task: '?', branch: mergeHead, tip: mergeHead }, files }]);
    }
    return { conflict: { task: at?.task ?? '?', branch: at?.branch ?? mergeHead, files, pending } };
  }
  const conflicts: PlannedConflict[] = [];
  for (const b of missing) {
    const r = await gitRun(path, [
      ...(await identity(path)),
      'merge',
      '--no-edit',
      '-m',
      `tasklane: merge the work of #${b.task} into #${taskId}`,
      `refs/heads/${b.branch}`,
    ]);
    if (r.code === 0) continue;
    const files = await unmergedFiles(path);
    if (files.length === 0) {
      throw new TasklaneError(
        'IO',
        `cannot merge ${b.branch} into the worktree of task ${taskId}: ${firstLine(r.stderr || r.stdout)}`,
        {
          task: taskId,
        },
      );
    }
    if (policy === 'agent') {
      const rest = missing.slice(missing.indexOf(b) + 1).map((x) => ({ task: x.task, branch: x.branch }));
      return { conflict: { task: b.task, branch: b.branch, files, pending: rest } };
    }
    await gitRun(path, ['merge', '--abort']);
    conflicts.push({ blocker: b, files });
  }
  if (conflicts.length > 0) throw conflictError(taskId, conflicts);
  return {};
}

async function unmergedFiles(path: string): Promise<string[]> {
  const out = await git(path, ['diff', '--name-only', '--diff-filter=U', '-z'], 'git diff');
  return [...new Set(out.split('\0').filter((f) => f !== ''))];
}

function conflictError(taskId: string, conflicts: PlannedConflict[]): TasklaneError {
  const what = conflicts
    .map((c) => `#${c.blocker.task} (branch ${c.blocker.branch}) in ${c.files.join(', ') || '(no file named)'}`)
    .join('; ');
  return new TasklaneError(
    'MERGE_CONFLICT',
    `the work of the tasks before #${taskId} conflicts: merging ${what}; resolve it on the branches, or run with --on-conflict agent to hand it to the agent`,
    { task: taskId },
  );
}

/**
 * After a successful attempt: refuses conflict markers left in a conflicted file, commits
 * whatever the agent left (concluding a blocker merge it resolved), then merges any blocker
 * branch still missing. Returns the branch's commit. Throws (failing the attempt) otherwise.
 */
export async function finishWorktree(wt: Worktree, task: { id: string; subject: string }): Promise<string> {
  const path = wt.path;
  if (wt.conflict !== undefined) {
    const marked = wt.conflict.files.filter((f) => hasConflictMarkers(join(path, f)));
    if (marked.length > 0) {
      throw new TasklaneError(
        'MERGE_CONFLICT',
        `the agent exited 0 but left conflict markers in ${marked.join(', ')} (merging the work of #${wt.conflict.task})`,
        { task: task.id },
      );
    }
  }
  // Stage everything git does not ignore, then commit it unless the tree is HEAD's. A plain commit
  // goes through write-tree and commit-tree (cheaper than `git commit` on 10,000 files, BENCHMARKS.md);
  // a merge the agent resolved is concluded by `git commit`, which knows MERGE_HEAD.
  await git(path, ['add', '-A'], 'git add');
  const message = `tasklane: #${task.id} ${messageLine(task.subject)}\n\nCommitted by the executor: the work the agent left uncommitted when it exited 0.`;
  if ((await revParse(path, 'MERGE_HEAD')) !== undefined) {
    await git(path, [...(await identity(path)), 'commit', '--no-verify', '-q', '-m', message], 'git commit');
  } else {
    const tree = (await git(path, ['write-tree'], 'git write-tree')).trim();
    const [head, headTree] = (await git(path, ['rev-parse', 'HEAD', 'HEAD^{tree}'], 'git rev-parse'))
      .trim()
      .split('\n');
    if (tree !== headTree) {
      const commit = await commitTree(path, tree, [head as string], message);
      await git(
        path,
        ['update-ref', '-m', "tasklane: the agent's work", 'HEAD', commit, head as string],
        'git update-ref',
      );
    }
  }
  for (const p of wt.conflict?.pending ?? []) {
    const tip = await revParse(path, `refs/heads/${p.branch}`);
    if (tip === undefined || (await isAncestor(path, tip, 'HEAD'))) continue;
    const r = await gitRun(path, [
      ...(await identity(path)),
      'merge',
      '--no-edit',
      '-m',
      `tasklane: merge the work of #${p.task} into #${task.id}`,
      `refs/heads/${p.branch}`,
    ]);
    if (r.code === 0) continue;
    const files = await unmergedFiles(path);
    await gitRun(path, ['merge', '--abort']);
    throw new TasklaneError(
      'MERGE_CONFLICT',
      `merging the work of #${p.task} (branch ${p.branch}) after the agent's conflicts in ${files.join(', ') || firstLine(r.stderr || r.stdout)}; the next attempt gets that conflict`,
      { task: task.id },
    );
  }
  return (await git(path, ['rev-parse', 'HEAD'], 'git rev-parse')).trim();
}

function hasConflictMarkers(file: string): boolean {
  try {
    return /^(<{7} |>{7} |={7}$)/m.test(readFileSync(file, 'utf8'));
  } catch {
    return false; // deleted: resolved by removing it
  }
}

/** The prompt section naming a blocker merge the agent has to resolve; empty without one. */
export function conflictSection(wt: Worktree | undefined, fence: (text: string) => string): string {
  const c = wt?.conflict;
  if (c === undefined) return '';
  const lines = [
    '## First: a merge conflict in your worktree',
    '',
    `Your branch (${wt?.branch}) starts from the work of the tasks before this one. Merging the work of #${c.task} (branch ${c.branch}) into it conflicts in these files:`,
    '',
    fence(c.files.join('\n')),
    '',
    'Resolve the conflict in them (keep what both sides need, remove the conflict markers) before your own work. When you exit 0, the executor commits the merge with whatever you leave uncommitted; a file still holding conflict markers fails the attempt.',
  ];
  if (c.pending.length > 0) {
    lines.push(
      '',
      `The work of ${c.pending.map((p) => `#${p.task} (branch ${p.branch})`).join(', ')} conflicted too and is not merged yet: merge it yourself after this one (git merge BRANCH), or the executor tries when you exit, and a conflict there fails the attempt.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
