import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, tempDir } from './helpers.js';

// Running the built CLI as a real process in a clean environment: no TASKLANE_* or Claude Code
// variables from the developer's shell, and a throwaway CLAUDE_CONFIG_DIR so ~/.claude is never touched.

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON output, checked field by field by the assertions
export type Json = any;

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  json(): Json;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string | Buffer;
}

const SCRUB = [
  'TASKLANE_STORE',
  'TASKLANE_DIR',
  'TASKLANE_LIST',
  'TASKLANE_OWNER',
  'CLAUDE_CODE_TASK_LIST_ID',
  'CLAUDE_CONFIG_DIR',
  'NO_COLOR',
  'FORCE_COLOR',
];

export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of SCRUB) delete env[key];
  env.CLAUDE_CONFIG_DIR = tempDir('tasklane-claude-');
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function run(args: string[], opts: RunOptions = {}): Run {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: opts.cwd ?? tempDir('tasklane-cwd-'),
    env: cleanEnv(opts.env),
    input: opts.input ?? '',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error !== undefined) throw r.error;
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    json() {
      try {
        return JSON.parse(r.stdout);
      } catch {
        throw new Error(`stdout is not JSON (exit ${r.status}):\n${r.stdout}\nstderr:\n${r.stderr}`);
      }
    },
  };
}

export interface SpawnedRun {
  /** The process's pid (what its journal entries carry). */
  pid: number | undefined;
  status: number | null;
  signal: NodeJS.Signals | null;
  /** From spawn to exit. */
  ms: number;
  stdout: string;
  stderr: string;
}

/**
 * The built CLI as a child process that others can run beside (`run` waits synchronously).
 * `prefix` runs it under another program (strace); `killAfterMs` sends it SIGKILL then.
 */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { prefix?: string[]; killAfterMs?: number } = {},
): Promise<SpawnedRun> {
  const started = Date.now();
  const [cmd, ...rest] = [...(opts.prefix ?? []), process.execPath, cliPath, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd as string, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer =
      opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({ pid: child.pid, status, signal, ms: Date.now() - started, stdout, stderr });
    });
  });
}

/** A CLI bound to a fresh `--dir`, so every test has its own lists. */
export function cliIn(dir = tempDir()): { dir: string; tl: (args: string[], opts?: RunOptions) => Run } {
  return { dir, tl: (args, opts) => run(['--dir', dir, ...args], opts) };
}

/** Asserts-friendly description of a run, for failure messages. */
export function explain(r: Run): string {
  return `exit ${r.status}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;
}

/** Every file and directory under `root` with the files' bytes: to prove a failed command changed nothing. */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const path = join(dir, name);
      const key = rel === '' ? name : `${rel}/${name}`;
      if (statSync(path).isDirectory()) {
        out[`${key}/`] = 'dir';
        walk(path, key);
      } else {
        out[key] = readFileSync(path).toString('base64');
      }
    }
  };
  walk(root, '');
  return out;
}
