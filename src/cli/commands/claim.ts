import { context, defaultOwner } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { oneLine, printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Take a task atomically: the best ready one, or the one named',
  help: `Usage: tasklane claim [ID] [--owner NAME] [--lease DURATION]

Claims a task in one atomic step: it becomes in_progress, owned by NAME, with a lease and a
fencing token. Without ID, takes the first task 'tasklane ready' shows (higher priority, then
longer critical path, then smaller id), except that tasks assigned to NAME (pending, owner NAME)
come first; tasks assigned to someone else are never taken unless named. A task another
claimer is taking at that moment is skipped for the next one. With ID, that task or an error.
Two claimers never get the same task. Keep the lease alive with 'tasklane heartbeat'; a task
whose lease ran out shows as expired and any claimer may take it.

Options:
  --owner NAME        who claims (default: $TASKLANE_OWNER, else user@host)
  --lease DURATION    lease length: seconds, or 90s, 15m, 2h (default 60)

Exit codes: 3 when nothing is ready to claim; 4 when the named task is held by someone else,
blocked, completed or failed.

Examples:
  tasklane claim --owner w1 --json
  tasklane claim 4 --owner w1 --lease 10m
  id=$(tasklane claim --owner w1 --json | jq -r .task.id)

JSON (--json): {"task": TASK, "token": TOKEN, "expiresAt": ISO-TIME}; nothing to claim:
{"task": null} with exit code 3.`,

  async run(io) {
    const ctx = context(io, 'claim', { owner: { type: 'string' }, lease: { type: 'string' } });
    ctx.args.expectPositionals(0, 1, '');
    const owner = ctx.args.string('owner') ?? defaultOwner(io);
    const lease = ctx.args.seconds('lease');
    const taskId = ctx.args.positionals[0];
    const store = ctx.store();
    const claim = await store.claim({
      owner,
      ...(taskId === undefined ? {} : { taskId }),
      ...(lease === undefined ? {} : { leaseMs: lease * 1000 }),
    });
    if (claim === null) {
      if (ctx.json) printJson(io, { task: null });
      else println(io, 'Nothing to claim: no task is ready.');
      return EXIT.NOTHING_TO_CLAIM;
    }
    const { task } = await singleTaskJson(store, claim.task);
    if (ctx.json) {
      printJson(io, { task, token: claim.token, expiresAt: claim.expiresAt });
      return EXIT.OK;
    }
    println(io, `Claimed ${taskLine(task, task.state, ctx.p)} as ${ctx.p.bold(oneLine(owner))}`);
    println(io, `  lease until ${claim.expiresAt}; token ${claim.token}`);
    println(
      io,
      ctx.p.dim(
        oneLine(`  next: tasklane heartbeat ${task.id} --owner ${owner}  |  tasklane done ${task.id} --owner ${owner}`),
      ),
    );
    return EXIT.OK;
  },
};
