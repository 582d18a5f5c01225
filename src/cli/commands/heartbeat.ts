import { context, holderFor, taskIdArg } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Renew the lease on a claimed task',
  help: `Usage: tasklane heartbeat ID [--owner NAME] [--token TOKEN] [--lease DURATION]

Extends the lease of a task you hold, from now. Call it well before the lease runs out
(every lease/3 is a good rhythm). Fails with exit code 4 if the task is no longer yours
(the lease expired and someone else claimed it, or the token does not match).

Options:
  --owner NAME        the holder (default: $TASKLANE_OWNER, else user@host)
  --token TOKEN       the claim's fencing token, as printed by claim
  --lease DURATION    new lease length from now: seconds, or 90s, 15m (default 60)

Examples:
  tasklane heartbeat 4 --owner w1
  tasklane heartbeat 4 --token 3f9c... --lease 5m --json

JSON (--json): {"task": TASK, "token": TOKEN, "expiresAt": ISO-TIME}.`,

  async run(io) {
    const ctx = context(io, 'heartbeat', {
      owner: { type: 'string' },
      token: { type: 'string' },
      lease: { type: 'string' },
    });
    ctx.args.expectPositionals(1, 1, 'ID');
    const id = taskIdArg(ctx);
    const lease = ctx.args.seconds('lease');
    const store = ctx.store();
    const claim = await store.heartbeat(
      id,
      await holderFor(ctx, undefined),
      lease === undefined ? undefined : lease * 1000,
    );
    const { task } = await singleTaskJson(store, claim.task);
    if (ctx.json) printJson(io, { task, token: claim.token, expiresAt: claim.expiresAt });
    else println(io, `Renewed ${taskLine(task, task.state, ctx.p)} until ${claim.expiresAt}`);
    return EXIT.OK;
  },
};
