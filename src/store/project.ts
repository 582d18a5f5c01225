import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TasklaneError } from '../model/errors.js';
import { writeFileDurable } from './file/durable.js';
import { type Location, type LocationInput, PROJECT_DIR, resolveLocation, STATE_DIR } from './location.js';

// `tasklane init`: a project-local root, <project>/.tasklane/tasks, found from below by walking
// up. Its .gitignore keeps in git what a team shares, the task files (tasks/<list>/<id>.json and
// .highwatermark, so ids are not reused), and keeps out what is local to one checkout: each list's
// journal and run artifacts (tasks/.tasklane/<list>/: journal.jsonl, logs/, results/, bin/), the
// executor's worktrees, and the locks (with their holder records) and temporary files made while writing.

const IGNORE_HEADER = `# Written by tasklane init. Committed: the task files, tasks/<list>/*.json and .highwatermark.
# Local to this checkout: the journal and run artifacts, worktrees, locks and temporary files.`;

export const PROJECT_IGNORE_RULES = [
  `/tasks/${STATE_DIR}/`,
  '/worktrees/',
  '.lock',
  '*.lock/',
  '.*.lock.holder',
  '.*.tmp-*',
  '*.stale-*',
] as const;

export interface InitResult {
  location: Location;
  /** Whether the list's directory was made now. */
  created: boolean;
  /** The .gitignore written or completed, when the root is a project's. */
  ignoreFile?: string;
}

/**
 * Makes the list's directory: under the store given (--store, --dir) when there is one, else in a
 * new project root <cwd>/.tasklane/tasks with its ignore rules (added to an older file when missing).
 */
export function initList(input: LocationInput & { cwd: string }): InitResult {
  const explicit = [input.store, input.dir].some((v) => v !== undefined && v !== '');
  const projectRoot = join(input.cwd, PROJECT_DIR, 'tasks');
  const location = resolveLocation(explicit ? input : { ...input, dir: projectRoot });
  if (location.database !== undefined) {
    throw new TasklaneError(
      'USAGE',
      'init makes a list directory; a PostgreSQL store needs none (its tables are made on first use): use --store postgres://… with any command',
      { field: '--store' },
    );
  }
  const created = !existsSync(location.listDir);
  mkdirSync(location.listDir, { recursive: true });
  if (explicit) return { location, created };
  const ignoreFile = join(input.cwd, PROJECT_DIR, '.gitignore');
  let text = '';
  try {
    text = readFileSync(ignoreFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const have = new Set(text.split('\n').map((l) => l.trim()));
  const missing = PROJECT_IGNORE_RULES.filter((rule) => !have.has(rule));
  if (missing.length > 0) {
    const head = text === '' ? `${IGNORE_HEADER}\n` : text.endsWith('\n') ? '' : '\n';
    writeFileDurable(ignoreFile, `${text}${head}${missing.join('\n')}\n`);
  }
  return { location: { ...location, projectDir: input.cwd }, created, ignoreFile };
}
