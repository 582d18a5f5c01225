import { claimQueue, isFailed, openBlockers, type Task, type TaskIndex, tasklaneFields } from '../model/index.js';

// Which tasks to start next, over a snapshot of the list: the model's claim queue (ready tasks
// and tasks whose holder's lease ran out, by priority, then the longest remaining critical path,
// then id). Pure.

/** The tasks a claim could take now, not in `skip`, best first. */
export function nextTasks(byId: TaskIndex, skip: ReadonlySet<string>, now: number): Task[] {
  return claimQueue(byId, new Date(now)).filter((t) => !skip.has(t.id));
}

/** Held by someone (not failed, lease live or none): its dependents may still become ready. */
export function heldByOthers(task: Task, now: number): boolean {
  if (task.status !== 'in_progress' || isFailed(task)) return false;
  const lease = tasklaneFields(task).lease;
  return lease === undefined || Date.parse(lease.expiresAt) > now;
}

/** When the earliest live lease among the given tasks runs out (epoch ms), if any. */
export function earliestLeaseExpiry(tasks: Iterable<Task>, now: number): number | undefined {
  let earliest: number | undefined;
  for (const task of tasks) {
    if (task.status !== 'in_progress' || isFailed(task)) continue;
    const lease = tasklaneFields(task).lease;
    if (lease === undefined) continue;
    const at = Date.parse(lease.expiresAt);
    if (Number.isFinite(at) && at > now && (earliest === undefined || at < earliest)) earliest = at;
  }
  return earliest;
}

/** Whether a task can never start in this run because a failed task lies somewhere among its blockers. */
export function blockedByFailure(task: Task, byId: TaskIndex, memo = new Map<string, boolean>()): boolean {
  const known = memo.get(task.id);
  if (known !== undefined) return known;
  memo.set(task.id, false); // cycle guard
  let result = false;
  for (const id of openBlockers(task, byId)) {
    const blocker = byId.get(id) as Task;
    if (isFailed(blocker) || blockedByFailure(blocker, byId, memo)) {
      result = true;
      break;
    }
  }
  memo.set(task.id, result);
  return result;
}
