import type { Task } from '../model/index.js';
import { planOriginOf } from './plan/apply.js';
import { type BlockerResult, formatBlockers } from './prompt.js';

// A plan's parent task (an item with nested items, or a task other tasks name as `parent`) groups
// its subtasks: it waits for all of them and has no work of its own. When it becomes ready the
// executor completes it by itself instead of handing an agent a task that says "(no
// description)": it claims it, runs no agent, runs its check if it has one (a check on a group is
// a fair test of the group's work), and completes it through the store's usual transition with a
// result that says so and carries its subtasks' results on to the tasks that wait for it. With
// --worktree it still gets its worktree and branch like any task, so there is a branch for what
// waits for it to build on.

/** Whether the task is a plan's parent: `metadata.plan.subtasks` lists the keys of its subtasks (plan/apply.ts). */
export function isPlanParent(task: Task): boolean {
  const origin = planOriginOf(task);
  return origin !== undefined && Array.isArray(origin.subtasks) && origin.subtasks.length > 0;
}

/** The result a parent completes with: that no agent ran, and what the tasks it waited for reported. */
export function parentResult(blockers: BlockerResult[]): string {
  if (blockers.length === 0) {
    return 'Completed by itself: a plan parent task whose subtasks are gone from the list; no agent ran.';
  }
  const n = blockers.length;
  const head = `Completed by itself when ${n === 1 ? 'the task' : `all ${n} tasks`} it waited for (its subtasks${n === 1 ? '' : ' and any it names'}) completed: ${blockers.map((b) => `#${b.id}`).join(', ')}. No agent ran.`;
  return `${head}\n\n${formatBlockers(blockers)}`;
}

/** The line a parent's log gets instead of an agent's output. */
export function parentLogLine(id: string, attempt: number, blockers: BlockerResult[]): string {
  const waited = blockers.length === 0 ? 'none are left' : blockers.map((b) => `#${b.id}`).join(', ');
  return `\n--- tasklane: task ${id} attempt ${attempt} at ${new Date().toISOString()}: a plan parent; the tasks it waited for completed (${waited}), so it completes by itself, without an agent\n`;
}
