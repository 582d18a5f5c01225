import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Task } from '../../model/task.js';
import type { ToolContext } from '../context.js';
import { taskDetail, text } from '../format.js';

// Claude Code's TaskGet.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskGet',
    {
      description: 'Get a task in full: status, owner, description, dependencies, result.',
      inputSchema: { taskId: z.string() },
    },
    async ({ taskId }) => {
      const task = await ctx.store.get(taskId);
      const byId = new Map<string, Task>([[task.id, task]]);
      for (const id of task.blockedBy) {
        try {
          byId.set(id, await ctx.store.get(id));
        } catch {
          // a missing blocker does not block
        }
      }
      return text(taskDetail(task, byId));
    },
  );
}
