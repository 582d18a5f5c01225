import { indexTasks } from '../../model/graph.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printListing } from '../listing.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: 'Tasks that can start now, best first',
  help: `Usage: tasklane ready

Lists the tasks anyone may claim now, in the order 'tasklane claim' takes them: ready tasks
(pending, unowned, not failed, every blocker completed) and expired ones (in_progress on a lease
that ran out), higher priority first, then the longer critical path (the chain of work waiting
on the task), then the smaller id. 'tasklane claim --owner NAME' takes the tasks assigned to
NAME before these.

Examples:
  tasklane ready
  tasklane ready --json | jq -r '.tasks[].id'

JSON (--json): {"list": ID, "tasks": [TASK, ...]}, each the stored task plus "state".`,

  async run(io) {
    const ctx = context(io, 'ready', {});
    ctx.args.expectPositionals(0, 0, '');
    const store = ctx.store();
    const ready = await store.ready();
    const byId = indexTasks(await store.list());
    printListing(ctx, ready, byId, { empty: 'Nothing is ready.' });
    return EXIT.OK;
  },
};
