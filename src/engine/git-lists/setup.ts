import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TasklaneError } from '../../model/index.js';
import { writeFileDurable } from '../../store/file/durable.js';
import { PROJECT_DIR } from '../../store/location.js';

// `tasklane git setup`: makes git merge a project's task files with Tasklane's driver. Two halves,
// because git keeps them apart: the attribute that names the driver for the task files is
// committed (.tasklane/.gitattributes, beside init's .gitignore, so every clone has it), while
// the driver's command lives in each clone's own config (.git/config), which a clone never
// receives: a fresh clone merges task files as plain text until setup runs there. Hosted merge
// buttons (GitHub, GitLab) run no custom driver at all. `checkGitSetup` is doctor's look at both.

/** The line setup writes in .tasklane/.gitattributes. */
export const ATTRIBUTE_LINE = '/tasks/**/*.json merge=tasklane';
const ATTRIBUTES_HEADER =
  '# Written by tasklane git setup: task files merge with `tasklane git merge-driver` (docs/git.md).';
export const DRIVER_NAME = 'Tasklane task files (tasklane git setup)';

/** The repository's top directory holding `dir`, or undefined when `dir` is not in a git work tree. */
export function repositoryOf(dir: string): string | undefined {
  const r = spawnSync('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { encoding: 'utf8', env: gitEnv() });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The driver's own program, beside this module in the compiled tree and in the bundle. */
export const DRIVER_PROGRAM = fileURLToPath(new URL('./git-merge-driver.js', import.meta.url));

/**
 * The command git runs for a conflicting task file: this Node and the driver's program by
 * absolute path (shell-quoted; git runs it with sh), so it works from GUIs and hooks whose PATH
 * lacks tasklane. The program is git-merge-driver.js (what `tasklane git merge-driver` runs,
 * without the CLI's start-up: git starts one per file).
 */
export function driverCommand(program: string = DRIVER_PROGRAM, node: string = process.execPath): string {
  let script = program;
  try {
    script = realpathSync(program);
  } catch {}
  return `${driverWord(node)} ${driverWord(script)} %O %A %B %P`;
}

export interface SetupResult {
  repository: string;
  attributesFile: string;
  /** What changed: the attribute line written, the driver configured (or changed). */
  wroteAttributes: boolean;
  configuredDriver: boolean;
  driver: string;
}

/** Registers the driver for the project at `projectDir` (the directory holding .tasklane). Idempotent. */
export function setupGit(projectDir: string, command: string = driverCommand()): SetupResult {
  const repository = repositoryOf(projectDir);
  if (repository === undefined) {
    throw new TasklaneError('USAGE', `${projectDir} is not inside a git work tree: git init (or clone) first`, {
      file: projectDir,
    });
  }
  const attributesFile = join(projectDir, PROJECT_DIR, '.gitattributes');
  let text = '';
  try {
    text = readFileSync(attributesFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const wroteAttributes = !text.split('\n').some((l) => l.trim() === ATTRIBUTE_LINE);
  if (wroteAttributes) {
    const head = text === '' ? `${ATTRIBUTES_HEADER}\n` : text.endsWith('\n') ? '' : '\n';
    writeFileDurable(attributesFile, `${text}${head}${ATTRIBUTE_LINE}\n`);
  }
  const current = gitConfig(projectDir, 'merge.tasklane.driver');
  const configuredDriver = current !== command;
  if (configuredDriver) {
    setConfig(projectDir, 'merge.tasklane.name', DRIVER_NAME);
    setConfig(projectDir, 'merge.tasklane.driver', command);
  }
  return { repository, attributesFile, wroteAttributes, configuredDriver, driver: command };
}

export interface GitSetupCheck {
  repository: string;
  /** What is wrong, each with what to do; empty when merges will use the driver. */
  problems: string[];
}

/** Doctor's look: undefined outside git; else what keeps this clone from merging task files with the driver. */
export function checkGitSetup(projectDir: string, listDir: string): GitSetupCheck | undefined {
  const repository = repositoryOf(projectDir);
  if (repository === undefined) return undefined;
  const problems: string[] = [];
  const probe = relative(projectDir, join(listDir, 'x.json'));
  const attr = spawnSync('git', ['-C', projectDir, 'check-attr', 'merge', '--', probe], {
    encoding: 'utf8',
    env: gitEnv(),
  });
  if (!/: merge: tasklane\s*$/.test(attr.stdout ?? '')) {
    problems.push(
      `git does not mark the task files for the tasklane merge driver (no "${ATTRIBUTE_LINE}" in ${join(PROJECT_DIR, '.gitattributes')})`,
    );
  }
  const driver = gitConfig(projectDir, 'merge.tasklane.driver');
  if (driver === undefined) {
    problems.push(
      'this clone has no merge.tasklane.driver in its git config (a fresh clone never has it): merges would fall back to line-by-line text merges of task files',
    );
  } else {
    const missing = quotedPaths(driver).find((p) => !existsSync(p));
    if (missing !== undefined) problems.push(`merge.tasklane.driver runs ${missing}, which no longer exists`);
  }
  return { repository, problems };
}

function gitConfig(cwd: string, key: string): string | undefined {
  const r = spawnSync('git', ['-C', cwd, 'config', '--get', key], { encoding: 'utf8', env: gitEnv() });
  return r.status === 0 ? r.stdout.replace(/\n$/, '') : undefined;
}

function setConfig(cwd: string, key: string, value: string): void {
  const r = spawnSync('git', ['-C', cwd, 'config', '--local', key, value], { encoding: 'utf8', env: gitEnv() });
  if (r.status !== 0) {
    throw new TasklaneError('IO', `git config ${key} failed in ${cwd}: ${(r.stderr || r.stdout || '').trim()}`);
  }
}

function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A path as a word of the driver's command: shell-quoted, and each `%` doubled, since git
 * replaces %O, %A, %B, %P, %L, %S, %X, %Y and %% in the whole string before sh sees it, quotes
 * or not (an install under /opt/50%Off/ would otherwise reach sh mangled).
 */
function driverWord(path: string): string {
  return shellQuote(path).replace(/%/g, '%%');
}

/** The single-quoted words of a command, as setup writes them (the paths, their `%%` undone). */
function quotedPaths(command: string): string[] {
  return [...command.matchAll(/'((?:[^']|'\\'')*)'/g)].map((m) =>
    (m[1] as string).replace(/'\\''/g, "'").replace(/%%/g, '%'),
  );
}
