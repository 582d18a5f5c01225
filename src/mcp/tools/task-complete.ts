import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { stateOf } from '../../model/graph.js';
import { holderFor, type ToolContext } from '../context.js';
import { text } from '../format.js';

// Completes a task with its result, checking the caller holds the claim; says what it unblocked.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskComplete',
    {
      description:
        'Mark a task completed with its result (passed on to the tasks it unblocks). Only the holder of a claim may complete it.',
      inputSchema: {
        taskId: z.string(),
        result: z.string().optional().describe('What was done, for whoever continues'),
        owner: z.string().optional(),
        token: z.string().optional(),
      },
    },
    async ({ taskId, result, owner, token }) => {
      const store = ctx.store;
      const before = await store.get(taskId);
      const task = await store.complete(before.id, {
        ...holderFor(ctx, before, owner, token),
        ...(result === undefined ? {} : { result }),
      });
      const after = new Map((await store.list()).map((t) => [t.id, t]));
      const unblocked = task.blocks.flatMap((id) => {
        const t = after.get(id);
        return t !== undefined && stateOf(t, after) === 'ready' ? [t] : [];
      });
      const now =
        unblocked.length > 0 ? `\nNow ready: ${unblocked.map((t) => `#${t.id} ${t.subject}`).join('; ')}` : '';
      return text(`Completed task #${task.id}: ${task.subject}${now}`);
    },
  );
}
