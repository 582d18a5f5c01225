import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ToolContext } from '../context.js';
import { listLine, text } from '../format.js';

// Claude Code's TaskList: one line a task; tasks marked metadata._internal are hidden, as there.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskList',
    { description: 'List all tasks: id, status, subject, owner, open blockers.', inputSchema: {} },
    async () => {
      const tasks = await ctx.store.list();
      const byId = new Map(tasks.map((t) => [t.id, t]));
      const shown = tasks.filter((t) => !t.metadata?._internal);
      if (shown.length === 0) return text('No tasks found');
      return text(shown.map((t) => listLine(t, byId)).join('\n'));
    },
  );
}
