import { formatDuration } from '../../model/duration.js';
import { listDirName } from '../../model/ids.js';
import type { TaskState } from '../../model/task.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { type Cell, formatTable, oneLine, printJson, println } from '../output.js';
import type { Command } from '../registry.js';

const COLUMNS: readonly [TaskState, string][] = [
  ['ready', 'READY'],
  ['in_progress', 'RUNNING'],
  ['expired', 'EXPIRED'],
  ['assigned', 'ASSIGNED'],
  ['blocked', 'BLOCKED'],
  ['failed', 'FAILED'],
  ['completed', 'DONE'],
];

export const command: Command = {
  summary: 'The lists in the store, with counts and last change',
  help: `Usage: tasklane lists

Lists every list in the store (--store/--dir, else as for every command): Tasklane's lists and,
in Claude Code's own root, Claude Code's. For each: its tasks by state and when it last changed.
The current list (--list, TASKLANE_LIST, CLAUDE_CODE_TASK_LIST_ID, else "default") is marked *.
Pick one with --list ID (ids are shown as stored: Claude Code's directory names).

Examples:
  tasklane lists
  tasklane lists --store ~/.claude/tasks
  tasklane lists --json | jq -r '.lists[] | select(.byState.ready > 0) | .id'

JSON (--json): {"store": DESCRIPTOR, "current": ID, "lists": [{"id": ID, "total": N,
"byState": {"ready": N, "expired": N, "blocked": N, "assigned": N, "in_progress": N,
"failed": N, "completed": N}, "lastChange"?: ISO-8601}, ...]}, by id.`,

  async run(io) {
    const ctx = context(io, 'lists', {});
    ctx.args.expectPositionals(0, 0, '');
    const store = ctx.store();
    const lists = await store.lists();
    // The current list as lists() names it: the id as given (PostgreSQL), else its directory name (files).
    const current = lists.some((l) => l.id === store.listId) ? store.listId : listDirName(store.listId);
    if (ctx.json) {
      printJson(io, { store: store.descriptor, current, lists });
      return EXIT.OK;
    }
    if (lists.length === 0) {
      println(io, `No lists in ${oneLine(store.descriptor)} yet. Start one: tasklane create "First task"`);
      return EXIT.OK;
    }
    const p = ctx.p;
    const now = Date.now();
    const rows = lists.map((l): (string | Cell)[] => [
      { text: `${l.id === current ? '*' : ' '} ${l.id}`, ...(l.id === current ? { paint: p.bold } : {}) },
      String(l.total),
      ...COLUMNS.map(([state]) => String(l.byState[state])),
      l.lastChange === undefined
        ? ''
        : `${formatDuration(Math.max(0, (now - Date.parse(l.lastChange)) / 1000) * 1000)} ago`,
    ]);
    const headers = ['  LIST', 'TASKS', ...COLUMNS.map(([, name]) => name), 'CHANGED'];
    println(io, formatTable(headers, rows, { p }));
    println(io, p.dim(`in ${oneLine(store.descriptor)}`));
    return EXIT.OK;
  },
};
