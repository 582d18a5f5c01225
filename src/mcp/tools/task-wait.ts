import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { UNTIL, waitForTasks } from '../../store/wait.js';
import type { ToolContext } from '../context.js';
import { text } from '../format.js';

/** Under the 60 s request timeout most MCP clients use; the agent calls again to keep waiting. */
const DEFAULT_WAIT_SECONDS = 50;

// Blocks on the change feed until the tasks reach the state: no polling by the agent.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskWait',
    {
      description: `Wait until tasks are completed (default), ready (unblocked), or any one of them finishes. Returns early if one fails or is deleted; gives up after timeoutSeconds (default ${DEFAULT_WAIT_SECONDS}).`,
      inputSchema: {
        taskIds: z.array(z.string()).min(1),
        until: z.enum(UNTIL).optional(),
        timeoutSeconds: z.number().positive().max(3600).optional(),
      },
    },
    async ({ taskIds, until = 'completed', timeoutSeconds = DEFAULT_WAIT_SECONDS }, extra) => {
      const ids = taskIds.map((id) => (id.startsWith('#') ? id.slice(1) : id));
      const r = await waitForTasks(ctx.store, ids, until, { timeoutMs: timeoutSeconds * 1000, signal: extra.signal });
      const head = r.reached ? `Reached: ${until}.` : `Not reached (${until}): ${r.reason}.`;
      const lines = r.tasks.map((t, i) => `#${t.id} [${r.states[i]}] ${t.subject}`);
      return text([head, ...lines].join('\n'));
    },
  );
}
