import type { Task } from '../model/task.js';
import type { HolderInput, TaskStore } from '../store/types.js';

// What every tool gets: the list's store and who this server claims as by default.

export interface ToolContext {
  store: TaskStore;
  /** The owner used when a tool call names none: TASKLANE_OWNER, else one per server process. */
  owner: string;
}

/**
 * Who is moving a task. Given owner/token are used as is; without them the server's own owner is
 * presented only when it holds the task, so claim-then-complete needs no arguments and finishing
 * an unclaimed task needs no identity. The store checks again under the task's lock.
 */
export function holderFor(ctx: ToolContext, task: Task, owner?: string, token?: string): HolderInput {
  if (owner !== undefined || token !== undefined) {
    return { ...(owner === undefined ? {} : { owner }), ...(token === undefined ? {} : { token }) };
  }
  return task.owner === ctx.owner ? { owner: ctx.owner } : {};
}
