import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { resolveAgent } from '../src/engine/agents.js';
import type { CoordinatorOptions } from '../src/engine/coordinator.js';
import { EngineEvents } from '../src/engine/events.js';
import { DEFAULT_TEMPLATE } from '../src/engine/prompt.js';
import { openStore } from '../src/store/open.js';
import type { TaskStore } from '../src/store/types.js';
import { cliPath, repoRoot, tempDir } from './helpers.js';

// Plumbing for the executor tests: a list made through the store, the built CLI run as a real
// process (several at once when needed), and what the stand-in agents recorded.

export const AGENT = join(repoRoot, 'test', 'fixtures', 'engine', 'agent.mjs');
export const CLAUDE_STANDIN = join(repoRoot, 'test', 'fixtures', 'engine', 'claude-standin.mjs');
/** The stand-in agent as an --agent value. */
export const AGENT_CMD = `"${process.execPath}" "${AGENT}"`;

export interface StandIn {
  ms?: number;
  exit?: number;
  failAttempts?: number;
  hang?: boolean | number[];
  ignoreTerm?: boolean;
  grandchild?: boolean;
  setsidChild?: boolean;
  lingerChild?: boolean;
  editSelf?: 'owner' | 'pending' | 'delete' | 'fileOwner' | 'done';
  result?: string;
  stdoutOnly?: boolean;
  subtask?: { subject: string; ms?: number };
  work?: { file: string; fromAttempt?: number };
  recordBlockers?: boolean;
  /** Bytes of numbered lines printed on each stream before finishing (a runaway agent). */
  flood?: { stdout?: number; stderr?: number };
}

export interface TaskDef {
  subject: string;
  description?: string;
  /** Indexes (0-based) into the list of definitions. */
  after?: number[];
  priority?: number;
  estimate?: number;
  /** The task's own check (create --verify). */
  verify?: string;
  standin?: StandIn;
  metadata?: Record<string, unknown>;
}

export interface Fixture {
  dir: string;
  list: string;
  records: string;
  store: TaskStore;
  /** Task ids in definition order. */
  ids: string[];
  env: NodeJS.ProcessEnv;
}

/** A fresh list holding the given tasks, and a record directory for the stand-ins. */
export async function makeList(defs: TaskDef[], list = 'work'): Promise<Fixture> {
  const dir = tempDir('tasklane-engine-');
  const records = join(dir, 'records');
  mkdirSync(records);
  const store = openStore({ dir, list });
  const ids: string[] = [];
  for (const def of defs) {
    const task = await store.create({
      subject: def.subject,
      ...(def.description === undefined ? {} : { description: def.description }),
      blockedBy: (def.after ?? []).map((i) => ids[i] as string),
      ...(def.priority === undefined ? {} : { priority: def.priority }),
      ...(def.estimate === undefined ? {} : { estimate: def.estimate }),
      ...(def.verify === undefined ? {} : { verify: def.verify }),
      metadata: { ...(def.metadata ?? {}), ...(def.standin === undefined ? {} : { standin: def.standin }) },
    });
    ids.push(task.id);
  }
  const env: NodeJS.ProcessEnv = {
    RECORD_DIR: records,
    TASKLANE_DIR: dir,
    TASKLANE_LIST: list,
    TASKLANE_AGENT: '',
    CLAUDE_CODE: '',
    CLAUDE_CODE_TASK_LIST_ID: '',
  };
  return { dir, list, records, store, ids, env };
}

/**
 * An in-process run's options on a fixture's list: the simulated agent, one slot, failures do
 * not stop the run, no retries, a 60 s lease; `over` replaces any of them.
 */
export function coordinatorOptions(f: Fixture, over: Partial<CoordinatorOptions> = {}): CoordinatorOptions {
  const runDir = f.store.artifactsDir;
  return {
    store: f.store,
    runDir,
    logsDir: join(runDir, 'logs'),
    agent: resolveAgent({ preset: 'sim', env: {}, cwd: f.dir }).choice,
    agentOptions: { dangerouslySkipPermissions: false },
    template: DEFAULT_TEMPLATE,
    cwd: f.dir,
    env: { ...process.env, ...f.env },
    leaseMs: 60_000,
    graceMs: 1000,
    worktree: false,
    events: new EngineEvents(),
    slots: 1,
    onFailure: 'continue',
    retries: 0,
    backoff: { baseMs: 10, capMs: 10 },
    floorMs: 3_600_000,
    retryFailed: false,
    ...over,
  };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Exit>;
}

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts the built CLI without waiting for it. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Running {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Exit> {
  return startCli(args, env, cwd).done;
}

export interface AgentRecord {
  id: string;
  attempt: number;
  pid: number;
  start: number;
  end?: number;
  argv: string[];
  cwd: string;
  prompt: string;
  env: Record<string, string>;
  grandchild?: number;
  setsidChild?: number;
  lingerChild?: number;
  /** Each blocker's status when the agent started (standin recordBlockers). */
  blockers?: Record<string, string>;
}

export function readRecords(dir: string): AgentRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^[^.]+\.\d+\.\d+\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as AgentRecord);
}

/** The most intervals open at once. */
export function maxOverlap(records: AgentRecord[]): number {
  const points: [number, number][] = [];
  for (const r of records) {
    points.push([r.start, 1]);
    points.push([r.end ?? Number.POSITIVE_INFINITY, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of points) {
    open += d;
    most = Math.max(most, open);
  }
  return most;
}

/** Waits (polling the files, in the test only) until `check` passes or the deadline comes. */
export async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Whether a process still runs. A zombie does not (nothing here reaps orphans promptly). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Kills leftover stand-ins (a test that fails part way must not leak them). */
export function killAll(pids: Iterable<number | undefined>): void {
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** Common flags: the stand-in agent, short lease and grace. */
export function runArgs(f: Fixture, extra: string[] = []): string[] {
  return ['run', '--dir', f.dir, '--list', f.list, '--agent', AGENT_CMD, '--grace', '1', ...extra];
}
