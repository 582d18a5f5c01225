import { context, holderFor, taskIdArg } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Give a claimed task back, unfinished',
  help: `Usage: tasklane release ID [--owner NAME] [--token TOKEN]

Returns a task you hold to pending and unowned, so it is ready again for anyone.
Fails with exit code 4 if someone else holds it.

Options:
  --owner NAME     the holder (default: $TASKLANE_OWNER, else user@host)
  --token TOKEN    the claim's fencing token

Examples:
  tasklane release 4 --owner w1
  tasklane release 4 --token 3f9c... --json

JSON (--json): {"task": TASK}.`,

  async run(io) {
    const ctx = context(io, 'release', { owner: { type: 'string' }, token: { type: 'string' } });
    ctx.args.expectPositionals(1, 1, 'ID');
    const store = ctx.store();
    const task = await store.release(taskIdArg(ctx), await holderFor(ctx, undefined));
    const out = await singleTaskJson(store, task);
    if (ctx.json) printJson(io, out);
    else println(io, `Released ${taskLine(task, out.task.state, ctx.p)}`);
    return EXIT.OK;
  },
};
