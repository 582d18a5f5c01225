import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, type TaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Bring back deleted or cleared tasks from the history',
  help: `Usage: tasklane restore [ID...]

Re-creates tasks from their last state in the history: the ones named, or without ids every
task the history knows that is no longer in the list (for instance after Claude Code deleted a
finished list). Dependencies are put back on both sides where the other task exists. A task
that was held on a lease comes back released (pending and unowned), never held by a claim that
nobody can renew. Ids already present are left alone.

Examples:
  tasklane restore           # everything that went missing
  tasklane restore 4 7 --json

JSON (--json): {"tasks": [TASK, ...]}, the tasks restored (empty when nothing was missing).`,

  async run(io) {
    const ctx = context(io, 'restore', {});
    const store = ctx.store();
    const ids = ctx.args.positionals;
    const restored = await store.restore(ids.length > 0 ? ids : undefined);
    const tasks: TaskJson[] = [];
    for (const t of restored) tasks.push((await singleTaskJson(store, t)).task);
    if (ctx.json) {
      printJson(io, { tasks });
      return EXIT.OK;
    }
    if (tasks.length === 0) println(io, 'Nothing to restore: every task in the history is present.');
    for (const t of tasks) println(io, `Restored ${taskLine(t, t.state, ctx.p)}`);
    return EXIT.OK;
  },
};
