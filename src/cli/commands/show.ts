import { context, taskIdArg } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { taskDetail, taskJson, withBlockers } from '../task-view.js';

export const command: Command = {
  summary: 'Show one task in full',
  help: `Usage: tasklane show ID

Prints a task: its state, status, owner, blockers (with their status), what it blocks, lease,
failure, timestamps, user metadata, description and result.

Examples:
  tasklane show 4
  tasklane show 4 --json | jq -r .task.metadata.tasklane.result

JSON (--json): {"task": TASK}, the stored task plus "state".`,

  async run(io) {
    const ctx = context(io, 'show', {});
    ctx.args.expectPositionals(1, 1, 'ID');
    const store = ctx.store();
    const task = await store.get(taskIdArg(ctx));
    const byId = await withBlockers(store, task);
    if (ctx.json) printJson(io, { task: taskJson(task, byId) });
    else println(io, taskDetail(task, byId, ctx.p));
    return EXIT.OK;
  },
};
