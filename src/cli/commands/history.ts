import type { HistoryQuery } from '../../store/types.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatTable, printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { terminalWidth } from '../task-view.js';

const PAGE = 1000;

export const command: Command = {
  summary: "The list's change history, or one task's",
  help: `Usage: tasklane history [ID] [--limit N]

Prints the journal of changes Tasklane made to the list (created, updated, claimed, released,
completed, failed, retried, deleted, dependency, restored), oldest first, with who made them.
The journal lives outside the list directory, so it survives Claude Code clearing a finished
list. Changes made by Claude Code itself are not in it.

Options:
  --limit N    the last N entries (default 50; 0 for all)

Examples:
  tasklane history
  tasklane history 4 --limit 0 --json

JSON (--json): {"entries": [{"seq", "at", "kind", "taskId", "actor"?, "pid", "task"}, ...]}.`,

  async run(io) {
    const ctx = context(io, 'history', { limit: { type: 'string' } });
    ctx.args.expectPositionals(0, 1, '');
    const limit = ctx.args.int('limit', { min: 0 }) ?? 50;
    const query: HistoryQuery = {};
    const id = ctx.args.positionals[0];
    if (id !== undefined) query.taskId = id;
    if (limit > 0) query.limit = limit;
    const store = ctx.store();
    if (limit === 0 && ctx.json) {
      // Every entry: paged through the store and written as it comes, so memory stays bounded at
      // any journal size. The output is the same document printJson would write.
      const page: HistoryQuery = { ...query, limit: PAGE };
      let after = 0;
      let first = true;
      io.stdout.write('{\n  "entries": [');
      for (;;) {
        const entries = await store.history({ ...page, after });
        for (const e of entries) {
          const text = JSON.stringify(e, null, 2).replace(/\n/g, '\n    ');
          io.stdout.write(`${first ? '' : ','}\n    ${text}`);
          first = false;
        }
        if (entries.length < PAGE) break;
        after = (entries.at(-1) as { seq: number }).seq;
      }
      io.stdout.write(first ? ']\n}\n' : '\n  ]\n}\n');
      return EXIT.OK;
    }
    const entries = await store.history(query);
    if (ctx.json) {
      printJson(io, { entries });
      return EXIT.OK;
    }
    if (entries.length === 0) {
      println(io, 'No history yet.');
      return EXIT.OK;
    }
    const rows = entries.map((e) => [
      String(e.seq),
      e.at,
      e.kind,
      { text: `#${e.taskId}`, paint: ctx.p.bold },
      e.actor ?? '-',
      e.task?.subject ?? '',
    ]);
    println(
      io,
      formatTable(['SEQ', 'AT', 'KIND', 'TASK', 'ACTOR', 'SUBJECT'], rows, {
        p: ctx.p,
        width: terminalWidth(io),
        flex: 5,
      }),
    );
    return EXIT.OK;
  },
};
