import { STATUSES, TASK_STATES, type Task, type TaskState } from '../../model/task.js';
import type { ListFilter } from '../../store/types.js';
import { usageError } from '../args.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printListing } from '../listing.js';
import { oneLine } from '../output.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: 'List tasks (open ones by default), with filters',
  help: `Usage: tasklane list [--status S] [--state S] [--owner NAME] [--label L] [--all]

Lists the tasks of the list in id order as a table: ID, STATE, PRI(ority), OWNER, SUBJECT and
the open blockers. Completed tasks are left out unless --all is given or a --status/--state
filter asks for them.

Options:
  --status S[,S...]   pending, in_progress, completed (as Claude Code stores it)
  --state S[,S...]    ready, expired, blocked, assigned, in_progress, failed, completed
                      (derived; expired: in_progress on a lease that ran out, claimable)
  --owner NAME        only tasks owned by NAME
  --label L           only tasks with label L
  --all               include completed tasks

Examples:
  tasklane list
  tasklane list --all --json
  tasklane list --state failed,blocked --label backend

JSON (--json): {"list": ID, "tasks": [TASK, ...], "hiddenCompleted": N}, each task the stored
task plus "state"; "hiddenCompleted" counts the completed tasks left out (0 with --all).`,

  async run(io) {
    const ctx = context(io, 'list', {
      status: { type: 'string', multiple: true },
      state: { type: 'string', multiple: true },
      owner: { type: 'string' },
      label: { type: 'string', multiple: true },
      all: { type: 'boolean' },
    });
    const a = ctx.args;
    a.expectPositionals(0, 0, '');
    const statuses = new Set<string>(a.choices('status', STATUSES));
    const states = new Set<string>(a.choices('state', TASK_STATES));
    const owner = a.string('owner');
    // One label: the filter takes one, and keeping the last of several would filter on it alone.
    const labels = a.all('label');
    if (new Set(labels).size > 1) {
      throw usageError(`--label takes one label; got ${labels.map((l) => JSON.stringify(l)).join(', ')}`, '--label');
    }
    const label = labels[0];
    const hideCompleted = !a.flag('all') && statuses.size === 0 && states.size === 0;

    const store = ctx.store();
    // States are judged against the store's index: an unreadable blocker still blocks, in the
    // STATE column as in the --state filter.
    const { tasks: all, judgedBy } = await store.listView();
    // The store filters (one rule for states, in the model); only hiding completed tasks is ours.
    const filter: ListFilter = {
      ...(statuses.size > 0 ? { status: [...statuses] as Task['status'][] } : {}),
      ...(states.size > 0 ? { state: [...states] as TaskState[] } : {}),
      ...(owner === undefined ? {} : { owner }),
      ...(label === undefined ? {} : { label }),
    };
    const matching = Object.keys(filter).length === 0 ? all : await store.list(filter);
    const shown = hideCompleted ? matching.filter((t) => t.status !== 'completed') : matching;
    const hidden = matching.length - shown.length;
    printListing(ctx, shown, judgedBy, {
      empty:
        all.length === 0
          ? `No tasks in list ${JSON.stringify(store.listId)} (${oneLine(store.location)}).`
          : 'No tasks match.',
      ...(hidden > 0 ? { footer: `${hidden} completed not shown (--all shows them)` } : {}),
      json: { hiddenCompleted: hidden },
    });
    return EXIT.OK;
  },
};
