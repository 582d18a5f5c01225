import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { formatDuration } from '../../model/duration.js';
import { isTasklaneError } from '../../model/errors.js';
import { type Task, tasklaneFields } from '../../model/task.js';
import type { Claim } from '../../store/types.js';
import type { ToolContext } from '../context.js';
import { blockerResults, text } from '../format.js';

/** MCP agents rarely heartbeat, so their claims last longer than the store's 60 s default. */
export const MCP_LEASE_SECONDS = 1800;

// Atomic claim: two agents never get the same task, and a blocked task is never handed out.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskClaim',
    {
      description: `Atomically take the best ready task (or taskId) and mark it in_progress for owner. Never returns a task another agent holds or one still blocked. Claiming a task you hold renews its lease (default ${formatDuration(MCP_LEASE_SECONDS * 1000)}).`,
      inputSchema: {
        owner: z.string().optional().describe('Your name; default: this server'),
        taskId: z.string().optional(),
        leaseSeconds: z.number().positive().optional(),
      },
    },
    async ({ owner = ctx.owner, taskId, leaseSeconds = MCP_LEASE_SECONDS }) => {
      const leaseMs = leaseSeconds * 1000;
      let claim: Claim | null;
      try {
        claim = await ctx.store.claim({ owner, leaseMs, ...(taskId === undefined ? {} : { taskId }) });
      } catch (err) {
        if (taskId === undefined || !isTasklaneError(err, 'NOT_CLAIMABLE')) throw err;
        const held = await ctx.store.get(taskId);
        if (held.owner !== owner || tasklaneFields(held).lease === undefined) throw err;
        claim = await ctx.store.heartbeat(held.id, { owner }, leaseMs);
      }
      if (claim === null) return text('Nothing to claim: no task is ready.');
      const task = claim.task;
      const byId = new Map<string, Task>();
      for (const id of task.blockedBy) {
        try {
          byId.set(id, await ctx.store.get(id));
        } catch {}
      }
      const lines = [
        `Claimed task #${task.id}: ${task.subject}`,
        `Owner: ${owner}; lease until ${claim.expiresAt}; token: ${claim.token}`,
        `Description: ${task.description}`,
      ];
      const results = blockerResults(task, byId);
      if (results.length > 0) lines.push('Results of its blockers:', ...results);
      lines.push(`When done: TaskComplete taskId "${task.id}" with a result, or TaskFail with a reason.`);
      return text(lines.join('\n'));
    },
  );
}
