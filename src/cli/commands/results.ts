import { renderJson, renderMarkdown } from '../../engine/aggregate.js';
import { lastRunPath, readLastRun } from '../../engine/last-run.js';
import { TasklaneError } from '../../model/index.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { inert, jsonInert } from '../inert-text.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: "Print the last run's aggregated result again",
  help: `Usage: tasklane results [--json]

Prints the aggregated result of the list's last 'tasklane run' again, exactly as the run printed
it on stdout: markdown, or JSON with --json (the same shape as 'tasklane run --json'). Each run
saves it when it ends (interrupted runs too) in the list's run artifacts,
<root>/.tasklane/<list>/last-run.json, replacing the one before; when two runs of one list end,
the later one is kept. A line on stderr says when that run ended.

Exit status: 0 when that run completed every task of it; 1 when it did not, or when the list has
no saved run (the message says so).

Examples:
  tasklane results
  tasklane results --json | jq '.tasks[] | select(.status != "completed") | .id'
  tasklane --list backend results`,

  async run(io) {
    const ctx = context(io, 'results', {});
    ctx.args.expectPositionals(0, 0, '');
    const store = ctx.store();
    try {
      const saved = readLastRun(store.artifactsDir);
      if (saved === undefined) {
        throw new TasklaneError(
          'NOT_FOUND',
          `no run of list "${store.listId}" has been recorded (${lastRunPath(store.artifactsDir)} does not exist); 'tasklane run' saves its result there when it ends`,
          { list: store.listId, file: lastRunPath(store.artifactsDir) },
        );
      }
      io.stderr.write(`tasklane: the last run of list "${inert(store.listId)}", ended ${saved.savedAt}\n`);
      const a = saved.aggregate;
      // As `run` prints it: the markdown holds agents' results, shown on a terminal and never obeyed.
      if (ctx.json) io.stdout.write(jsonInert(renderJson(a)));
      else {
        const text = renderMarkdown(a);
        io.stdout.write(io.stdout.isTTY === true ? inert(text, { multiline: true }) : text);
      }
      return a.ok ? EXIT.OK : EXIT.ERROR;
    } finally {
      await store.close();
    }
  },
};
