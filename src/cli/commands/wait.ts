import { UNTIL, type Until, waitForTasks } from '../../store/wait.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Block until tasks complete or become ready, without polling',
  help: `Usage: tasklane wait ID... [--until completed|ready|any] [--timeout DURATION]

Waits on the change feed (no polling loop) until the tasks reach the state, prints them and
exits 0.
  --until completed   every task is completed (default)
  --until ready       every task can start: none is blocked any more (ready, or already taken
                      or finished)
  --until any         the first of the tasks to finish: exit 0 when it completed, 1 when it failed
  --timeout DURATION  give up after this long: seconds, or 90s, 15m, 2h (default: wait forever)

It stops early with exit code 1 when a task it waits on fails or is deleted: the state can then
not be reached without someone's help (tasklane retry, tasklane restore).

Exit codes: 0 reached; 1 a task failed, was deleted or does not exist; 5 timed out.

Examples:
  tasklane wait 4 7 && tasklane claim 9
  tasklane wait 12 --until ready --timeout 10m
  tasklane wait 3 4 5 --until any --json | jq -r '.tasks[] | select(.state=="completed") | .id'

JSON (--json): {"reached": BOOL, "until": UNTIL, "reason": TEXT (when not reached),
"tasks": [TASK...]}: each waited task as it was at the end, plus "state".`,

  async run(io) {
    const ctx = context(io, 'wait', { until: { type: 'string' }, timeout: { type: 'string' } });
    ctx.args.expectPositionals(1, Number.POSITIVE_INFINITY, 'ID...');
    const until: Until = ctx.args.choice('until', UNTIL) ?? 'completed';
    const timeout = ctx.args.seconds('timeout');
    const ids = [...new Set(ctx.args.positionals.map((id) => (id.startsWith('#') ? id.slice(1) : id)))];
    const store = ctx.store();

    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let result: Awaited<ReturnType<typeof waitForTasks>>;
    try {
      result = await waitForTasks(store, ids, until, {
        signal: controller.signal,
        ...(timeout === undefined ? {} : { timeoutMs: timeout * 1000 }),
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    const tasks = result.tasks.map((t, i) => ({ ...t, state: result.states[i] as (typeof result.states)[number] }));
    if (ctx.json) {
      printJson(io, {
        reached: result.reached,
        until,
        ...(result.reason === undefined ? {} : { reason: result.reason }),
        tasks,
      });
    } else {
      for (const t of tasks) println(io, taskLine(t, t.state, ctx.p));
      if (!result.reached) {
        const which = ids.map((id) => `#${id}`).join(', ');
        io.stderr.write(`tasklane: ${result.reason} (waiting for ${which} --until ${until})\n`);
      }
    }
    if (result.reached) return EXIT.OK;
    return result.timedOut ? EXIT.TIMEOUT : EXIT.ERROR;
  },
};
