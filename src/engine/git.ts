import { execFile } from 'node:child_process';
import { TasklaneError } from '../model/index.js';

// The few git operations the executor's worktrees need, each one `git` process run with an
// argument vector (never a shell): task ids, subjects and branch names are data. Refs are passed
// in full (refs/heads/...) and paths after `--` where git takes it, so nothing reads as an option.

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git in `cwd`; resolves with the exit code (never rejects for a non-zero one). */
export function gitRun(cwd: string, args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-C', cwd, ...args],
      // Never wait for a terminal prompt or an editor; C messages, so the conflict lines parse the same everywhere.
      {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (err !== null && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new TasklaneError('IO', `cannot run git: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ code: err === null ? 0 : ((err as { code: number }).code ?? 1), stdout, stderr });
      },
    );
  });
}

/** Runs git and returns its stdout; a non-zero exit is an IO error naming the command and git's first line. */
export async function git(cwd: string, args: string[], what?: string): Promise<string> {
  const r = await gitRun(cwd, args);
  if (r.code !== 0) {
    throw new TasklaneError(
      'IO',
      `${what ?? `git ${args[0] ?? ''}`} failed in ${cwd}: ${firstLine(r.stderr || r.stdout)}`,
    );
  }
  return r.stdout;
}

/** The commit a ref or revision names, or undefined when there is none. */
export async function revParse(cwd: string, rev: string): Promise<string | undefined> {
  const r = await gitRun(cwd, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Whether commit `a` is already contained in `b`. */
export async function isAncestor(cwd: string, a: string, b: string): Promise<boolean> {
  const r = await gitRun(cwd, ['merge-base', '--is-ancestor', a, b]);
  if (r.code === 0) return true;
  if (r.code === 1) return false;
  throw new TasklaneError('IO', `git merge-base failed in ${cwd}: ${firstLine(r.stderr)}`);
}

/** Where `a` stands to `b`: the same commit, contained in it, containing it, or neither (one `git merge-base`). */
export async function relation(cwd: string, a: string, b: string): Promise<'same' | 'behind' | 'ahead' | 'apart'> {
  if (a === b) return 'same';
  const r = await gitRun(cwd, ['merge-base', a, b]);
  if (r.code > 1) throw new TasklaneError('IO', `git merge-base failed in ${cwd}: ${firstLine(r.stderr)}`);
  const base = r.stdout.trim();
  return base === a ? 'behind' : base === b ? 'ahead' : 'apart';
}

/** Every branch under `prefix` (e.g. tasklane/work/) with its commit, in one `git for-each-ref`. */
export async function branchTips(cwd: string, prefix: string): Promise<Map<string, string>> {
  const out = await git(
    cwd,
    ['for-each-ref', '--format=%(objectname) %(refname)', `refs/heads/${prefix}`],
    'git for-each-ref',
  );
  const tips = new Map<string, string>();
  for (const line of out.split('\n')) {
    const at = line.indexOf(' refs/heads/');
    if (at > 0) tips.set(line.slice(at + ' refs/heads/'.length), line.slice(0, at));
  }
  return tips;
}

export type TreeMerge = { clean: true; tree: string } | { clean: false; files: string[] };

/** Merges two commits without a checkout (git merge-tree --write-tree, git 2.38+): the tree, or the conflicted files. */
export async function mergeTrees(cwd: string, ours: string, theirs: string): Promise<TreeMerge> {
  const r = await gitRun(cwd, ['merge-tree', '--write-tree', '--name-only', '--no-messages', ours, theirs]);
  const lines = r.stdout.split('\n');
  if (r.code === 0) return { clean: true, tree: (lines[0] ?? '').trim() };
  if (r.code === 1) {
    const files = [];
    for (const line of lines.slice(1)) {
      if (line === '') break;
      files.push(line);
    }
    return { clean: false, files: [...new Set(files)] };
  }
  throw new TasklaneError(
    'IO',
    `git merge-tree failed in ${cwd}: ${firstLine(r.stderr)} (merging commits needs git 2.38 or later)`,
  );
}

/** A commit of `tree` with these parents, by the repository's identity (or Tasklane's when it has none). */
export async function commitTree(cwd: string, tree: string, parents: string[], message: string): Promise<string> {
  const args = [...(await identity(cwd)), 'commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', message];
  return (await git(cwd, args, 'git commit-tree')).trim();
}

const identities = new Map<string, Promise<string[]>>();

/**
 * `-c user.name=… -c user.email=…` when the repository has no identity of its own (a fresh CI
 * machine), so the executor's commits never fail for want of one; nothing when it has one.
 */
export function identity(cwd: string): Promise<string[]> {
  let found = identities.get(cwd);
  if (found === undefined) {
    found = gitRun(cwd, ['var', 'GIT_COMMITTER_IDENT']).then((r) =>
      r.code === 0 ? [] : ['-c', 'user.name=Tasklane', '-c', 'user.email=tasklane@localhost'],
    );
    identities.set(cwd, found);
  }
  return found;
}

/** A commit message line from task text: no control characters, not too long. */
export function messageLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

export function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.slice(0, 300);
}
