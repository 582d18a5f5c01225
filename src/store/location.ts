import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { listDirName, TasklaneError } from '../model/index.js';
import { formatStoreDescriptor, parseStoreDescriptor, redactUrl, type StoreDescriptor } from './descriptor.js';
import { postgresArtifactsDir } from './postgres/artifacts.js';

// Where lists live and which list is meant, resolved the same way by every surface.
//
// The store, first that is given: --store or --dir (one of them; --dir DIR is --store DIR),
// TASKLANE_STORE, TASKLANE_DIR, the nearest `tasklane init` project (.tasklane/tasks found by
// walking up), Claude Code's own root ($CLAUDE_CONFIG_DIR/tasks, ~/.claude/tasks).
// The list: --list, TASKLANE_LIST, CLAUDE_CODE_TASK_LIST_ID, "default".

export const PROJECT_DIR = '.tasklane';
export const DEFAULT_LIST = 'default';
/**
 * Tasklane's own directory inside a root, beside the list directories: `<root>/.tasklane/<list>/`
 * holds a list's journal and its run artifacts. Never a list itself (its name starts with a dot).
 */
export const STATE_DIR = '.tasklane';

export interface LocationInput {
  /** --store: a store descriptor (a directory path or file:// URL; see descriptor.ts). */
  store?: string;
  /** --dir: a directory, the older spelling of --store. Giving both is a usage error. */
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
  rootSource: 'flag' | 'TASKLANE_STORE' | 'TASKLANE_DIR' | 'project' | 'claude';
  /** The store descriptor that opens this same store from any process (with the list): the absolute root. */
  descriptor: string;
  list: string;
  listSource: 'flag' | 'TASKLANE_LIST' | 'CLAUDE_CODE_TASK_LIST_ID' | 'default';
  /** The list's directory: root/<sanitized list id>. */
  listDir: string;
  /**
   * Where runs of this list keep their artifacts (logs/, results/, the agents' bin/):
   * root/.tasklane/<sanitized list id>, beside the journal. `tasklane init` ignores it in git.
   */
  artifactsDir: string;
  /** The directory holding `.tasklane` when the root is a `tasklane init` project's: plan paths are relative to it. */
  projectDir?: string;
  /**
   * A PostgreSQL store's URL as given (postgres://…); root and listDir then hold it with the
   * password masked, for messages, and artifactsDir a local directory (postgres/artifacts.ts).
   */
  database?: string;
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

  if (nonEmpty(input.store) && nonEmpty(input.dir)) {
    throw new TasklaneError(
      'USAGE',
      '--store and --dir cannot be used together (--dir DIR is the same as --store DIR); give one',
      { field: '--store' },
    );
  }
  let root: string;
  let rootSource: Location['rootSource'];
  let projectDir: string | undefined;
  let database: string | undefined;
  const fromFile = (text: string, where: string): string => {
    const d: StoreDescriptor = parseStoreDescriptor(text, cwd, where);
    if (d.kind === 'file') return d.root;
    database = d.url;
    return redactUrl(d.url);
  };
  if (nonEmpty(input.store)) [root, rootSource] = [fromFile(input.store, '--store'), 'flag'];
  else if (nonEmpty(input.dir)) [root, rootSource] = [resolve(cwd, input.dir), 'flag'];
  else if (nonEmpty(env.TASKLANE_STORE))
    [root, rootSource] = [fromFile(env.TASKLANE_STORE, 'TASKLANE_STORE'), 'TASKLANE_STORE'];
  else if (nonEmpty(env.TASKLANE_DIR)) [root, rootSource] = [resolve(cwd, env.TASKLANE_DIR), 'TASKLANE_DIR'];
  else {
    const project = findProjectRoot(cwd);
    if (project !== undefined) [root, rootSource] = [project, 'project'];
    else [root, rootSource] = [claudeTasksRoot(env), 'claude'];
  }
  // A project's root however it was named (found, or handed to an agent as TASKLANE_STORE).
  if (basename(root) === 'tasks' && basename(dirname(root)) === PROJECT_DIR) projectDir = dirname(dirname(root));

  let list: string;
  let listSource: Location['listSource'];
  if (nonEmpty(input.list)) [list, listSource] = [input.list, 'flag'];
  else if (nonEmpty(env.TASKLANE_LIST)) [list, listSource] = [env.TASKLANE_LIST, 'TASKLANE_LIST'];
  else if (nonEmpty(env.CLAUDE_CODE_TASK_LIST_ID))
    [list, listSource] = [env.CLAUDE_CODE_TASK_LIST_ID, 'CLAUDE_CODE_TASK_LIST_ID'];
  else [list, listSource] = [DEFAULT_LIST, 'default'];

  const name = listDirName(list);
  if (database !== undefined) {
    return {
      root,
      rootSource,
      descriptor: database,
      list,
      listSource,
      listDir: `${root} list ${JSON.stringify(list)}`,
      artifactsDir: postgresArtifactsDir(database, list, env),
      database,
    };
  }
  return {
    root,
    rootSource,
    descriptor: formatStoreDescriptor({ kind: 'file', root }),
    list,
    listSource,
    listDir: join(root, name),
    artifactsDir: join(root, STATE_DIR, name),
    ...(projectDir === undefined ? {} : { projectDir }),
  };
}
