import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { timerDelay } from '../model/limits.js';
import { err, ok, type Result } from './result.js';

// One agent process: spawned from an argument vector as the leader of its own process group, its
// output appended to the task's log, a timeout, and cancellation that signals the whole group
// (SIGTERM, then SIGKILL after a grace period) so nothing it started is left behind.

export interface RunSpec {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to standard input, which is then closed. */
  stdin: string;
  logPath: string;
  /** Written to the log before the agent's output (attempt, time, command). */
  logHeader?: string;
  /** Kill the agent after this long. Undefined: no limit. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Aborting kills the agent (reason 'cancelled'). */
  signal?: AbortSignal;
  /** Aborting kills the whole group with SIGKILL at once (a second Ctrl-C). */
  hardSignal?: AbortSignal;
  /** Each non-empty line the agent prints, for a live view. */
  onActivity?: (line: string) => void;
  onSpawn?: (pid: number) => void;
}

export interface RunOutput {
  /** Standard output, up to STDOUT_LIMIT bytes (all of it is in the log). */
  stdout: string;
  /** The last lines of standard error, for failure messages. */
  stderrTail: string;
  durationMs: number;
  pid: number;
}

export type RunFailure =
  | ({ reason: 'exit'; exitCode: number } & RunOutput)
  | ({ reason: 'signal'; signal: string } & RunOutput)
  | ({ reason: 'timeout'; timeoutMs: number } & RunOutput)
  | ({ reason: 'cancelled' } & RunOutput)
  | { reason: 'spawn'; message: string; durationMs: number };

export type RunResult = Result<RunOutput, RunFailure>;

export const STDOUT_LIMIT = 8 * 1024 * 1024;
const STDERR_TAIL = 2048;

/** Runs one agent to its end. Never throws: every way it can end is a value. */
export function runAgent(spec: RunSpec): Promise<RunResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    mkdirSync(dirname(spec.logPath), { recursive: true });
    const log = createWriteStream(spec.logPath, { flags: 'a' });
    log.on('error', () => {}); // a log that cannot be written must not take the run down
    if (spec.logHeader !== undefined) log.write(spec.logHeader);

    let settled = false;
    const settle = (result: RunResult) => {
      if (settled) return;
      settled = true;
      log.end(() => resolve(result));
    };

    const [program, ...args] = spec.argv;
    if (program === undefined) {
      settle(err({ reason: 'spawn', message: 'the agent command is empty', durationMs: 0 }));
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        cwd: spec.cwd,
        env: spec.env,
        detached: true, // setsid: the agent leads a new process group that we can signal as a whole
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      settle(err({ reason: 'spawn', message: (e as Error).message, durationMs: elapsed() }));
      return;
    }
    const pid = child.pid;
    if (pid === undefined) {
      child.on('error', (e) => {
        log.write(`tasklane: cannot start ${program}: ${e.message}\n`);
        settle(err({ reason: 'spawn', message: `cannot start ${program}: ${e.message}`, durationMs: elapsed() }));
      });
      return;
    }
    spec.onSpawn?.(pid);

    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = '';
    const activity = lineSplitter((line) => spec.onActivity?.(line));
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (stdoutBytes < STDOUT_LIMIT) {
        stdoutChunks.push(chunk.subarray(0, STDOUT_LIMIT - stdoutBytes));
        stdoutBytes += chunk.length;
      }
      activity(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
      activity(chunk);
    });
    child.stdin?.on('error', () => {}); // an agent that does not read its prompt closes the pipe: fine
    child.stdin?.end(spec.stdin);

    let killedFor: 'timeout' | 'cancelled' | undefined;
    const group = new GroupKiller(pid, spec.graceMs);
    const stop = (why: 'timeout' | 'cancelled') => {
      killedFor ??= why;
      group.terminate();
    };
    const timeout =
      spec.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), timerDelay(spec.timeoutMs));
    const onAbort = () => stop('cancelled');
    if (spec.signal?.aborted) stop('cancelled');
    else spec.signal?.addEventListener('abort', onAbort, { once: true });
    const onHard = () => {
      stop('cancelled');
      group.kill();
    };
    if (spec.hardSignal?.aborted) onHard();
    else spec.hardSignal?.addEventListener('abort', onHard, { once: true });

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (timeout !== undefined) clearTimeout(timeout);
      // The leader is gone; anything it left in its group goes too.
      if (group.alive()) group.terminate();
    });
    child.on('close', async () => {
      if (timeout !== undefined) clearTimeout(timeout);
      spec.signal?.removeEventListener('abort', onAbort);
      spec.hardSignal?.removeEventListener('abort', onHard);
      await group.settled();
      const out: RunOutput = {
        stdout: Buffer.concat(stdoutChunks).toString('utf8'),
        stderrTail,
        durationMs: elapsed(),
        pid,
      };
      if (killedFor === 'timeout') settle(err({ reason: 'timeout', timeoutMs: spec.timeoutMs ?? 0, ...out }));
      else if (killedFor === 'cancelled') settle(err({ reason: 'cancelled', ...out }));
      else if (exit?.code === 0) settle(ok(out));
      else if (exit?.code !== null && exit?.code !== undefined)
        settle(err({ reason: 'exit', exitCode: exit.code, ...out }));
      else settle(err({ reason: 'signal', signal: exit?.signal ?? 'unknown', ...out }));
    });
  });
}

/** Signals a process group: SIGTERM now, SIGKILL after the grace period if anything is left. */
export class GroupKiller {
  private killTimer: NodeJS.Timeout | undefined;
  private done: Promise<void> | undefined;
  private finish: (() => void) | undefined;
  constructor(
    private readonly pgid: number,
    private readonly graceMs: number,
  ) {}

  /** Whether any process of the group still runs. */
  alive(): boolean {
    return groupAlive(this.pgid);
  }

  terminate(): void {
    if (this.done !== undefined) return;
    signalGroup(this.pgid, 'SIGTERM');
    this.done = new Promise((resolve) => {
      this.finish = resolve;
      this.killTimer = setTimeout(() => this.kill(), this.graceMs);
    });
  }

  /** SIGKILL now (the grace period ran out, or a second Ctrl-C). */
  kill(): void {
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
    if (this.alive()) signalGroup(this.pgid, 'SIGKILL');
    this.finish?.();
  }

  /** Resolves when nothing of the group is left: at once if it is empty, else after SIGKILL. */
  async settled(): Promise<void> {
    if (!this.alive()) {
      if (this.killTimer !== undefined) clearTimeout(this.killTimer);
      this.finish?.();
      return;
    }
    if (this.done === undefined) this.terminate();
    await this.done;
  }
}

/**
 * Whether a process group has a live member. Zombies do not count: where nothing reaps orphans
 * promptly (a container whose init does not), a killed agent's children linger as zombies, and
 * waiting for them would only add the grace period to every task.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {} // ESRCH: already gone
}

/** Calls `onLine` with each complete, non-empty, trimmed line (capped) of a byte stream. */
function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const text = partial + chunk.toString('utf8');
    const lines = text.split(/\r?\n|\r/);
    partial = (lines.pop() ?? '').slice(-1000);
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = (lines[i] as string).trim();
      if (line !== '') {
        onLine(line.slice(0, 300));
        return; // only the latest line matters for "last activity"
      }
    }
  };
}
