import { isTasklaneError, type Task, tasklaneFields } from '../model/index.js';
import type { TaskStore } from '../store/types.js';

// A running agent may edit its own task: Claude Code's TaskUpdate sets the owner (in team mode,
// setting in_progress does), an agent may put its task back to pending or delete it. The claim's
// lease lives in the task's metadata, which those edits keep (or, through Tasklane's own update,
// drop), so a heartbeat that fails is not by itself proof that another process took the task.
// This tells the cases apart, from the task as it now is:
//  - taken: another claim holds it (a different lease token): the attempt is lost;
//  - edited: changed without a claim (by the agent, or a session), the lease still ours or gone:
//    the attempt goes on, and its result is recorded;
//  - deleted: the task is gone; nothing can be recorded.

export type ClaimVerdict =
  | { kind: 'taken'; task: Task }
  | { kind: 'edited'; task: Task; leaseKept: boolean; note: string }
  | { kind: 'deleted'; note: string };

/** What became of a claim whose heartbeat or final write was refused. */
export async function judgeClaim(store: TaskStore, id: string, token: string, owner: string): Promise<ClaimVerdict> {
  let task: Task;
  try {
    task = await store.get(id);
  } catch (e) {
    if (!isTasklaneError(e, 'NOT_FOUND')) throw e;
    return { kind: 'deleted', note: `task ${id} was deleted while its agent ran (by the agent or another session)` };
  }
  const lease = tasklaneFields(task).lease;
  if (lease !== undefined && lease.token !== token) return { kind: 'taken', task };
  return { kind: 'edited', task, leaseKept: lease !== undefined, note: describeEdit(task, owner) };
}

/** "its owner was set to "x"; its status was set to pending": how the task differs from a claim we hold. */
export function describeEdit(task: Task, owner: string): string {
  const changes: string[] = [];
  if (task.owner !== owner) {
    changes.push(
      task.owner === undefined ? 'its owner was removed' : `its owner was set to ${JSON.stringify(task.owner)}`,
    );
  }
  if (task.status !== 'in_progress') changes.push(`its status was set to ${task.status}`);
  if (tasklaneFields(task).lease === undefined) changes.push('its claim was released');
  const what = changes.length === 0 ? 'it was edited' : changes.join('; ');
  return `task ${task.id} was changed while its agent ran, without a claim (by the agent or another session): ${what}`;
}
