import { formatDuration } from '../model/duration.js';
import { TasklaneError } from '../model/errors.js';
import { stateOf } from '../model/graph.js';
import { timerDelay } from '../model/limits.js';
import type { Task, TaskState } from '../model/task.js';
import type { TaskStore } from './types.js';

// Waiting for tasks to reach a state, on the change feed (no polling loop). Shared by
// `tasklane wait` and the MCP server's TaskWait.

export const UNTIL = ['completed', 'ready', 'any'] as const;
/** completed: all completed; ready: none blocked any more; any: the first to finish (completed or failed). */
export type Until = (typeof UNTIL)[number];

export interface WaitResult {
  /** The state was reached (for `any`: the first to finish completed). */
  reached: boolean;
  /** Why not: a task failed or was deleted, the wait timed out or was aborted. */
  reason?: string;
  timedOut: boolean;
  /** The waited tasks as they were at the end (a deleted one as last seen), in the order asked. */
  tasks: Task[];
  /** Their states, derived from the whole list at the end. */
  states: TaskState[];
}

/** Resolves when the tasks reach `until`, one fails or is deleted, `timeoutMs` passes or `signal` aborts. Throws NOT_FOUND for an unknown id. */
export async function waitForTasks(
  store: TaskStore,
  ids: string[],
  until: Until,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<WaitResult> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timerDelay(opts.timeoutMs));
  try {
    // The feed first (it fixes its starting point), then the list the verdict is read from.
    const feed = store.watch({ signal: controller.signal });
    const byId = new Map<string, Task>((await store.list()).map((t) => [t.id, t]));
    for (const id of ids) {
      if (!byId.has(id)) {
        throw new TasklaneError('NOT_FOUND', `no task ${id} in list ${store.listId}`, { task: id, list: store.listId });
      }
    }
    const gone = new Map<string, Task>();
    let verdict = waitVerdict(ids, byId, gone, until);
    if (verdict === undefined && !controller.signal.aborted) {
      for await (const change of feed) {
        if (change.kind === 'deleted') {
          byId.delete(change.taskId);
          if (ids.includes(change.taskId)) gone.set(change.taskId, change.task);
        } else {
          byId.set(change.taskId, change.task);
          gone.delete(change.taskId);
        }
        verdict = waitVerdict(ids, byId, gone, until);
        if (verdict !== undefined) break;
      }
    }
    const tasks = ids.map((id) => byId.get(id) ?? (gone.get(id) as Task));
    const states = tasks.map((t) => stateOf(t, byId));
    if (verdict === undefined) {
      const reason = timedOut ? `timed out after ${formatDuration(opts.timeoutMs ?? 0)}` : 'the wait was aborted';
      return { reached: false, reason, timedOut, tasks, states };
    }
    return { reached: verdict.ok, ...(verdict.ok ? {} : { reason: verdict.reason }), timedOut: false, tasks, states };
  } finally {
    clearTimeout(timer);
    controller.abort();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Whether the wait is over: ok when reached, not ok (with the reason) when it never can be. Undefined: keep waiting. */
export function waitVerdict(
  ids: string[],
  byId: ReadonlyMap<string, Task>,
  gone: ReadonlyMap<string, Task>,
  until: Until,
): { ok: true } | { ok: false; reason: string } | undefined {
  const states = new Map<string, TaskState>();
  for (const id of ids) {
    if (gone.has(id)) return { ok: false, reason: `task ${id} was deleted` };
    const task = byId.get(id);
    if (task === undefined) return { ok: false, reason: `task ${id} was deleted` };
    states.set(id, stateOf(task, byId));
  }
  if (until === 'any') {
    for (const [id, state] of states) {
      if (state === 'completed') return { ok: true };
      if (state === 'failed') return { ok: false, reason: `task ${id} failed` };
    }
    return undefined;
  }
  for (const [id, state] of states) if (state === 'failed') return { ok: false, reason: `task ${id} failed` };
  const done = [...states.values()].every((s) => (until === 'completed' ? s === 'completed' : s !== 'blocked'));
  return done ? { ok: true } : undefined;
}
