import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { listDirName } from '../model/index.js';

// Where lists live and which list is meant, resolved the same way by every surface.

export const PROJECT_DIR = '.tasklane';
export const DEFAULT_LIST = 'default';

export interface LocationInput {
  /** --dir */
  dir?: string;
  /** --list */
  list?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Location {
  /** The directory that holds one directory per list. */
  root: string;
  /** Where the root came from, for `--help`, `init` and error messages. */
  rootSource: 'flag' | 'TASKLANE_DIR' | 'project' | 'claude';
  list: string;
  listSource: 'flag' | 'TASKLANE_LIST' | 'CLAUDE_CODE_TASK_LIST_ID' | 'default';
  /** The list's directory: root/<sanitized list id>. */
  listDir: string;
}

/** Walks up from cwd looking for a `.tasklane/tasks` directory made by `tasklane init`, as git finds `.git`. */
export function findProjectRoot(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, PROJECT_DIR, 'tasks');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Claude Code's own root: $CLAUDE_CONFIG_DIR/tasks, default ~/.claude/tasks. */
export function claudeTasksRoot(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.CLAUDE_CONFIG_DIR;
  return join(config !== undefined && config !== '' ? config : join(homedir(), '.claude'), 'tasks');
}

export function resolveLocation(input: LocationInput = {}): Location {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const nonEmpty = (v: string | undefined): v is string => v !== undefined && v !== '';

  let root: string;
  let rootSource: Location['rootSource'];
  const project = nonEmpty(input.dir) || nonEmpty(env.TASKLANE_DIR) ? undefined : findProjectRoot(cwd);
  if (nonEmpty(input.dir)) [root, rootSource] = [resolve(cwd, input.dir), 'flag'];
  else if (nonEmpty(env.TASKLANE_DIR)) [root, rootSource] = [resolve(cwd, env.TASKLANE_DIR), 'TASKLANE_DIR'];
  else if (project !== undefined) [root, rootSource] = [project, 'project'];
  else [root, rootSource] = [claudeTasksRoot(env), 'claude'];

  let list: string;
  let listSource: Location['listSource'];
  if (nonEmpty(input.list)) [list, listSource] = [input.list, 'flag'];
  else if (nonEmpty(env.TASKLANE_LIST)) [list, listSource] = [env.TASKLANE_LIST, 'TASKLANE_LIST'];
  else if (nonEmpty(env.CLAUDE_CODE_TASK_LIST_ID))
    [list, listSource] = [env.CLAUDE_CODE_TASK_LIST_ID, 'CLAUDE_CODE_TASK_LIST_ID'];
  else [list, listSource] = [DEFAULT_LIST, 'default'];

  return { root, rootSource, list, listSource, listDir: join(root, listDirName(list)) };
}
