import { hostname } from 'node:os';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { oneLine } from '../output.js';
import type { Command } from '../registry.js';
import { packageVersion } from '../version.js';

export const command: Command = {
  summary: 'Serve the list to any agent over MCP (stdio)',
  help: `Usage: tasklane mcp [--store STORE | --dir DIR] [--list ID]

Runs an MCP server on stdin/stdout for one list, for Claude Code, Codex, Cursor, Gemini CLI or
any MCP client. The list is chosen as for every command: --list, else TASKLANE_LIST, else
CLAUDE_CODE_TASK_LIST_ID, else "default"; the store by --store (or --dir), else TASKLANE_STORE,
else TASKLANE_DIR, else the nearest 'tasklane init' project, else ~/.claude/tasks.

Tools: TaskCreate, TaskGet, TaskUpdate, TaskList (Claude Code's own, same names and inputs),
TaskClaim (atomic), TaskComplete, TaskFail, TaskReady, TaskWait.
Resource: tasklane://list/ID, the list as JSON; subscribe to be notified when it changes.
Claims are made as TASKLANE_OWNER when set, else one owner per server process.

Setup for each client: docs/mcp.md. For example:
  claude mcp add tasklane -e TASKLANE_LIST=myproj -- tasklane mcp`,

  async run(io) {
    // Loaded here, not at the top, so only this command pays for the SDK; started first, as it
    // is most of the time to the first answer.
    const loading = Promise.all([
      import('../../mcp/server.js'),
      import('@modelcontextprotocol/sdk/server/stdio.js'),
      import('../../mcp/request-lines.js'),
    ]);
    const ctx = context(io, 'mcp', {});
    ctx.args.expectPositionals(0, 0, '');
    const store = ctx.store();
    const [{ createMcpServer }, { StdioServerTransport }, { MAX_REQUEST_BYTES, RequestLines, refusal }] = await loading;
    const envOwner = io.env.TASKLANE_OWNER;
    const owner = envOwner !== undefined && envOwner !== '' ? envOwner : `mcp-${process.pid}@${hostname()}`;
    const mcp = createMcpServer(store, { owner, version: packageVersion() });
    // Request lines over the limit or not UTF-8 are answered with an error and skipped, so the
    // transport (whose own limit is set above ours) never closes on them.
    const input = new RequestLines(MAX_REQUEST_BYTES, (refused) => {
      transport.send(refusal(refused, MAX_REQUEST_BYTES) as Parameters<typeof transport.send>[0]).catch(() => {});
      io.stderr.write(`tasklane mcp: ${refusal(refused, MAX_REQUEST_BYTES).error.message}\n`);
    });
    const transport = new StdioServerTransport(input, process.stdout, { maxBufferSize: 2 * MAX_REQUEST_BYTES });
    process.stdin.pipe(input);
    // Requests read but not yet answered: when the input ends (a client that pipes its requests
    // and closes stdin), they are answered before the server closes, so no write is done unseen.
    const unanswered = new Set<string | number>();
    let drained: (() => void) | undefined;
    const closed = new Promise<void>((resolve) => {
      let stopping = false;
      // However it ends (stdin closed, a signal, the transport closing itself), it ends whole:
      // the feed stopped and stdin let go, so the process exits rather than stay alive and deaf.
      const stop = (drain: boolean): void => {
        if (stopping) return;
        stopping = true;
        process.stdin.unpipe(input);
        process.stdin.pause();
        const answered = new Promise<void>((done) => {
          drained = done;
          if (!drain || unanswered.size === 0) done();
        });
        // A handler stuck on a lock still ends: at most the lock timeout and a little more.
        const cap = new Promise<void>((done) => setTimeout(done, 35_000).unref());
        void Promise.race([answered, cap]).then(() => mcp.close().finally(resolve));
      };
      // The end of the request lines (after stdin's last line has gone through them), not of stdin.
      input.once('end', () => stop(true));
      process.stdin.once('close', () => setImmediate(() => stop(true)));
      process.once('SIGINT', () => stop(false));
      process.once('SIGTERM', () => stop(false));
      transport.onclose = () => stop(false);
    });
    await mcp.server.connect(transport);
    const receive = transport.onmessage;
    transport.onmessage = (message) => {
      if ('method' in message && 'id' in message) unanswered.add(message.id);
      receive?.(message);
    };
    const send = transport.send.bind(transport);
    transport.send = async (message) => {
      await send(message);
      const id = 'id' in message && !('method' in message) ? message.id : undefined;
      if (id !== undefined && id !== null && unanswered.delete(id)) {
        if (unanswered.size === 0) drained?.();
      }
    };
    io.stderr.write(
      `tasklane mcp: serving list ${oneLine(store.listId)} (${oneLine(store.location)}) as ${oneLine(owner)}\n`,
    );
    await closed;
    return EXIT.OK;
  },
};
