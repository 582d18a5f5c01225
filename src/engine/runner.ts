import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { timerDelay } from '../model/limits.js';
import { TaskLog } from './log-file.js';
import { MARKER_VAR, newMarker, ProcessTree, registerRunning, TreeKiller } from './process-tree.js';
import { err, ok, type Result } from './result.js';

// One agent process: spawned from an argument vector as the leader of its own process group, its
// output appended to the task's log, a timeout, and cancellation that signals everything it
// started (its group, and its descendants that left the group: process-tree.ts), SIGTERM then
// SIGKILL after a grace period, so nothing it started is left behind. The run ends when the agent
// itself has exited and what it started is gone, not when its output pipes close: a process that
// escaped and still holds them must not hold the run.

export interface RunSpec {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to standard input, which is then closed. */
  stdin: string;
  logPath: string;
  /** The log's cap (log-file.ts): past it, the log is rotated to `<logPath>.1`. Default DEFAULT_LOG_MAX_BYTES. */
  logMaxBytes?: number;
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
  /** Each non-empty line the agent prints (trimmed; a line over LINE_LIMIT is dropped), for a live view. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  onSpawn?: (pid: number) => void;
}

export interface RunOutput {
  /** Standard output, up to STDOUT_LIMIT bytes (all of it is in the log). */
  stdout: string;
  /** The last lines of standard error, for failure messages. */
  stderrTail: string;
  /** The last OUTPUT_TAIL characters of standard output and error together, in the order they came (a check's output). */
  outputTail?: string;
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
/** Longer lines are not handed to onLine (the log keeps them). */
export const LINE_LIMIT = 1024 * 1024;
const STDERR_TAIL = 2048;
export const OUTPUT_TAIL = 4096;
/** After the agent and all it started are gone, how long its pipes may take to deliver their last bytes. */
const DRAIN_MS = 200;

/** Runs one agent to its end. Never throws: every way it can end is a value. */
export function runAgent(spec: RunSpec): Promise<RunResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    mkdirSync(dirname(spec.logPath), { recursive: true });
    // Capped and rotated: an agent printing gigabytes must not fill the disk (log-file.ts).
    const log = new TaskLog(spec.logPath, spec.logMaxBytes);
    if (spec.logHeader !== undefined) log.write(spec.logHeader);

    let settled = false;
    const settle = (result: RunResult) => {
      if (settled) return;
      settled = true;
      log.close();
      resolve(result);
    };

    const [program, ...args] = spec.argv;
    if (program === undefined) {
      settle(err({ reason: 'spawn', message: 'the agent command is empty', durationMs: 0 }));
      return;
    }
    const marker = newMarker();
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        cwd: spec.cwd,
        env: { ...spec.env, [MARKER_VAR]: marker },
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
    const tree = new ProcessTree(pid, marker);
    const unregister = registerRunning(tree); // also records its descendants while it runs
    spec.onSpawn?.(pid);

    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = '';
    let outputTail = '';
    const outDecoder = new StringDecoder('utf8');
    const errDecoder = new StringDecoder('utf8');
    const outLines = lineSplitter((line) => spec.onLine?.(line, 'stdout'));
    const errLines = lineSplitter((line) => spec.onLine?.(line, 'stderr'));
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (stdoutBytes < STDOUT_LIMIT) {
        stdoutChunks.push(chunk.subarray(0, STDOUT_LIMIT - stdoutBytes));
        stdoutBytes += chunk.length;
      }
      outputTail = (outputTail + outDecoder.write(chunk)).slice(-OUTPUT_TAIL);
      outLines.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
      outputTail = (outputTail + errDecoder.write(chunk)).slice(-OUTPUT_TAIL);
      errLines.push(chunk);
    });
    for (const s of [child.stdout, child.stderr]) s?.on('error', () => {});
    child.stdin?.on('error', () => {}); // an agent that does not read its prompt closes the pipe: fine
    child.stdin?.end(spec.stdin);

    let killedFor: 'timeout' | 'cancelled' | undefined;
    const group = new TreeKiller(tree, spec.graceMs);
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

    let closed = false;
    const pipesClosed = new Promise<void>((r) => child.on('close', () => r()));
    void pipesClosed.then(() => {
      closed = true;
    });
    child.on('exit', async (code, signal) => {
      if (timeout !== undefined) clearTimeout(timeout);
      // The leader is gone; anything it started goes too (SIGTERM, SIGKILL after the grace period).
      await group.settled();
      unregister();
      spec.signal?.removeEventListener('abort', onAbort);
      spec.hardSignal?.removeEventListener('abort', onHard);
      // Everything found is gone: the pipes close unless something we could not find holds them.
      if (!closed) {
        await Promise.race([pipesClosed, new Promise((r) => setTimeout(r, DRAIN_MS))]);
        child.stdout?.destroy();
        child.stderr?.destroy();
      }
      outLines.end();
      errLines.end();
      const out: RunOutput = {
        stdout: Buffer.concat(stdoutChunks).toString('utf8'),
        stderrTail,
        outputTail,
        durationMs: elapsed(),
        pid,
      };
      if (killedFor === 'timeout') settle(err({ reason: 'timeout', timeoutMs: spec.timeoutMs ?? 0, ...out }));
      else if (killedFor === 'cancelled') settle(err({ reason: 'cancelled', ...out }));
      else if (code === 0) settle(ok(out));
      else if (code !== null) settle(err({ reason: 'exit', exitCode: code, ...out }));
      else settle(err({ reason: 'signal', signal: signal ?? 'unknown', ...out }));
    });
  });
}

/** Hands each complete, non-empty, trimmed line of a byte stream to `onLine`; lines over LINE_LIMIT are skipped. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  const decoder = new StringDecoder('utf8'); // a character split across two chunks stays whole
  let partial = '';
  let overflow = false;
  const emit = (line: string) => {
    const trimmed = line.trim();
    if (trimmed !== '') onLine(trimmed);
  };
  return {
    push(chunk) {
      const lines = (partial + decoder.write(chunk)).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (overflow)
          overflow = false; // the end of an over-long line
        else emit(line);
      }
      if (partial.length > LINE_LIMIT) {
        partial = '';
        overflow = true;
      }
    },
    end() {
      partial += decoder.end();
      if (!overflow) emit(partial);
      partial = '';
    },
  };
}
