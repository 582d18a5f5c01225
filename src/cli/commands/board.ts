import { usageError } from '../args.js';
import { context, defaultOwner } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { inert } from '../inert-text.js';
import { openBrowser, wantsBrowser } from '../open-browser.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { packageVersion } from '../version.js';

export const command: Command = {
  summary: 'Serve a live web board and JSON API over the store',
  help: `Usage: tasklane board [--port N] [--host H] [--no-open] [--store STORE] [--list ID] [--json]

Serves the board: a web app showing every list of the store live (columns by state, the
dependency graph with its critical path, each task's history and agent log), the JSON API it
uses, and a stream of changes (server-sent events). Changes made anywhere (this CLI, other
machines on a shared store, Claude Code's own writes, agents) show within a second. Runs until
Ctrl-C, SIGTERM or SIGHUP, then ends every stream and exits 0. The API and security model: docs/board.md.

Writes made from the board are made as $TASKLANE_OWNER, else user@host: a task that owner
claimed moves freely, one another holder has claimed moves only with an explicit override.

Options:
  --port N       the port (default 4800; 0 = any free port)
  --host H       the address to bind (default 127.0.0.1). Any address other than loopback
                 needs a token: the URL printed carries it once (?token=...); opening it sets
                 a cookie, and every request without it is refused (401)
  --no-open      do not open a browser (it is never opened when stdout is not a terminal or
                 CI is set)

Examples:
  tasklane board
  tasklane board --list backend --port 0 --no-open
  tasklane board --host 0.0.0.0       # reachable from the network, with a token

Output: the URL, on one line. JSON (--json): {"url": URL, "port": N}, one line.
Exit codes: 0 when stopped by a signal; 2 when the port is in use or the host cannot be bound.`,

  async run(io) {
    // Loaded here, so no other command loads the HTTP server, Hono or dagre.
    const loading = import('../../http/server.js');
    const ctx = context(io, 'board', {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-open': { type: 'boolean' },
    });
    ctx.args.expectPositionals(0, 0, '');
    const { startBoard, DEFAULT_HOST, DEFAULT_PORT } = await loading;
    const port = ctx.args.int('port', { min: 0 }) ?? DEFAULT_PORT;
    if (port > 65535) throw usageError(`--port ${port}: a port is 0 to 65535 (0 = any free port)`, '--port');
    const host = ctx.args.string('host') ?? DEFAULT_HOST;
    const store = ctx.store();
    const board = await startBoard({
      store,
      host,
      port,
      actor: defaultOwner(io),
      version: packageVersion(),
      onWarning: (message) => io.stderr.write(`tasklane: warning: ${inert(message)}\n`),
    });
    if (ctx.json) printJson(io, { url: board.url, port: board.port });
    else println(io, board.url);
    if (wantsBrowser(io, ctx.args.flag('no-open'))) openBrowser(io, board.url, 'tasklane board');

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve(s));
    });
    if (!ctx.json) io.stderr.write(`tasklane board: ${signal}, stopping\n`);
    await board.close();
    await store.close();
    return EXIT.OK;
  },
};
