import { formatDuration } from '../model/index.js';
import { type RunResult, runAgent } from './runner.js';

// Checked completion: a command that proves a task's work, run after its agent exits 0, in the
// task's working directory (its worktree with --worktree). Exit 0 completes the task; anything
// else fails the attempt, and the check's output goes into the next attempt's prompt.
//
// The command is the user's own: written with `create --verify`, `update --verify`, a plan's
// `verify:` field, or `run --verify`, by whoever writes the task list or starts the run. It goes
// to `/bin/sh -c` as one argument, as the user wrote it; nothing from a task's subject,
// description or result is ever put into it. It runs with the executor's rights, so a list that
// strangers can write is a list whose checks they choose: the same trust as its agent commands.

/** What one run of a check did, kept in metadata.agentRun.check and shown in the aggregate. */
export interface CheckRecord {
  command: string;
  /** Whose check: the task's own (metadata.tasklane.verify) or the run's --verify. */
  source: 'task' | 'run';
  passed: boolean;
  /** Its exit status, when it exited by itself. */
  exitCode?: number;
  /** How it ended otherwise: timed out, killed by a signal, could not start. */
  error?: string;
  durationMs: number;
  /** The end of its output, standard output and error together (runner.ts OUTPUT_TAIL). */
  outputTail: string;
}

export interface CheckSpec {
  command: string;
  source: 'task' | 'run';
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The task's log: the check's output is appended after the agent's. */
  logPath: string;
  /** The log's cap (log-file.ts). */
  logMaxBytes?: number;
  timeoutMs?: number;
  graceMs: number;
  signal: AbortSignal;
  hardSignal: AbortSignal;
}

/** Which check a task gets: its own, else the run's; undefined when neither has one. */
export function checkFor(
  own: string | undefined,
  run: string | undefined,
): { command: string; source: 'task' | 'run' } | undefined {
  if (own !== undefined) return { command: own, source: 'task' };
  if (run !== undefined) return { command: run, source: 'run' };
  return undefined;
}

/**
 * Runs the check through the agents' runner, so --timeout, cancellation and the process-tree
 * cleanup apply to it as to an agent. `cancelled` when the run was stopped while it ran.
 */
export async function runCheck(spec: CheckSpec): Promise<CheckRecord | 'cancelled'> {
  const result: RunResult = await runAgent({
    argv: ['/bin/sh', '-c', spec.command],
    cwd: spec.cwd,
    env: spec.env,
    stdin: '',
    logPath: spec.logPath,
    ...(spec.logMaxBytes === undefined ? {} : { logMaxBytes: spec.logMaxBytes }),
    logHeader: `\n--- tasklane: check (${spec.source === 'task' ? "the task's own" : "the run's --verify"}) at ${new Date().toISOString()}\n--- /bin/sh -c ${JSON.stringify(spec.command)}\n`,
    ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
    graceMs: spec.graceMs,
    signal: spec.signal,
    hardSignal: spec.hardSignal,
  });
  const base = { command: spec.command, source: spec.source };
  if (result.ok) {
    return {
      ...base,
      passed: true,
      exitCode: 0,
      durationMs: result.value.durationMs,
      outputTail: tailOf(result.value),
    };
  }
  const f = result.error;
  switch (f.reason) {
    case 'cancelled':
      return 'cancelled';
    case 'exit':
      return { ...base, passed: false, exitCode: f.exitCode, durationMs: f.durationMs, outputTail: tailOf(f) };
    case 'signal':
      return {
        ...base,
        passed: false,
        error: `killed by ${f.signal}`,
        durationMs: f.durationMs,
        outputTail: tailOf(f),
      };
    case 'timeout':
      return {
        ...base,
        passed: false,
        error: `timed out after ${formatDuration(f.timeoutMs)}`,
        durationMs: f.durationMs,
        outputTail: tailOf(f),
      };
    case 'spawn':
      return { ...base, passed: false, error: f.message, durationMs: f.durationMs, outputTail: '' };
  }
}

/** The failure reason of an attempt whose check failed: the check and how it ended. */
export function checkFailureReason(check: CheckRecord): string {
  const how = check.exitCode !== undefined ? `exit ${check.exitCode}` : (check.error ?? 'failed');
  const last = lastLine(check.outputTail);
  return `the check \`${shortCommand(check.command)}\` failed: ${how}${last === '' ? '' : `: ${last}`}`;
}

/** metadata.agentRun.check as the executor wrote it, when it is one. */
export function checkRecordOf(agentRun: unknown): CheckRecord | undefined {
  if (agentRun === null || typeof agentRun !== 'object') return undefined;
  const c = (agentRun as { check?: unknown }).check;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return undefined;
  const r = c as Partial<CheckRecord>;
  if (typeof r.command !== 'string' || typeof r.passed !== 'boolean') return undefined;
  return { ...r, outputTail: typeof r.outputTail === 'string' ? r.outputTail : '' } as CheckRecord;
}

function tailOf(out: { outputTail?: string }): string {
  return out.outputTail ?? '';
}

/** The command's first line, at most 200 characters, for one-line messages. */
export function shortCommand(command: string): string {
  const lines = command.trim().split('\n');
  const first = (lines[0] ?? '').slice(0, 200);
  return lines.length > 1 || first.length < (lines[0] ?? '').length ? `${first} …` : first;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(0, 200);
}
