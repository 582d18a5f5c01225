import { listDirName, type Task, type TaskIndex, topologicalOrder } from '../model/index.js';
import { branchTips, commitTree, gitRun, isAncestor, mergeTrees, messageLine, relation } from './git.js';
import { branchOf, type Repository } from './worktree.js';

// At the end of a `run --worktree`: one integration branch for the run, tasklane/<list>/run-<stamp>
// (the run's start, UTC, e.g. run-20261130-051200; -2, -3... if taken), holding the work of every
// task the run completed, merged in dependency order onto the commit the run started from. It is
// built with git's plumbing (merge-tree, commit-tree, update-ref): no checkout, so the starting
// checkout is untouched and nothing needs cleaning. A task whose branch conflicts with the work
// merged before it is left out and named with the files.

export interface IntegrationConflict {
  task: string;
  branch: string;
  files: string[];
}

export interface Integration {
  branch: string;
  /** The commit the run started from. */
  base: string;
  /** The branch's commit. */
  head: string;
  /** Tasks whose work the branch holds, in the order merged. */
  merged: string[];
  /** Tasks left out because merging their branch conflicts. */
  conflicts: IntegrationConflict[];
}

/** The integration branch, or an error message: building it never fails the run's report. */
export async function integrateRun(
  repo: Repository,
  list: string,
  startedAt: number,
  completed: Task[],
  byId: TaskIndex,
): Promise<Integration | { error: string } | undefined> {
  try {
    return await integrate(repo, list, startedAt, completed, byId);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function integrate(
  repo: Repository,
  list: string,
  startedAt: number,
  completed: Task[],
  byId: TaskIndex,
): Promise<Integration | undefined> {
  const wanted = new Set(completed.map((t) => t.id));
  const order = topologicalOrder(byId).order.filter((t) => wanted.has(t.id));
  const top = repo.top;
  let head = repo.base;
  const merged: string[] = [];
  let conflicts: (IntegrationConflict & { tip: string })[] = [];
  let any = false;
  const tips = await branchTips(top, `tasklane/${listDirName(list)}/`);
  for (const task of order) {
    const branch = branchOf(list, task.id);
    const tip = tips.get(branch);
    if (tip === undefined) continue;
    any = true;
    const rel = await relation(top, head, tip);
    if (rel !== 'apart') {
      if (rel === 'behind') head = tip; // a fast-forward
      merged.push(task.id);
      continue;
    }
    const m = await mergeTrees(top, head, tip);
    if (!m.clean) {
      conflicts.push({ task: task.id, branch, files: m.files, tip });
      continue;
    }
    head = await commitTree(top, m.tree, [head, tip], `tasklane: merge #${task.id} ${messageLine(task.subject)}`);
    merged.push(task.id);
  }
  if (!any) return undefined;
  // A conflict a later task resolved (its agent merged both sides) is in the branch through it.
  const resolved = new Set<string>();
  for (const c of conflicts) if (await isAncestor(top, c.tip, head)) resolved.add(c.task);
  conflicts = conflicts.filter((c) => !resolved.has(c.task));
  const inOrder = order.map((t) => t.id).filter((id) => resolved.has(id) || merged.includes(id));
  const branch = await createBranch(top, `tasklane/${listDirName(list)}/run-${stamp(startedAt)}`, head);
  return {
    branch,
    base: repo.base,
    head,
    merged: inOrder,
    conflicts: conflicts.map(({ task, branch, files }) => ({ task, branch, files })),
  };
}

/** Creates the branch only where no branch of that name exists (update-ref with an empty old value). */
async function createBranch(top: string, name: string, commit: string): Promise<string> {
  for (let n = 1; ; n++) {
    const branch = n === 1 ? name : `${name}-${n}`;
    const r = await gitRun(top, [
      'update-ref',
      '-m',
      'tasklane run: integration branch',
      `refs/heads/${branch}`,
      commit,
      '',
    ]);
    if (r.code === 0) return branch;
    if (n >= 50) throw new Error(`cannot create the integration branch ${name}: ${r.stderr.trim()}`);
  }
}

function stamp(ms: number): string {
  const d = new Date(ms).toISOString(); // 2026-11-30T05:12:00.123Z
  return `${d.slice(0, 10).replace(/-/g, '')}-${d.slice(11, 19).replace(/:/g, '')}`;
}
