import { blockedSet, indexTasks } from '../../model/graph.js';
import { compareIds } from '../../model/ids.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printListing } from '../listing.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: 'Tasks waiting on others, with what they wait on',
  help: `Usage: tasklane blocked

Lists the pending tasks that have at least one blocker not yet completed, with those open
blockers in the BLOCKED BY column. A blocker that no longer exists does not block.

Examples:
  tasklane blocked
  tasklane blocked --json | jq '.tasks[] | {id, openBlockers}'

JSON (--json): {"list": ID, "tasks": [TASK + {"openBlockers": [ID, ...]}, ...]}.`,

  async run(io) {
    const ctx = context(io, 'blocked', {});
    ctx.args.expectPositionals(0, 0, '');
    const byId = indexTasks(await ctx.store().list());
    const entries = blockedSet(byId).sort((x, y) => compareIds(x.task.id, y.task.id));
    const open = new Map(entries.map((e) => [e.task.id, e.blockers]));
    printListing(
      ctx,
      entries.map((e) => e.task),
      byId,
      { empty: 'Nothing is blocked.', extra: (t) => ({ openBlockers: open.get(t.id) ?? [] }) },
    );
    return EXIT.OK;
  },
};
