import { usageError } from '../args.js';
import { context, holderFor, taskIdArg, textOption } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { oneLine, printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Mark a task failed, with the reason',
  help: `Usage: tasklane fail ID --reason TEXT [--owner NAME] [--token TOKEN]

Records that an attempt at the task failed. The task is shown as failed, is not claimable and
does not unblock anything until 'tasklane retry' puts it back. (Claude Code sees it as
in_progress.) If the task is claimed, only its holder may fail it.

Options:
  --reason TEXT          why it failed (required)
  --reason-file FILE     read the reason from FILE ('-' for stdin)
  --owner NAME           the holder
  --token TOKEN          the claim's fencing token

Examples:
  tasklane fail 4 --owner w1 --reason "tests fail: see log"
  tasklane fail 4 --token 3f9c... --reason-file error.txt --json

JSON (--json): {"task": TASK}.`,

  async run(io) {
    const ctx = context(io, 'fail', {
      reason: { type: 'string' },
      'reason-file': { type: 'string' },
      owner: { type: 'string' },
      token: { type: 'string' },
    });
    ctx.args.expectPositionals(1, 1, 'ID');
    const id = taskIdArg(ctx);
    const reason = await textOption(ctx, 'reason');
    if (reason === undefined) throw usageError('fail: --reason is required', '--reason');
    const store = ctx.store();
    const holder = await holderFor(ctx, await store.get(id));
    const task = await store.fail(id, { ...holder, reason });
    const out = await singleTaskJson(store, task);
    if (ctx.json) printJson(io, out);
    else println(io, `Failed ${taskLine(task, out.task.state, ctx.p)}: ${oneLine(reason)}`);
    return EXIT.OK;
  },
};
