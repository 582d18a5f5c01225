import { context, taskIdArg } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Put a failed or stuck task back to ready',
  help: `Usage: tasklane retry ID

Returns a failed task (or one whose lease has expired) to pending and unowned, keeping its
earlier failures in metadata.tasklane.failures. A task that is held under a live lease is
refused with exit code 4; a completed one too (reopen it with update --status pending).

Examples:
  tasklane retry 4
  tasklane retry 4 --json

JSON (--json): {"task": TASK}.`,

  async run(io) {
    const ctx = context(io, 'retry', {});
    ctx.args.expectPositionals(1, 1, 'ID');
    const store = ctx.store();
    const task = await store.retry(taskIdArg(ctx));
    const out = await singleTaskJson(store, task);
    if (ctx.json) printJson(io, out);
    else println(io, `Retrying ${taskLine(task, out.task.state, ctx.p)}`);
    return EXIT.OK;
  },
};
