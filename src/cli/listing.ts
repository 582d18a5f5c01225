import type { Task } from '../model/task.js';
import type { Context } from './context.js';
import { printJson, println } from './output.js';
import { type TaskJson, taskJson, taskTable, terminalWidth } from './task-view.js';

// The shared output of list, ready and blocked: {"list", "tasks"} or a table.

export function printListing(
  ctx: Context,
  tasks: Task[],
  byId: ReadonlyMap<string, Task>,
  opts: {
    empty: string;
    footer?: string;
    extra?: (t: Task) => Record<string, unknown>;
    /** Top-level fields of the JSON beside "list" and "tasks". */
    json?: Record<string, unknown>;
  },
): void {
  const store = ctx.store();
  if (ctx.json) {
    const rows: (TaskJson & Record<string, unknown>)[] = tasks.map((t) => ({
      ...taskJson(t, byId),
      ...(opts.extra?.(t) ?? {}),
    }));
    printJson(ctx.io, { list: store.listId, tasks: rows, ...(opts.json ?? {}) });
    return;
  }
  if (tasks.length === 0) {
    println(ctx.io, opts.empty);
  } else {
    println(ctx.io, taskTable(tasks, byId, ctx.p, terminalWidth(ctx.io)));
  }
  if (opts.footer !== undefined) println(ctx.io, ctx.p.dim(opts.footer));
}
