import { mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { claudeTasksRoot } from '../store/location.js';

// How a Claude Code agent reaches the run's list whatever the store: Tasklane's own MCP server
// (`tasklane mcp --store S --list L`), named in a config file given to Claude Code with
// --mcp-config, its list tools allowed with --allowedTools. Claude Code's built-in task tools
// reach only lists under its own root ($CLAUDE_CONFIG_DIR/tasks), so CLAUDE_CODE_TASK_LIST_ID
// is given only for a list that lives there; anywhere else it would send them to a list of the
// same name in ~/.claude/tasks that the run never reads.

/** The server's name in the config: Claude Code names its tools mcp__tasklane__TaskCreate and so on. */
export const MCP_SERVER_NAME = 'tasklane';

/**
 * The tools an agent may call without being asked (--allowedTools): reading the list and adding
 * or ordering subtasks. TaskClaim, TaskComplete and TaskFail are left out: the run hands out and
 * closes tasks, and an agent claiming another task would hold it for the server's 30-minute lease.
 */
export const AGENT_LIST_TOOLS = ['TaskCreate', 'TaskGet', 'TaskUpdate', 'TaskList', 'TaskReady', 'TaskWait'] as const;

/** A tool's name as Claude Code shows it to the model: mcp__SERVER__TOOL. */
export function mcpToolName(tool: string): string {
  return `mcp__${MCP_SERVER_NAME}__${tool}`;
}

/** What the config's server runs: this very Tasklane, for this store and list. */
export interface ListServer {
  /** The words that start Tasklane: e.g. [process.execPath, "/path/to/dist/bundle/main.js"]. */
  tasklane: string[];
  /** The store descriptor (TaskStore.descriptor). */
  store: string;
  list: string;
}

/** The --mcp-config document: one stdio server, `tasklane mcp --store S --list L`. */
export function mcpConfig(server: ListServer): { mcpServers: Record<string, unknown> } {
  const [command, ...args] = server.tasklane;
  return {
    mcpServers: {
      [MCP_SERVER_NAME]: {
        type: 'stdio',
        command,
        args: [...args, 'mcp', '--store', server.store, '--list', server.list],
      },
    },
  };
}

/**
 * Writes the config as <dir>/claude-mcp.json (atomically, readable by its owner only: a store
 * descriptor may hold credentials) and returns its path. One file serves every agent of a run.
 */
export function writeMcpConfig(dir: string, server: ListServer): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'claude-mcp.json');
  const tmp = join(dir, `.claude-mcp.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(mcpConfig(server), null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/**
 * Whether Claude Code's built-in task tools, started with this environment, would see the list:
 * the store is a directory and it is Claude Code's own root ($CLAUDE_CONFIG_DIR/tasks, else
 * ~/.claude/tasks), compared after symbolic links are resolved.
 */
export function listInClaudeRoot(storeDescriptor: string, env: NodeJS.ProcessEnv): boolean {
  if (!isAbsolute(storeDescriptor)) return false; // a URL (a database): never Claude Code's files
  return samePath(storeDescriptor, claudeTasksRoot(env));
}

function samePath(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}
