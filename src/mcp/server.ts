import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type ZodRawShape, z } from 'zod';
import type { TaskStore } from '../store/types.js';
import type { ToolContext } from './context.js';
import { registerListResource } from './resource.js';
import * as claim from './tools/task-claim.js';
import * as complete from './tools/task-complete.js';
import * as create from './tools/task-create.js';
import * as fail from './tools/task-fail.js';
import * as get from './tools/task-get.js';
import * as list from './tools/task-list.js';
import * as ready from './tools/task-ready.js';
import * as update from './tools/task-update.js';
import * as wait from './tools/task-wait.js';

// The MCP server: Claude Code's four task tools under the same names and inputs, so instructions
// written for Claude Code work with any agent, plus what Claude Code lacks (atomic claim,
// complete with a result, fail with a reason, the ready set, waiting), and the list as a resource.

export interface TasklaneMcp {
  server: McpServer;
  /** Stops the resource's change feed. */
  close(): Promise<void>;
}

export function createMcpServer(store: TaskStore, opts: { owner: string; version: string }): TasklaneMcp {
  const server = new McpServer(
    { name: 'tasklane', version: opts.version },
    {
      instructions: `Task list "${store.listId}", shared with other agents. TaskClaim takes the next ready task atomically; finish with TaskComplete (with a result) or TaskFail.`,
    },
  );
  const ctx: ToolContext = { store, owner: opts.owner };
  const strict = strictInputs(server);
  for (const tool of [create, get, update, list, claim, complete, fail, ready, wait]) tool.register(strict, ctx);
  const stopFeed = registerListResource(server, store);
  return {
    server,
    async close() {
      stopFeed();
      await server.close();
    },
  };
}

/**
 * The server as the tools see it: each tool's input shape becomes a strict object, so a call with
 * a key the tool does not know (a misspelt `addBlockedby`) is refused with an isError result that
 * names the key, as Claude Code's own tools refuse it, instead of being dropped while the rest of
 * the call goes through.
 */
function strictInputs(server: McpServer): McpServer {
  type Register = (name: string, config: { inputSchema?: unknown }, cb: unknown) => unknown;
  const register = server.registerTool.bind(server) as unknown as Register;
  const registerTool: Register = (name, config, cb) =>
    register(name, { ...config, inputSchema: z.strictObject((config.inputSchema ?? {}) as ZodRawShape) }, cb);
  return new Proxy(server, {
    get: (target, key) => (key === 'registerTool' ? registerTool : Reflect.get(target, key)),
  });
}
