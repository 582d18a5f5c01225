import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, type TaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Return tasks whose lease expired to ready',
  help: `Usage: tasklane reap

Finds claimed tasks whose lease has run out (their holder stopped heartbeating) and returns
them to pending and unowned. Claims also treat an expired lease as free, so this is tidying,
not a requirement.

Examples:
  tasklane reap
  tasklane reap --json

JSON (--json): {"tasks": [TASK, ...]}, the tasks released.`,

  async run(io) {
    const ctx = context(io, 'reap', {});
    ctx.args.expectPositionals(0, 0, '');
    const store = ctx.store();
    const tasks: TaskJson[] = [];
    for (const t of await store.reap()) tasks.push((await singleTaskJson(store, t)).task);
    if (ctx.json) {
      printJson(io, { tasks });
      return EXIT.OK;
    }
    if (tasks.length === 0) println(io, 'No expired leases.');
    for (const t of tasks) println(io, `Released ${taskLine(t, t.state, ctx.p)} (its lease expired)`);
    return EXIT.OK;
  },
};
