import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { UpdateInput } from '../../store/types.js';
import type { ToolContext } from '../context.js';
import { text } from '../format.js';

// Claude Code's TaskUpdate, with its semantics: metadata merged key by key (null deletes a key),
// status "deleted" deletes the task and every reference to it, dependencies kept on both sides.
// Fields and added edges are one store update: all of it is applied, or (an unknown id, a cycle)
// none of it.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskUpdate',
    {
      description:
        'Update a task. status "deleted" deletes it. addBlocks: tasks that wait for this one; addBlockedBy: tasks this one waits for. metadata is merged; a null value deletes a key.',
      inputSchema: {
        taskId: z.string(),
        subject: z.string().optional(),
        description: z.string().optional(),
        activeForm: z.string().optional(),
        status: z.enum(['pending', 'in_progress', 'completed', 'deleted']).optional(),
        addBlocks: z.array(z.string()).optional(),
        addBlockedBy: z.array(z.string()).optional(),
        owner: z.string().optional(),
        metadata: z.record(z.string(), z.unknown()).optional(),
      },
    },
    async (args) => {
      const store = ctx.store;
      const id = (await store.get(args.taskId)).id;
      if (args.status === 'deleted') {
        await store.delete(id);
        return text(`Task #${id} deleted`);
      }
      const patch: UpdateInput = {};
      const changed: string[] = [];
      if (args.subject !== undefined) patch.subject = args.subject;
      if (args.description !== undefined) patch.description = args.description;
      if (args.activeForm !== undefined) patch.activeForm = args.activeForm;
      if (args.status !== undefined) patch.status = args.status;
      // Claude Code clears the owner with an empty string.
      if (args.owner !== undefined) patch.owner = args.owner === '' ? null : args.owner;
      if (args.metadata !== undefined) patch.metadata = args.metadata;
      changed.push(...Object.keys(patch));
      if (args.addBlocks?.length) {
        patch.addBlocks = args.addBlocks;
        changed.push('blocks');
      }
      if (args.addBlockedBy?.length) {
        patch.addBlockedBy = args.addBlockedBy;
        changed.push('blockedBy');
      }
      if (changed.length === 0) return text(`Task #${id}: nothing to update`);
      await store.update(id, patch);
      return text(`Updated task #${id} ${changed.join(', ')}`);
    },
  );
}
