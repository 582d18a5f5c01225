import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { priorityOf } from '../../model/task.js';
import type { ToolContext } from '../context.js';
import { text } from '../format.js';

// What anyone may claim now (ready, and expired leases) in the order TaskClaim takes it:
// priority, then critical path, then id.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskReady',
    {
      description:
        'List the tasks that can start now (unblocked and unowned, or held on an expired lease), best first, in the order TaskClaim takes them.',
      inputSchema: {},
    },
    async () => {
      const ready = await ctx.store.ready();
      if (ready.length === 0) return text('No task is ready.');
      const line = (t: (typeof ready)[number]): string => {
        const p = priorityOf(t);
        return `#${t.id} ${t.subject}${p === 0 ? '' : ` (priority ${p})`}`;
      };
      return text(ready.map(line).join('\n'));
    },
  );
}
