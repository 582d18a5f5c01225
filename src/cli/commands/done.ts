import { context, holderFor, taskIdArg, textOption } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Mark a task completed, with its result',
  help: `Usage: tasklane done ID [--result TEXT | --result-file FILE] [--owner NAME] [--token TOKEN]

Completes a task and records its result (metadata.tasklane.result), which the executor hands
to the tasks it unblocks. If the task is claimed, only its holder may complete it: pass
--owner or --token, or be the default owner ($TASKLANE_OWNER, else user@host) that claimed it.
An unclaimed task can be completed by anyone. Fails with exit code 4 if someone else holds it.

Options:
  --result TEXT          what came of it (a summary, a link, a path)
  --result-file FILE     read the result from FILE ('-' for stdin); UTF-8 only
  --owner NAME           the holder
  --token TOKEN          the claim's fencing token

Examples:
  tasklane done 4 --result "API merged in #12"
  tasklane done 4 --owner w1 --result-file summary.md --json

JSON (--json): {"task": TASK}.`,

  async run(io) {
    const ctx = context(io, 'done', {
      result: { type: 'string' },
      'result-file': { type: 'string' },
      owner: { type: 'string' },
      token: { type: 'string' },
    });
    ctx.args.expectPositionals(1, 1, 'ID');
    const id = taskIdArg(ctx);
    const result = await textOption(ctx, 'result');
    const store = ctx.store();
    const holder = await holderFor(ctx, await store.get(id));
    const task = await store.complete(id, { ...holder, ...(result === undefined ? {} : { result }) });
    const out = await singleTaskJson(store, task);
    if (ctx.json) printJson(io, out);
    else println(io, `Completed ${taskLine(task, out.task.state, ctx.p)}`);
    return EXIT.OK;
  },
};
