import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sanitizePathComponent, timerDelay } from '../model/index.js';
import { MARKER_VAR, newMarker, ProcessTree, registerRunning, TreeKiller } from './process-tree.js';
import { err, ok } from './result.js';
import { type RunOutput, type RunResult, type RunSpec, STDOUT_LIMIT } from './runner.js';

// --tmux: each agent runs in a window of a tmux session named for the list, so a person can
// attach and watch. A small pane program (tmux-pane.js) runs the agent there, tees its output
// to the task's log, records its exit status and signals a tmux wait-for channel, which is how
// we learn that it ended: no polling. The pane leads its own process group (tmux gives each
// pane a session), so timeouts and Ctrl-C kill everything in it, as without tmux.

const execTmux = promisify(execFile);

export const PANE_PROGRAM = fileURLToPath(new URL('./tmux-pane.js', import.meta.url));

export interface TmuxRunSpec extends RunSpec {
  session: string;
  window: string;
  /** Where the job, status and output files of each run go. */
  workDir: string;
}

/** The pane program's instructions, written to a private file it deletes on start: the run, and where to report. */
export interface PaneJob
  extends Pick<RunSpec, 'argv' | 'cwd' | 'env' | 'stdin' | 'logPath' | 'logMaxBytes' | 'logHeader'> {
  statusPath: string;
  stdoutPath: string;
  /** The agent's stdout kept in stdoutPath, as runAgent keeps it in memory (STDOUT_LIMIT): the head. */
  stdoutLimit: number;
  channel: string;
}

export interface PaneStatus {
  code: number | null;
  signal: string | null;
  spawnError?: string;
}

/** The tmux session for a list: `tasklane-<list>` with only characters tmux accepts in a target. */
export function sessionName(list: string): string {
  return `tasklane-${sanitizePathComponent(list)}`;
}

const sessions = new Map<string, Promise<void>>();

/** Creates the session once per process; a session made by another process is used as is. */
function ensureSession(session: string, env: NodeJS.ProcessEnv): Promise<void> {
  let made = sessions.get(session);
  if (made === undefined) {
    made = (async () => {
      try {
        await execTmux('tmux', ['has-session', '-t', `=${session}`], { env });
        return;
      } catch {}
      try {
        await execTmux('tmux', ['new-session', '-d', '-s', session, '-n', 'tasklane'], { env });
      } catch (e) {
        if (!/duplicate session/.test(String((e as { stderr?: string }).stderr ?? e))) throw e;
      }
    })();
    sessions.set(session, made);
    made.catch(() => sessions.delete(session));
  }
  return made;
}

export async function runInTmux(spec: TmuxRunSpec): Promise<RunResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const tmuxEnv = spec.env;
  try {
    await ensureSession(spec.session, tmuxEnv);
  } catch (e) {
    return err({ reason: 'spawn', message: `cannot start tmux session ${spec.session}: ${detail(e)}`, durationMs: 0 });
  }
  mkdirSync(spec.workDir, { recursive: true, mode: 0o700 });
  mkdirSync(dirname(spec.logPath), { recursive: true });
  const tag = `${sanitizePathComponent(spec.window)}.${randomBytes(4).toString('hex')}`;
  const jobPath = join(spec.workDir, `${tag}.job.json`);
  const statusPath = join(spec.workDir, `${tag}.status.json`);
  const stdoutPath = join(spec.workDir, `${tag}.stdout`);
  const channel = `${spec.session}-${tag}`;
  const marker = newMarker();
  const job: PaneJob = {
    argv: spec.argv,
    cwd: spec.cwd,
    env: { ...spec.env, [MARKER_VAR]: marker },
    stdin: spec.stdin,
    logPath: spec.logPath,
    ...(spec.logMaxBytes === undefined ? {} : { logMaxBytes: spec.logMaxBytes }),
    ...(spec.logHeader === undefined ? {} : { logHeader: spec.logHeader }),
    statusPath,
    stdoutPath,
    stdoutLimit: STDOUT_LIMIT,
    channel,
  };
  writeFileSync(jobPath, JSON.stringify(job), { mode: 0o600 });

  // Wait first: tmux remembers a signal that comes before anyone waits, so the order is safe either way.
  const waiter = spawn('tmux', ['wait-for', channel], { env: tmuxEnv, stdio: 'ignore' });
  const waited = new Promise<void>((resolve) => {
    waiter.on('exit', () => resolve());
    waiter.on('error', () => resolve());
  });
  let panePid: number;
  try {
    const { stdout } = await execTmux(
      'tmux',
      [
        'new-window',
        '-d',
        '-P',
        '-F',
        '#{pane_pid}',
        '-t',
        `${spec.session}:`,
        '-n',
        spec.window,
        '--',
        process.execPath,
        PANE_PROGRAM,
        jobPath,
      ],
      { env: tmuxEnv },
    );
    panePid = Number(stdout.trim());
    if (!Number.isInteger(panePid) || panePid <= 0) throw new Error(`tmux printed no pane pid: ${stdout}`);
  } catch (e) {
    waiter.kill();
    rmSync(jobPath, { force: true });
    return err({ reason: 'spawn', message: `cannot open a tmux window: ${detail(e)}`, durationMs: elapsed() });
  }
  spec.onSpawn?.(panePid);

  const tree = new ProcessTree(panePid, marker);
  const unregister = registerRunning(tree);
  const group = new TreeKiller(tree, spec.graceMs);
  let killedFor: 'timeout' | 'cancelled' | undefined;
  const stop = (why: 'timeout' | 'cancelled', hard = false) => {
    killedFor ??= why;
    group.terminate();
    if (hard) group.kill();
    // If the pane dies without signalling (SIGKILL), stop waiting for it.
    void group.settled().then(() => setTimeout(() => waiter.kill(), 100).unref());
  };
  const timeout =
    spec.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), timerDelay(spec.timeoutMs));
  const onAbort = () => stop('cancelled');
  const onHard = () => stop('cancelled', true);
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener('abort', onAbort, { once: true });
  if (spec.hardSignal?.aborted) onHard();
  else spec.hardSignal?.addEventListener('abort', onHard, { once: true });

  // Safety floor: a pane that died without signalling (its window killed by hand) must not hang the
  // run. The same timer records the agent's descendants (process-tree.ts).
  const floor = setInterval(() => {
    tree.sweep(false);
    if (!group.alive()) setTimeout(() => waiter.kill(), 500).unref();
  }, 1000);
  await waited;
  clearInterval(floor);
  if (timeout !== undefined) clearTimeout(timeout);
  spec.signal?.removeEventListener('abort', onAbort);
  spec.hardSignal?.removeEventListener('abort', onHard);
  // The pane reported and is exiting by itself; settled() returns the moment it and whatever the
  // agent left are gone, not at the end of the grace period.
  await group.settled();
  unregister();

  let status: PaneStatus | undefined;
  try {
    status = JSON.parse(readFileSync(statusPath, 'utf8')) as PaneStatus;
  } catch {}
  let stdout = '';
  try {
    stdout = readFileSync(stdoutPath, 'utf8');
  } catch {}
  for (const p of [jobPath, statusPath, stdoutPath]) rmSync(p, { force: true });

  const out: RunOutput = { stdout, stderrTail: '', durationMs: elapsed(), pid: panePid };
  if (killedFor === 'timeout') return err({ reason: 'timeout', timeoutMs: spec.timeoutMs ?? 0, ...out });
  if (killedFor === 'cancelled') return err({ reason: 'cancelled', ...out });
  if (status === undefined) return err({ reason: 'signal', signal: 'unknown (the tmux window was closed)', ...out });
  if (status.spawnError !== undefined) {
    return err({ reason: 'spawn', message: status.spawnError, durationMs: out.durationMs });
  }
  if (status.code === 0) return ok(out);
  if (status.code !== null) return err({ reason: 'exit', exitCode: status.code, ...out });
  return err({ reason: 'signal', signal: status.signal ?? 'unknown', ...out });
}

function detail(e: unknown): string {
  const text = String((e as { stderr?: string }).stderr || (e as Error).message || e).trim();
  return text.split('\n')[0] ?? text;
}
