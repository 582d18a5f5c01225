import { dependencyEdges } from './edges.js';
import { TasklaneError } from './errors.js';
import { MinHeap } from './heap.js';
import { compareIds } from './ids.js';
import {
  estimateOf,
  isFailed,
  leaseExpired,
  priorityOf,
  TASK_STATES,
  type Task,
  type TaskState,
  tasklaneFields,
} from './task.js';

// The dependency graph over one list. Edges run blocker -> blocked ("A blocks B").
// Pure functions over a snapshot of tasks; the store decides when the snapshot is fresh.

export type TaskIndex = ReadonlyMap<string, Task>;

export function indexTasks(tasks: Iterable<Task>): Map<string, Task> {
  const byId = new Map<string, Task>();
  for (const t of tasks) byId.set(t.id, t);
  return byId;
}

/** Blockers that exist and are not completed. A blocker that no longer exists does not block. */
export function openBlockers(task: Task, byId: TaskIndex): string[] {
  return task.blockedBy.filter((id) => {
    const blocker = byId.get(id);
    return blocker !== undefined && blocker.status !== 'completed';
  });
}

/**
 * A task's state at `now`. An in_progress task on a lease that ran out is `expired` (claimable),
 * unless a blocker is open again, which makes it `blocked` like a pending task.
 */
export function stateOf(task: Task, byId: TaskIndex, now: Date = new Date()): TaskState {
  if (task.status === 'completed') return 'completed';
  if (isFailed(task)) return 'failed';
  const lease = tasklaneFields(task).lease;
  const expired = task.status === 'in_progress' && lease !== undefined && leaseExpired(lease, now);
  if (task.status === 'in_progress' && !expired) return 'in_progress';
  if (openBlockers(task, byId).length > 0) return 'blocked';
  if (expired) return 'expired';
  return task.owner === undefined || task.owner === '' ? 'ready' : 'assigned';
}

/**
 * What a task file that cannot be read stands for when states are judged: an open (pending)
 * task. A task waiting on it is blocked, as `claim` judges it, not ready because it looks absent.
 */
export function unreadableStandIn(id: string): Task {
  return { id, subject: '', description: '', status: 'pending', blocks: [], blockedBy: [] };
}

/** How many of `tasks` are in each state, judged against `byId` (which may hold more than `tasks`). */
export function countByState(
  tasks: Iterable<Task>,
  byId: TaskIndex,
  now: Date = new Date(),
): Record<TaskState, number> {
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const task of tasks) counts[stateOf(task, byId, now)]++;
  return counts;
}

/** Ready for anyone: pending, no owner, not failed, every blocker completed; or held on an expired lease. */
export function isReady(task: Task, byId: TaskIndex, now: Date = new Date()): boolean {
  const state = stateOf(task, byId, now);
  return state === 'ready' || state === 'expired';
}

/** The tasks anyone may claim now, unordered (claimQueue in transitions.ts gives the claim order). */
export function readySet(byId: TaskIndex, now: Date = new Date()): Task[] {
  return [...byId.values()].filter((t) => isReady(t, byId, now));
}

export function blockedSet(byId: TaskIndex, now: Date = new Date()): { task: Task; blockers: string[] }[] {
  const out: { task: Task; blockers: string[] }[] = [];
  for (const t of byId.values()) {
    if (stateOf(t, byId, now) === 'blocked') out.push({ task: t, blockers: openBlockers(t, byId) });
  }
  return out;
}

/**
 * Would the edge `blocker blocks blocked` close a cycle? Returns the cycle as a path that starts
 * and ends at `blocker` (e.g. ["3","5","3"]), or undefined when the edge is safe. The snapshot
 * must be whole: a caller whose scan skipped an unreadable file cannot trust a "safe".
 */
export function cycleFor(byId: TaskIndex, blocker: string, blocked: string): string[] | undefined {
  if (blocker === blocked) return [blocker, blocker];
  // Search from `blocked` for `blocker`; a path back means a cycle. An edge counts when either
  // task records it, so a one-sided edge (a crash between its two writes) cannot let a cycle in.
  const edges = dependencyEdges(byId);
  const parent = new Map<string, string>();
  const stack = [blocked];
  const seen = new Set([blocked]);
  while (stack.length > 0) {
    const id = stack.pop() as string;
    for (const next of edges.get(id) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      parent.set(next, id);
      if (next === blocker) {
        const path = [blocker];
        let at = blocker;
        while (at !== blocked) {
          at = parent.get(at) as string;
          path.push(at);
        }
        // path runs blocker <- ... <- blocked; the cycle reads blocker -> blocked -> ... -> blocker.
        return [blocker, ...path.slice(1).reverse(), blocker];
      }
      stack.push(next);
    }
  }
  return undefined;
}

export function assertNoCycle(byId: TaskIndex, blocker: string, blocked: string, list?: string): void {
  const cycle = cycleFor(byId, blocker, blocked);
  if (cycle === undefined) return;
  const message =
    blocker === blocked
      ? `task ${blocker} cannot block itself`
      : `#${blocker} blocking #${blocked} would close a cycle: ${cycle.join(' -> ')}`;
  throw new TasklaneError('CYCLE', message, { task: blocked, cycle, ...(list === undefined ? {} : { list }) });
}

/**
 * A task being put back (restore) with each of its edges that would close a cycle among `byId`
 * left out, in order; `byId` must not hold the task. Edges to it that other tasks still record
 * count, as in every cycle check. Returns the task to write and the edges left out.
 */
export function withoutCyclicEdges(byId: TaskIndex, task: Task): { task: Task; dropped: [string, string][] } {
  const graph = new Map(byId);
  let kept: Task = { ...task, blocks: [], blockedBy: [] };
  graph.set(task.id, kept);
  const dropped: [string, string][] = [];
  const edges = [
    ...task.blockedBy.map((other) => ({ blocker: other, blocked: task.id, field: 'blockedBy' as const, other })),
    ...task.blocks.map((other) => ({ blocker: task.id, blocked: other, field: 'blocks' as const, other })),
  ];
  for (const { blocker, blocked, field, other } of edges) {
    if (cycleFor(graph, blocker, blocked) !== undefined) {
      dropped.push([blocker, blocked]);
      continue;
    }
    kept = { ...kept, [field]: [...kept[field], other] };
    graph.set(task.id, kept);
  }
  return { task: kept, dropped };
}

/**
 * Topological order (blockers first), ties broken by id. Tasks caught in a cycle (which Claude Code
 * can write, having no check) come last, in id order, and are reported.
 */
export function topologicalOrder(byId: TaskIndex): { order: Task[]; cyclic: string[] } {
  const indegree = new Map<string, number>();
  for (const t of byId.values()) {
    indegree.set(t.id, t.blockedBy.filter((b) => byId.has(b) && b !== t.id).length);
  }
  const queue = new MinHeap<string>(compareIds);
  for (const t of byId.values()) if (indegree.get(t.id) === 0) queue.push(t.id);
  const order: Task[] = [];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    const task = byId.get(id) as Task;
    order.push(task);
    for (const next of task.blocks) {
      const d = indegree.get(next);
      if (d === undefined || next === id) continue;
      indegree.set(next, d - 1);
      if (d - 1 === 0) queue.push(next);
    }
  }
  const placed = new Set(order.map((t) => t.id));
  const cyclic = [...byId.keys()].filter((id) => !placed.has(id)).sort(compareIds);
  for (const id of cyclic) order.push(byId.get(id) as Task);
  return { order, cyclic };
}

/**
 * Critical-path length of each unfinished task: its own estimate plus the longest chain of
 * unfinished tasks it blocks. Completed tasks weigh 0. Cycle-safe (a back edge adds nothing).
 */
export function criticalPaths(byId: TaskIndex): Map<string, number> {
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const task = byId.get(id);
    if (task === undefined || visiting.has(id)) return 0;
    visiting.add(id);
    let longest = 0;
    for (const next of task.blocks) longest = Math.max(longest, visit(next));
    visiting.delete(id);
    const own = task.status === 'completed' ? 0 : estimateOf(task);
    const total = own + longest;
    memo.set(id, total);
    return total;
  };
  // Iterative warm-up in reverse topological order keeps recursion shallow on long chains. Any
  // topological order does: the unsorted one skips ordering ids, most of the cost on 10,000 tasks.
  const order = unsortedTopologicalOrder(byId);
  for (let i = order.length - 1; i >= 0; i--) visit(order[i] as string);
  for (const id of byId.keys()) visit(id); // tasks on a cycle (hand-edited files) are not in the order

  return memo;
}

/** Ids in some topological order (Kahn's, first come first served); tasks on cycles are left out. */
function unsortedTopologicalOrder(byId: TaskIndex): string[] {
  const indegree = new Map<string, number>();
  const order: string[] = [];
  for (const t of byId.values()) {
    let d = 0;
    for (const b of t.blockedBy) if (b !== t.id && byId.has(b)) d++;
    indegree.set(t.id, d);
    if (d === 0) order.push(t.id);
  }
  for (let i = 0; i < order.length; i++) {
    const id = order[i] as string;
    for (const next of (byId.get(id) as Task).blocks) {
      const d = indegree.get(next);
      if (d === undefined || next === id) continue;
      indegree.set(next, d - 1);
      if (d - 1 === 0) order.push(next);
    }
  }
  return order;
}

/** Claim order: higher priority, then longer critical path, then smaller id. */
export function claimOrder(tasks: Task[], paths: ReadonlyMap<string, number>): Task[] {
  return [...tasks].sort(
    (a, b) =>
      priorityOf(b) - priorityOf(a) || (paths.get(b.id) ?? 0) - (paths.get(a.id) ?? 0) || compareIds(a.id, b.id),
  );
}
