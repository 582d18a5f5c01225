import type { TaskState } from '../../model/task.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { oneLine, paintState, printJson, println } from '../output.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: 'Counts by state, status and owner',
  help: `Usage: tasklane stats

Counts the tasks of the list by derived state, by stored status, and open tasks by owner.

Examples:
  tasklane stats
  tasklane stats --json | jq .byState.ready

JSON (--json): {"list": ID, "total": N, "byState": {"ready": N, "expired": N, "blocked": N, "assigned": N,
"in_progress": N, "failed": N, "completed": N}, "byStatus": {"pending": N, "in_progress": N,
"completed": N}, "owners": {NAME: N, ...}}`,

  async run(io) {
    const ctx = context(io, 'stats', {});
    ctx.args.expectPositionals(0, 0, '');
    const store = ctx.store();
    const stats = await store.stats();
    if (ctx.json) {
      printJson(io, stats);
      return EXIT.OK;
    }
    const p = ctx.p;
    println(
      io,
      `${p.bold(`List ${oneLine(JSON.stringify(stats.list))}`)}: ${stats.total} tasks (${oneLine(store.location)})`,
    );
    const states = Object.entries(stats.byState) as [TaskState, number][];
    println(io, `  ${states.map(([s, n]) => `${paintState(p, s)(s)} ${n}`).join('   ')}`);
    const owners = Object.entries(stats.owners);
    if (owners.length > 0) println(io, `  owners: ${owners.map(([o, n]) => `${oneLine(o)} (${n})`).join(', ')}`);
    return EXIT.OK;
  },
};
