import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { holderFor, type ToolContext } from '../context.js';
import { text } from '../format.js';

// Records a failure with its reason; the task stays out of the ready set until retried.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskFail',
    {
      description:
        'Mark a task you hold as failed, with the reason. It is not handed out again until retried (tasklane retry).',
      inputSchema: {
        taskId: z.string(),
        reason: z.string(),
        owner: z.string().optional(),
        token: z.string().optional(),
      },
    },
    async ({ taskId, reason, owner, token }) => {
      const before = await ctx.store.get(taskId);
      const task = await ctx.store.fail(before.id, { ...holderFor(ctx, before, owner, token), reason });
      return text(`Task #${task.id} marked failed: ${reason}`);
    },
  );
}
