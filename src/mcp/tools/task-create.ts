import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { text } from '../format.js';

// Claude Code's TaskCreate: same name, same input.
export function register(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'TaskCreate',
    {
      description: 'Create a pending task. Add dependencies with TaskUpdate addBlockedBy/addBlocks.',
      inputSchema: {
        subject: z.string().describe('Short imperative title'),
        description: z.string().describe('What to do, in full'),
        activeForm: z.string().optional().describe('Shown while in progress, e.g. "Writing tests"'),
        metadata: z.record(z.string(), z.unknown()).optional(),
      },
    },
    async ({ subject, description, activeForm, metadata }) => {
      const task = await ctx.store.create({
        subject,
        description,
        ...(activeForm === undefined ? {} : { activeForm }),
        ...(metadata === undefined ? {} : { metadata }),
      });
      return text(`Task #${task.id} created successfully: ${task.subject}`);
    },
  );
}
