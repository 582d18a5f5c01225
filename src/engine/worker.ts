import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  formatDuration,
  isTasklaneError,
  sanitizePathComponent,
  type Task,
  TasklaneError,
  tasklaneFields,
  timerDelay,
  verifyOf,
} from '../model/index.js';
import { storeEnv } from '../store/descriptor.js';
import type { Claim, HolderInput, TaskStore } from '../store/types.js';
import {
  type AgentChoice,
  type AgentOptions,
  type AgentOutput,
  agentForTask,
  invocation,
  type PresetName,
} from './agents.js';
import { ChangeFeed } from './change-feed.js';
import { type CheckRecord, checkFailureReason, checkFor, checkRecordOf, runCheck, shortCommand } from './check.js';
import { listInClaudeRoot } from './claude-mcp.js';
import type { EngineEvent, EngineEvents } from './events.js';
import { writeLogLine } from './log-file.js';
import { judgeClaim } from './own-edits.js';
import { isPlanParent, parentLogLine, parentResult } from './parent-task.js';
import {
  type BlockerResult,
  fenced,
  formatBlockers,
  formatCheck,
  formatDescription,
  formatListTools,
  renderPrompt,
} from './prompt.js';
import { ok } from './result.js';
import { type BackoffOptions, Retrier } from './retries.js';
import { answerBy, retryWhileIo } from './retry-io.js';
import { type RunFailure, type RunResult, runAgent } from './runner.js';
import { earliestLeaseExpiry } from './scheduler.js';
import { simPlan, simScale } from './sim.js';
import { runInTmux } from './tmux.js';
import {
  type ConflictPolicy,
  conflictSection,
  finishWorktree,
  prepareWorktree,
  repositoryOf,
  type Worktree,
} from './worktree.js';

// Running one claimed task (prompt, agent process, lease heartbeat, then complete, fail or
// release), and `tasklane worker`: the long-running loop that claims the best ready task,
// runs it, and sleeps on the change feed when there is nothing to do.

export interface ExecConfig {
  store: TaskStore;
  /** Where logs, result files and tmux files go by default: the store's artifactsDir for the list. */
  runDir: string;
  logsDir: string;
  /** Each task log's cap before it is rotated (log-file.ts); default DEFAULT_LOG_MAX_BYTES. */
  logMaxBytes?: number;
  agent: AgentChoice;
  agentOptions: AgentOptions;
  template: string;
  cwd: string;
  /** The environment agents start from (the caller's). */
  env: NodeJS.ProcessEnv;
  leaseMs: number;
  timeoutMs?: number;
  graceMs: number;
  /** tmux session name when --tmux. */
  tmuxSession?: string;
  worktree: boolean;
  /** With --worktree: a blocker merge that conflicts goes to the agent (default) or fails the task (worktree.ts). */
  onConflict?: ConflictPolicy;
  events: EngineEvents;
  /** A directory holding a `tasklane` program, put first on the agents' PATH so the one they call is this one. */
  binDir?: string;
  /** The run's check (--verify), for tasks without their own (check.ts). */
  verify?: string;
}

export interface ExecSignals {
  /** Stop the agent gracefully (SIGTERM, then SIGKILL after the grace period) and release the task. */
  cancel: AbortSignal;
  /** SIGKILL at once. */
  hard: AbortSignal;
}

/** What the agent reported about itself, kept in metadata.agentRun. */
export interface AgentRunInfo {
  preset: PresetName;
  log: string;
  exitCode?: number;
  inputTokens?: number;
  outputTokens?: number;
  cacheTokens?: number;
  costUsd?: number;
  sessionId?: string;
  worktree?: Worktree;
  /** The check run after the agent exited 0 (check.ts). */
  check?: CheckRecord;
}

/** `note`: what was done to the task while its agent ran, without a claim (own-edits.ts). */
export type TaskOutcome =
  | { kind: 'completed'; task: Task; durationMs: number; run: AgentRunInfo; note?: string }
  | {
      kind: 'failed';
      task: Task;
      reason: string;
      retryable: boolean;
      durationMs: number;
      run: AgentRunInfo;
      note?: string;
    }
  /** Stopped on request; the task was released back to pending. */
  | { kind: 'cancelled'; task?: Task; durationMs: number }
  /** The claim was lost (lease expired and taken over, task deleted): nothing was written. */
  | { kind: 'lost'; reason: string; durationMs: number; note?: string };

/** Results longer than this are cut in the task (the log keeps everything): every scan reads every task. */
export const RESULT_LIMIT = 100_000;

export function ownerId(kind: 'run' | 'worker', slot: number): string {
  return `${kind}:${hostname()}:${process.pid}:${slot}`;
}

const warnedAgents = new Set<string>();

/** Runs a claimed task to its end and records the outcome in the store. Never throws for agent failures. */
export async function executeClaim(
  claim: Claim,
  owner: string,
  cfg: ExecConfig,
  signals: ExecSignals,
): Promise<TaskOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const { store } = cfg;
  const task = claim.task;
  const id = task.id;
  const holder = { owner, token: claim.token };
  const attempt = tasklaneFields(task).attempts ?? 1;
  const fileId = sanitizePathComponent(id);
  const logPath = join(cfg.logsDir, `${fileId}.log`);
  cfg.events.emit({ type: 'start', taskId: id, subject: task.subject, attempt, owner, log: logPath, at: Date.now() });

  let choice = agentForTask(cfg.agent, task.metadata?.agent);
  if (choice === undefined) {
    const name = String(task.metadata?.agent);
    if (!warnedAgents.has(name)) {
      warnedAgents.add(name);
      cfg.events.emit({
        type: 'warning',
        message: `task ${id} asks for agent ${JSON.stringify(name)}, which is not a preset; using ${cfg.agent.command[0]}`,
      });
    }
    choice = cfg.agent;
  }
  const run: AgentRunInfo = { preset: choice.preset, log: logPath };
  // The check as the task was claimed: an agent editing its own task cannot change this attempt's.
  const check = checkFor(verifyOf(task), cfg.verify);

  // Lease heartbeat at a third of the lease. A refused heartbeat stops the agent only when another
  // claim took the task: an agent (or session) that edited the task (owner, status) or deleted it
  // leaves the attempt running, and what it did is noted (own-edits.ts). One heartbeat at a time:
  // on a connection whose network went away a query hangs until TCP gives up (about 15 minutes),
  // and each one sent meanwhile would pin another of the pool's connections. When the store has
  // answered no heartbeat (nor the claim) for a whole lease, the lease has run out and another
  // host may have taken the task: the agent is stopped and nothing is written for it.
  const lost = new AbortController();
  let lostReason: string | undefined;
  /** Set when the lease was given up because the store did not answer: an IO failure, not a loss to another claim. */
  let unanswered = false;
  let current: HolderInput = holder;
  const notes = new Map<string, string>();
  let beating: Promise<unknown> = Promise.resolve();
  let inFlight = false;
  let attemptOver = false;
  /** When the last heartbeat the store answered was sent (the claim: when this attempt began). */
  let answeredSentAt = performance.now();
  let lastHeartbeatError: Error | undefined;
  /** Once the agent has ended, its outcome has a lease of its own to be recorded in (writeOutcome): no more giving up. */
  let agentEnded = false;
  const giveUp = () => {
    if (agentEnded || lostReason !== undefined) return;
    const cause = lastHeartbeatError === undefined ? '' : ` (last: ${lastHeartbeatError.message})`;
    lostReason = `the lease could not be renewed: the store did not answer for ${formatDuration(performance.now() - answeredSentAt)}${cause}`;
    unanswered = true;
    lost.abort();
  };
  let giveUpTimer = setTimeout(giveUp, timerDelay(cfg.leaseMs)); // leases are at most 24 days: one timer holds it
  const answered = (sentAt: number) => {
    answeredSentAt = Math.max(answeredSentAt, sentAt);
    lastHeartbeatError = undefined;
    clearTimeout(giveUpTimer);
    if (!agentEnded) giveUpTimer = setTimeout(giveUp, timerDelay(answeredSentAt + cfg.leaseMs - performance.now()));
  };
  const heartbeatEvery = Math.max(50, Math.floor(cfg.leaseMs / 3));
  const heartbeat = setInterval(() => {
    if (inFlight || attemptOver || lostReason !== undefined) return;
    inFlight = true;
    const sentAt = performance.now();
    beating = store
      .heartbeat(id, current, cfg.leaseMs)
      .then(
        () => answered(sentAt),
        async (e: unknown) => {
          if (attemptOver) return; // given up on, or the attempt ended meanwhile (the store closed under it)
          if (!isTasklaneError(e, 'NOT_OWNER') && !isTasklaneError(e, 'NOT_FOUND')) {
            lastHeartbeatError = e as Error;
            cfg.events.emit({ type: 'warning', message: `task ${id}: heartbeat failed: ${(e as Error).message}` });
            return;
          }
          answered(sentAt); // a refusal is an answer: the store is there
          const verdict = await judgeClaim(store, id, claim.token, owner).catch(() => undefined);
          if (verdict === undefined) return;
          if (verdict.kind === 'taken') {
            lostReason = `the claim was lost: ${(e as Error).message}`;
            lost.abort();
            return;
          }
          if (!notes.has(verdict.kind)) cfg.events.emit({ type: 'warning', message: verdict.note });
          notes.set(verdict.kind, verdict.note);
          // The lease is still ours by its token: keep it alive without insisting on the owner.
          if (verdict.kind === 'edited' && verdict.leaseKept) current = { token: claim.token };
        },
      )
      .finally(() => {
        inFlight = false;
      });
  }, heartbeatEvery);
  const cancel = AbortSignal.any([signals.cancel, lost.signal]);

  let result: RunResult;
  /** A plan parent's result: it completes by itself, no agent runs (parent-task.ts). */
  let selfResult: string | undefined;
  let output: AgentOutput = {};
  const resultFile = join(cfg.runDir, 'results', `${fileId}.md`);
  try {
    const blockers: BlockerResult[] = [];
    for (const blockerId of task.blockedBy) {
      try {
        const blocker = await store.get(blockerId);
        const r = tasklaneFields(blocker).result;
        blockers.push({ id: blocker.id, subject: blocker.subject, ...(r === undefined ? {} : { result: r }) });
      } catch (e) {
        if (!isTasklaneError(e, 'NOT_FOUND')) throw e;
      }
    }
    let cwd = cfg.cwd;
    if (cfg.worktree) {
      run.worktree = await prepareWorktree(cfg.cwd, store.listId, task, cfg.onConflict ?? 'agent');
      cwd = run.worktree.path;
    }
    mkdirSync(join(cfg.runDir, 'results'), { recursive: true });
    rmSync(resultFile, { force: true });
    const inClaudeRoot = listInClaudeRoot(store.descriptor, cfg.env);
    const rendered = renderPrompt(cfg.template, {
      id,
      subject: task.subject,
      description: formatDescription(task.description),
      check: formatCheck(check?.command, checkRecordOf(task.metadata?.agentRun)),
      blockers: formatBlockers(blockers),
      list: store.listId,
      resultFile,
      listTools: formatListTools({
        mcp: choice.preset === 'claude' && cfg.agentOptions.mcpConfig !== undefined,
        builtinToolsShareList: inClaudeRoot,
      }),
    });
    // A blocker merge left for the agent is named in its prompt, whatever the template.
    const conflict = conflictSection(run.worktree, fenced);
    const prompt = conflict === '' ? rendered : `${rendered.trimEnd()}\n\n${conflict}`;
    const sim =
      choice.preset === 'sim'
        ? { id, ...simPlan(task, attempt, { blockers: blockers.map((b) => b.id), ...scaleOf(cfg.env) }) }
        : undefined;
    const inv = invocation(choice, prompt, cfg.agentOptions, sim);
    const env: NodeJS.ProcessEnv = {
      ...cfg.env,
      // The same store and list for the agent's own `tasklane` (TASKLANE_DIR too, for older scripts, when it is a directory).
      ...storeEnv(store),
      TASKLANE_LIST: store.listId,
      TASKLANE_TASK_ID: id,
      TASKLANE_RESULT_FILE: resultFile,
      TASKLANE_ATTEMPT: String(attempt),
      TASKLANE_STARTED_AT: String(Date.now()),
      ...(cfg.binDir === undefined ? {} : { PATH: [cfg.binDir, cfg.env.PATH ?? ''].join(delimiter) }),
    };
    // Claude Code's built-in task tools reach only lists in its own root (claude-mcp.ts).
    if (inClaudeRoot) env.CLAUDE_CODE_TASK_LIST_ID = store.listId;
    else delete env.CLAUDE_CODE_TASK_LIST_ID;
    // Claude Code refuses to start inside another Claude Code session unless this is unset.
    if (inv.preset === 'claude') delete env.CLAUDECODE;
    const header = `\n--- tasklane: task ${id} attempt ${attempt} by ${owner} at ${new Date().toISOString()}\n--- ${inv.argv.join(' ')}\n`;
    // A streaming agent's events say what it does now; any other agent's lines are shown as they are.
    const reader = inv.stream?.();
    const onLine = (line: string, from: 'stdout' | 'stderr') => {
      const activity = reader !== undefined && from === 'stdout' ? reader.line(line) : line.slice(0, 300);
      if (activity !== undefined) cfg.events.emit({ type: 'activity', taskId: id, line: activity, at: Date.now() });
    };
    const spec = {
      argv: inv.argv,
      cwd,
      env,
      stdin: inv.stdin,
      logPath,
      ...(cfg.logMaxBytes === undefined ? {} : { logMaxBytes: cfg.logMaxBytes }),
      logHeader: header,
      ...(cfg.timeoutMs === undefined ? {} : { timeoutMs: cfg.timeoutMs }),
      graceMs: cfg.graceMs,
      signal: cancel,
      hardSignal: signals.hard,
      onLine,
      onSpawn: (pid: number) => cfg.events.emit({ type: 'spawn', taskId: id, pid }),
    };
    if (isPlanParent(task)) {
      selfResult = parentResult(blockers);
      writeLogLine(logPath, parentLogLine(id, attempt, blockers), cfg.logMaxBytes);
    }
    result =
      selfResult !== undefined
        ? ok({ stdout: '', stderrTail: '', durationMs: elapsed(), pid: 0 })
        : cfg.tmuxSession === undefined
          ? await runAgent(spec)
          : await runInTmux({
              ...spec,
              session: cfg.tmuxSession,
              window: `${id}`,
              workDir: join(cfg.runDir, 'tmux'),
            });
    if (selfResult !== undefined) output = {};
    else if (reader !== undefined) output = reader.output();
    else if (result.ok) output = inv.parseOutput(result.value.stdout);
    else if (result.error.reason === 'exit') output = inv.parseOutput(result.error.stdout);
    // The agent says it is done: the check, where the agent worked and with its environment, says whether it is.
    if (check !== undefined && result.ok && output.isError !== true && !cancel.aborted) {
      cfg.events.emit({ type: 'activity', taskId: id, line: `check: ${shortCommand(check.command)}`, at: Date.now() });
      const checked = await runCheck({
        ...check,
        cwd,
        env,
        logPath,
        ...(cfg.logMaxBytes === undefined ? {} : { logMaxBytes: cfg.logMaxBytes }),
        ...(cfg.timeoutMs === undefined ? {} : { timeoutMs: cfg.timeoutMs }),
        graceMs: cfg.graceMs,
        signal: cancel,
        hardSignal: signals.hard,
      });
      if (checked === 'cancelled') result = { ok: false, error: { ...result.value, reason: 'cancelled' } };
      else run.check = checked;
    }
  } catch (e) {
    // Setting up failed (a blocker unreadable, the worktree): a failure of the task, not of the run.
    result = {
      ok: false,
      error: { reason: 'spawn', message: (e as Error).message, durationMs: elapsed() },
    };
  } finally {
    clearInterval(heartbeat);
    agentEnded = true;
    clearTimeout(giveUpTimer);
  }
  // The outcome is recorded within one lease of the agent's end (see writeOutcome below). A
  // heartbeat still in flight is waited for first, so that its verdict counts, but no longer than
  // a heartbeat period: one that hangs (its connection gone, maybe only that one) must not eat the
  // outcome's time, and the write is fenced by its token anyway.
  const outcomeDeadline = Date.now() + cfg.leaseMs;
  const stopWriting = AbortSignal.any([signals.cancel, signals.hard]);
  const stoppedByUs = !result.ok && result.error.reason === 'cancelled';
  if (lostReason === undefined && inFlight) {
    await answerBy(beating, { deadline: Date.now() + heartbeatEvery, stop: signals.hard }).catch(() => {});
  }
  attemptOver = true;

  if (unanswered) {
    // Nothing is written: the lease is gone and the store out of reach. An IO failure of the
    // worker (exit 1), as when an outcome cannot be recorded within a lease.
    throw new TasklaneError('IO', `task ${id}: ${lostReason}; its agent was stopped and nothing was recorded`, {
      task: id,
      transient: true,
    });
  }
  if (lostReason !== undefined) return { kind: 'lost', reason: lostReason, durationMs: elapsed() };
  if (stoppedByUs) {
    try {
      // Bounded: a release on a connection that hangs must not keep a stopping worker forever.
      const released = await answerBy(store.release(id, current), {
        deadline: Date.now() + cfg.leaseMs,
        stop: signals.hard,
      });
      return { kind: 'cancelled', task: released, durationMs: elapsed() };
    } catch {
      return { kind: 'cancelled', durationMs: elapsed() }; // already released or taken over, or no answer
    }
  }

  copyUsage(output, run);
  if (result.ok) run.exitCode = 0;
  else if (result.error.reason === 'exit') run.exitCode = result.error.exitCode;

  let text = selfResult ?? readResultFile(resultFile) ?? output.result ?? (result.ok ? result.value.stdout.trim() : '');
  if (run.worktree !== undefined) text += `\n\nWorktree: ${run.worktree.path} (branch ${run.worktree.branch})`;
  text = capResult(text, logPath);

  let failure: { reason: string; retryable: boolean } | undefined;
  if (!result.ok) failure = describeFailure(result.error, output.isError === true ? output.result : undefined);
  else if (output.isError === true) {
    failure = { reason: `the agent reported an error: ${firstLine(text) || '(no message)'}`, retryable: true };
  } else if (run.check !== undefined && !run.check.passed) {
    failure = { reason: checkFailureReason(run.check), retryable: true };
  }
  if (failure === undefined && run.worktree !== undefined) {
    // Before the task is completed, so its dependents start from all of its work.
    try {
      run.worktree.commit = await finishWorktree(run.worktree, task);
    } catch (e) {
      failure = { reason: (e as Error).message, retryable: true };
    }
  }

  const write = async (by: HolderInput): Promise<TaskOutcome> => {
    // The agent run's record goes in the same write as the outcome.
    // A check's record always goes: the next attempt's prompt reads the last one.
    const record =
      hasRunInfo(run) || failure !== undefined || run.check !== undefined ? { metadata: { agentRun: { ...run } } } : {};
    const note = noteOf(notes);
    if (failure === undefined) {
      const done = await store.complete(id, { ...by, result: text, ...record });
      return { kind: 'completed', task: done, durationMs: elapsed(), run, ...note };
    }
    const failed = await store.fail(id, { ...by, reason: failure.reason, ...record });
    return {
      kind: 'failed',
      task: failed,
      reason: failure.reason,
      retryable: failure.retryable,
      durationMs: elapsed(),
      run,
      ...note,
    };
  };
  const refused = (e: unknown) =>
    isTasklaneError(e, 'NOT_OWNER') || isTasklaneError(e, 'NOT_FOUND') || isTasklaneError(e, 'CONFLICT');
  const lostBeforeWrite = (e: unknown): TaskOutcome => ({
    kind: 'lost',
    reason: `the claim was lost before the result was recorded: ${(e as Error).message}`,
    durationMs: elapsed(),
    ...noteOf(notes),
  });
  // The outcome is worth waiting for the store: a failure that may pass (a database out of reach,
  // a full disk) is tried again for up to one lease period from here, unless the run is stopped
  // (retry-io.ts); the token fences a late write.
  let retried = false;
  const writeOutcome = (by: HolderInput, deadline = Date.now() + cfg.leaseMs): Promise<TaskOutcome> =>
    retryWhileIo(() => write(by), {
      deadline,
      stop: stopWriting,
      onRetry: (err, n) => {
        retried = true;
        if (n === 1) {
          cfg.events.emit({
            type: 'warning',
            message: `task ${id}: recording its outcome failed, trying again for up to ${formatDuration(cfg.leaseMs)}: ${err.message}`,
          });
        }
      },
    });
  try {
    return await writeOutcome(current, outcomeDeadline);
  } catch (e) {
    if (isTasklaneError(e, 'IO')) {
      throw new TasklaneError('IO', `task ${id}: its outcome was not recorded: ${e.message}`, {
        task: id,
        cause: e,
        ...(e.transient === true ? { transient: true } : {}),
      });
    }
    if (!refused(e)) throw e;
    // A write tried again after its connection was lost may have been made the first time: then
    // the store holds this attempt's outcome already, and the refusal is of the repeat.
    if (retried) {
      const landed = await outcomeLanded(store, id, failure === undefined ? { result: text } : failure).catch(
        () => undefined,
      );
      if (landed !== undefined && failure === undefined) {
        return { kind: 'completed', task: landed, durationMs: elapsed(), run, ...noteOf(notes) };
      }
      if (landed !== undefined && failure !== undefined) {
        return {
          kind: 'failed',
          task: landed,
          reason: failure.reason,
          retryable: failure.retryable,
          durationMs: elapsed(),
          run,
          ...noteOf(notes),
        };
      }
    }
    // Refused: was the task taken, edited or deleted while the agent ran?
    const verdict = await judgeClaim(store, id, claim.token, owner);
    if (verdict.kind === 'taken') return lostBeforeWrite(e);
    notes.set(verdict.kind, verdict.note);
    if (verdict.kind === 'deleted') {
      return { kind: 'lost', reason: verdict.note, durationMs: elapsed(), ...noteOf(notes) };
    }
    const checkFailed = run.check !== undefined && !run.check.passed;
    if (verdict.task.status === 'completed' && !checkFailed) {
      // Marked completed by hand (or by the agent): the attempt is over, nothing more to write.
      return { kind: 'completed', task: verdict.task, durationMs: elapsed(), run, ...noteOf(notes) };
    }
    try {
      if (verdict.task.status === 'completed') {
        // The agent (or someone) marked it completed, but its check failed: the check decides.
        // Reopened and failed, so its dependents wait (any that started meanwhile are not stopped).
        notes.set('reopened', `task ${id} was marked completed while its agent ran, but its check failed: reopened`);
        await store.update(id, { status: 'pending', owner: null });
        const again = await store.claim({ owner, taskId: id, leaseMs: cfg.leaseMs });
        if (again === null) return lostBeforeWrite(e);
        return await writeOutcome({ owner, token: again.token });
      }
      if (verdict.leaseKept) return await writeOutcome({ token: claim.token });
      // The claim was released by the edit: take it again to record this attempt's result.
      const again = await store.claim({ owner, taskId: id, leaseMs: cfg.leaseMs });
      if (again === null) return lostBeforeWrite(e);
      return await writeOutcome({ owner, token: again.token });
    } catch (e2) {
      if (refused(e2) || isTasklaneError(e2, 'NOT_CLAIMABLE')) return lostBeforeWrite(e2);
      throw e2;
    }
  }
}

/**
 * The task, when it already holds the outcome this attempt was writing: completed with this
 * result, or failed (no lease) with this reason.
 */
async function outcomeLanded(
  store: ExecConfig['store'],
  id: string,
  outcome: { result: string } | { reason: string },
): Promise<Task | undefined> {
  const task = await store.get(id);
  const fields = tasklaneFields(task);
  if ('result' in outcome) return task.status === 'completed' && fields.result === outcome.result ? task : undefined;
  return fields.failure?.reason === outcome.reason && fields.lease === undefined ? task : undefined;
}

/** The notes of an attempt (what was done to its task while it ran), as one line for the outcome. */
function noteOf(notes: Map<string, string>): { note?: string } {
  return notes.size === 0 ? {} : { note: [...notes.values()].join('; ') };
}

/** What is worth a write of its own: token counts, cost, a worktree, anything from a real agent. */
function hasRunInfo(run: AgentRunInfo): boolean {
  return (
    run.inputTokens !== undefined ||
    run.outputTokens !== undefined ||
    run.costUsd !== undefined ||
    run.sessionId !== undefined ||
    run.worktree !== undefined
  );
}

function scaleOf(env: NodeJS.ProcessEnv): { scale?: number } {
  const scale = simScale(env);
  return scale === undefined ? {} : { scale };
}

function copyUsage(output: AgentOutput, run: AgentRunInfo): void {
  if (output.inputTokens !== undefined) run.inputTokens = output.inputTokens;
  if (output.outputTokens !== undefined) run.outputTokens = output.outputTokens;
  if (output.cacheTokens !== undefined) run.cacheTokens = output.cacheTokens;
  if (output.costUsd !== undefined) run.costUsd = output.costUsd;
  if (output.sessionId !== undefined) run.sessionId = output.sessionId;
}

/** Why a run failed, in one line. `agentError`: the error the agent reported itself (Claude Code's is_error result), which says more than its stderr. */
export function describeFailure(f: RunFailure, agentError?: string): { reason: string; retryable: boolean } {
  switch (f.reason) {
    case 'exit': {
      const said = agentError === undefined ? '' : firstLine(agentError);
      const last = said === '' ? lastLine(f.stderrTail) : said;
      return { reason: `exit ${f.exitCode}${last === '' ? '' : `: ${last}`}`, retryable: true };
    }
    case 'signal':
      return { reason: `killed by ${f.signal}`, retryable: true };
    case 'timeout':
      return { reason: `timed out after ${formatDuration(f.timeoutMs)}`, retryable: true };
    case 'spawn':
      return { reason: f.message, retryable: false };
    case 'cancelled':
      return { reason: 'cancelled', retryable: false };
  }
}

function readResultFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

function capResult(text: string, logPath: string): string {
  if (text.length <= RESULT_LIMIT) return text;
  return `${text.slice(0, RESULT_LIMIT)}\n\n[result cut at ${RESULT_LIMIT} characters; the full output is in ${logPath}]`;
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 200);
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(0, 200);
}

// ---- tasklane worker ----

export interface WorkerOptions extends ExecConfig {
  /** Tasks run at once by this worker. */
  slots: number;
  /** Run one task (or none, if nothing is ready) and exit. */
  once: boolean;
  /** Exit after this long with nothing to do. Undefined: run until stopped. */
  idleExitMs?: number;
  retries: number;
  backoff: BackoffOptions;
  /** Safety floor: reap expired leases and look again this often even without a change event. */
  floorMs: number;
}

export interface WorkerReport {
  completed: string[];
  failed: string[];
  cancelled: string[];
  /** Why the worker stopped. */
  stop: 'once' | 'idle' | 'signal';
}

/**
 * The claim loop of `tasklane worker`: each slot claims the best ready task, runs it, and when
 * nothing is claimable sleeps until the change feed reports a change, a lease it saw runs out,
 * or the safety floor comes round.
 */
export async function runWorker(opts: WorkerOptions, signals: ExecSignals): Promise<WorkerReport> {
  const { store, events } = opts;
  // With --worktree: a repository to work in, and its HEAD now as the base of tasks without blockers.
  if (opts.worktree) await repositoryOf(opts.cwd);
  const report: WorkerReport = { completed: [], failed: [], cancelled: [], stop: 'signal' };
  const feed = new ChangeFeed(store, {
    onError: (e) =>
      events.emit({
        type: 'warning',
        message: `change feed unavailable (${(e as Error).message}); looking every ${formatDuration(opts.floorMs)}`,
      }),
  });
  // With --once, the one task's retries belong to this worker: it waits for each and runs it again.
  const retried = new Map<string, (ok: boolean) => void>();
  const retrier = new Retrier(store, opts.retries, opts.backoff, (taskId, e) => {
    if (e === undefined) events.emit({ type: 'retry', taskId });
    retried.get(taskId)?.(e === undefined);
    retried.delete(taskId);
  });
  const retryOf = async (id: string, owner: string): Promise<Claim | null> => {
    if (!retrier.has(id) || stopped) return null;
    const ok = await new Promise<boolean>((resolve) => {
      retried.set(id, resolve);
      slotSignals.cancel.addEventListener('abort', () => resolve(false), { once: true });
    });
    if (!ok || stopped) return null;
    try {
      return await bounded(store.claim({ owner, taskId: id, leaseMs: opts.leaseMs }));
    } catch (e) {
      events.emit({
        type: 'warning',
        message: `#${id} was taken or changed before its retry: ${(e as Error).message}`,
      });
      return null;
    }
  };
  let busy = 0;
  let idleSince = Date.now();
  let stopped = false;
  let ranOnce = false;
  const stop = (why: WorkerReport['stop']) => {
    if (stopped) return;
    stopped = true;
    report.stop = why;
    feed.poke();
  };
  signals.cancel.addEventListener('abort', () => stop('signal'), { once: true });
  // A slot that fails (the store out of reach for a lease: its outcome or its lease could not be
  // recorded) ends the worker with that error, once the other slots have stopped their agents
  // and released their tasks: none is left running behind a worker that has given up.
  const failed = new AbortController();
  const slotSignals: ExecSignals = { cancel: AbortSignal.any([signals.cancel, failed.signal]), hard: signals.hard };
  let failure: { error: unknown } | undefined;
  // A store call of the claim loop gets at most a lease for its answer: on a connection that
  // hangs it would hold the slot, and the worker's end, until TCP gives up. A second Ctrl-C or
  // another slot's failure gives up on it at once.
  const giveUpOn = AbortSignal.any([signals.hard, failed.signal]);
  const bounded = <T>(call: Promise<T>): Promise<T> =>
    answerBy(call, { deadline: Date.now() + opts.leaseMs, stop: giveUpOn });

  const slot = async (n: number): Promise<void> => {
    const owner = ownerId('worker', n);
    while (!stopped) {
      const seen = feed.seq;
      let claim: Claim | null = null;
      if (!(opts.once && ranOnce)) {
        try {
          claim = await bounded(store.claim({ owner, leaseMs: opts.leaseMs }));
        } catch (e) {
          events.emit({ type: 'warning', message: `claim failed: ${(e as Error).message}` });
        }
      }
      if (stopped && claim !== null) {
        await bounded(store.release(claim.task.id, { owner, token: claim.token })).catch(() => {});
        break;
      }
      if (claim !== null) {
        ranOnce = true;
        busy++;
        for (let run: Claim | null = claim; run !== null; ) {
          const outcome = await executeClaim(run, owner, opts, slotSignals);
          idleSince = Date.now();
          record(outcome, run.task, report, retrier, events);
          // What it unblocked is for every idle slot now, not when the feed brings our own write back.
          if (outcome.kind === 'completed' && outcome.task.blocks.length > 0) feed.poke();
          run = opts.once && outcome.kind === 'failed' ? await retryOf(run.task.id, owner) : null;
        }
        busy--;
        if (opts.once) stop('once');
        continue;
      }
      if (opts.once && busy === 0) {
        stop('once');
        break;
      }
      // Nothing to claim: sleep until something changes. A lease someone holds may run out
      // without any change being written, so also wake when the earliest one does.
      let wakeIn = opts.floorMs;
      try {
        await bounded(store.reap());
        const expiry = earliestLeaseExpiry(await bounded(store.list({ status: ['in_progress'] })), Date.now());
        if (expiry !== undefined) wakeIn = Math.min(wakeIn, expiry - Date.now() + 20);
      } catch {}
      if (opts.idleExitMs !== undefined && busy === 0 && retrier.pending === 0) {
        const left = idleSince + opts.idleExitMs - Date.now();
        if (left <= 0) {
          stop('idle');
          break;
        }
        wakeIn = Math.min(wakeIn, left);
      }
      await feed.wait(seen, Math.max(10, wakeIn));
    }
  };
  await Promise.all(
    Array.from({ length: opts.slots }, (_, i) =>
      slot(i + 1).catch((error: unknown) => {
        failure ??= { error };
        stopped = true;
        failed.abort();
        feed.poke();
      }),
    ),
  );
  retrier.cancelAll();
  feed.close();
  if (failure !== undefined) throw failure.error;
  return report;
}

function record(
  outcome: TaskOutcome,
  claimed: Task,
  report: WorkerReport,
  retrier: Retrier,
  events: EngineEvents,
): void {
  const id = claimed.id;
  const retryInMs = outcome.kind === 'failed' && outcome.retryable ? retrier.schedule(id) : undefined;
  if (outcome.kind === 'completed') report.completed.push(id);
  else if (outcome.kind === 'failed' && retryInMs === undefined) report.failed.push(id);
  else if (outcome.kind === 'cancelled') report.cancelled.push(id);
  events.emit(finishEvent(claimed, outcome, { cancelReason: 'stopped', retryInMs }));
}

/** The progress event for a run of `task` that ended: `retryInMs` when a retry is scheduled, `cancelReason` for a stop. */
export function finishEvent(
  task: { id: string; subject: string },
  outcome: TaskOutcome,
  opts: { cancelReason: string; retryInMs: number | undefined },
): EngineEvent {
  const base = {
    type: 'finish',
    taskId: task.id,
    subject: task.subject,
    durationMs: outcome.durationMs,
    at: Date.now(),
  } as const;
  switch (outcome.kind) {
    case 'completed':
      return { ...base, outcome: 'completed', usage: outcome.run };
    case 'failed':
      return {
        ...base,
        outcome: 'failed',
        reason: outcome.reason,
        ...(opts.retryInMs === undefined ? {} : { retryInMs: opts.retryInMs }),
      };
    case 'cancelled':
      return { ...base, outcome: 'cancelled', reason: opts.cancelReason };
    case 'lost':
      return { ...base, outcome: 'lost', reason: outcome.reason };
  }
}
