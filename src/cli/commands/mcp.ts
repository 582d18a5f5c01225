import { hostname } from 'node:os';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { Command } from '../registry.js';
import { packageVersion } from '../version.js';

export const command: Command = {
  summary: 'Serve the list to any agent over MCP (stdio)',
  help: `Usage: tasklane mcp [--dir DIR] [--list ID]

Runs an MCP server on stdin/stdout for one list, for Claude Code, Codex, Cursor, Gemini CLI or
any MCP client. The list is chosen as for every command: --list, else TASKLANE_LIST, else
CLAUDE_CODE_TASK_LIST_ID, else "default"; the directory by --dir, else TASKLANE_DIR, else the
nearest 'tasklane init' project, else ~/.claude/tasks.

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
    const closed = new Promise<void>((resolve) => {
      let stopping = false;
      // However it ends (stdin closed, a signal, the transport closing itself), it ends whole:
      // the feed stopped and stdin let go, so the process exits rather than stay alive and deaf.
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        process.stdin.unpipe(input);
        process.stdin.pause();
        mcp.close().finally(resolve);
      };
      process.stdin.once('end', stop);
      process.stdin.once('close', stop);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      transport.onclose = stop;
    });
    await mcp.server.connect(transport);
    io.stderr.write(`tasklane mcp: serving list ${store.listId} (${store.location}) as ${owner}\n`);
    await closed;
    return EXIT.OK;
  },
};
