import {
  compareIds,
  criticalPaths,
  estimateOf,
  formatDuration,
  isFailed,
  isTasklaneError,
  revisionBefore,
  revisionOf,
  stateOf,
  type Task,
  tasklaneFields,
  timerDelay,
} from '../model/index.js';
import type { Change, Claim } from '../store/types.js';
import { ChangeFeed } from './change-feed.js';
import { type Integration, integrateRun } from './integration.js';
import { type BackoffOptions, Retrier } from './retries.js';
import { answerBy } from './retry-io.js';
import { blockedByFailure, earliestLeaseExpiry, heldByOthers, nextTasks } from './scheduler.js';
import { type AgentRunInfo, type ExecConfig, executeClaim, finishEvent, ownerId, type TaskOutcome } from './worker.js';
import { type Repository, repositoryOf } from './worktree.js';

// Drives a list to completion with N agent slots. Driven by events, never by polling: every change
// on the list's change feed (another session's write, an agent's new subtask) and every agent that
// ends re-evaluates what can start. Each start claims that exact task atomically, so two runs on
// one list never run a task twice; a task another session holds is never run. Expired leases are
// caught by a timer set to the earliest one, and a slow safety floor reaps and looks again.

export type FailurePolicy = 'continue' | 'stop' | 'kill';
/** What stopped a run from outside: Ctrl-C, SIGTERM, a closed terminal, or a closed output pipe. */
export type InterruptSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGPIPE';
export const FAILURE_POLICIES: readonly FailurePolicy[] = ['continue', 'stop', 'kill'];

export interface CoordinatorOptions extends ExecConfig {
  /** Agents at once (-j). */
  slots: number;
  onFailure: FailurePolicy;
  /** Retries of a failed task within this run. */
  retries: number;
  backoff: BackoffOptions;
  /** Safety floor: reap expired leases and re-evaluate this often even without events. */
  floorMs: number;
  /** Put tasks that had failed before this run back to pending first. */
  retryFailed: boolean;
}

/** What this run did with one task. */
export interface TaskRecord {
  /** Agent runs of this task in this run. */
  runs: number;
  outcome?: TaskOutcome['kind'];
  reason?: string;
  durationMs: number;
  log?: string;
  agent?: AgentRunInfo;
  /** What was done to the task while its agent ran, without a claim (the agent editing its own task). */
  note?: string;
}

export interface RunningTask {
  id: string;
  subject: string;
  slot: number;
  owner: string;
  phase: 'claiming' | 'running';
  startedAt: number;
  attempt: number;
  lastLine?: string;
  lastAt?: number;
}

export interface LiveStatus {
  startedAt: number;
  total: number;
  completed: number;
  failed: number;
  /** Ours. */
  running: number;
  /** Held by another session or worker. */
  elsewhere: number;
  ready: number;
  blocked: number;
  agents: RunningTask[];
  /** Rough time left, once some task has finished to calibrate estimates against. */
  etaMs?: number;
  stopping?: string;
}

export interface RunReport {
  list: string;
  startedAt: number;
  endedAt: number;
  /** Every task this run was about (not completed when it started, or added since), in id order, as they ended up. */
  tasks: Task[];
  records: Map<string, TaskRecord>;
  /** Completed before the run started, left out of `tasks`. */
  alreadyCompleted: number;
  /** Why the run stopped early: a failure under stop/kill, or a signal. */
  stopped?: string;
  interrupted?: InterruptSignal;
  /** Every task in `tasks` completed. */
  ok: boolean;
  /** With --worktree: the run's integration branch (integration.ts), or why it could not be made. */
  integration?: Integration | { error: string };
}

export class Coordinator {
  private readonly snapshot = new Map<string, Task>();
  private readonly alreadyCompleted = new Set<string>();
  private readonly running = new Map<string, RunningTask>();
  private readonly freeSlots: number[];
  /** Tasks a claim was refused for; tried again after the next change to them. */
  private readonly skip = new Set<string>();
  private readonly records = new Map<string, TaskRecord>();
  private readonly cancel = new AbortController();
  private readonly hard = new AbortController();
  private readonly retrier: Retrier;
  private feed: ChangeFeed | undefined;
  private stopping: string | undefined;
  private interrupted: InterruptSignal | undefined;
  private startedAt = 0;
  private done = false;
  private resolveDone: () => void = () => {};
  private pumpQueued = false;
  private leaseTimer: { at: number; timer: NodeJS.Timeout } | undefined;
  private floorTimer: NodeJS.Timeout | undefined;
  private floorBusy = false;
  /** Why the run ends with an error once its agents have stopped: a store out of reach (see `start`). */
  private failure: Error | undefined;

  constructor(private readonly opts: CoordinatorOptions) {
    this.freeSlots = Array.from({ length: opts.slots }, (_, i) => opts.slots - i);
    this.retrier = new Retrier(opts.store, opts.retries, opts.backoff, (taskId, e) => {
      if (e === undefined) opts.events.emit({ type: 'retry', taskId });
      void this.refresh(taskId);
    });
  }

  async run(): Promise<RunReport> {
    const { store, events } = this.opts;
    // With --worktree, the commit every task without blockers (and the integration branch) starts from.
    const repo: Repository | undefined = this.opts.worktree ? await repositoryOf(this.opts.cwd) : undefined;
    const finished = new Promise<void>((resolve) => {
      this.resolveDone = resolve;
    });
    // Subscribe before reading, so nothing written in between is missed.
    this.feed = new ChangeFeed(store, {
      onChange: (c) => this.onChange(c),
      onError: (e) => {
        events.emit({
          type: 'warning',
          message: `the change feed failed (${(e as Error).message}); looking for changes every ${formatDuration(this.opts.floorMs)} instead`,
        });
      },
    });
    this.startedAt = Date.now();
    for (const task of await store.list()) {
      this.snapshot.set(task.id, task);
      if (task.status === 'completed') this.alreadyCompleted.add(task.id);
    }
    if (this.opts.retryFailed) {
      for (const task of [...this.snapshot.values()].filter(isFailed)) {
        this.apply(await store.retry(task.id, { actor: 'tasklane-run' }));
      }
    }
    this.floorTimer = setInterval(() => void this.floor(), this.opts.floorMs);
    this.pump();
    await finished;

    clearInterval(this.floorTimer);
    if (this.leaseTimer !== undefined) clearTimeout(this.leaseTimer.timer);
    this.retrier.cancelAll();
    this.feed.close();
    if (this.failure !== undefined) throw this.failure;
    // The final word comes from the store, not from events that may still be on their way.
    for (const task of await store.list()) this.snapshot.set(task.id, task);
    const tasks = [...this.snapshot.values()]
      .filter((t) => !this.alreadyCompleted.has(t.id))
      .sort((a, b) => compareIds(a.id, b.id));
    const completed = tasks.filter((t) => t.status === 'completed');
    const integration =
      repo === undefined ? undefined : await integrateRun(repo, store.listId, this.startedAt, completed, this.snapshot);
    return {
      list: store.listId,
      startedAt: this.startedAt,
      endedAt: Date.now(),
      tasks,
      records: this.records,
      alreadyCompleted: this.alreadyCompleted.size,
      ...(this.stopping === undefined ? {} : { stopped: this.stopping }),
      ...(this.interrupted === undefined ? {} : { interrupted: this.interrupted }),
      ok: tasks.every((t) => t.status === 'completed'),
      ...(integration === undefined ? {} : { integration }),
    };
  }

  /** Ctrl-C / SIGTERM / SIGHUP / a closed pipe: start nothing more, stop the agents (SIGTERM, SIGKILL after the grace period), release their tasks. */
  interrupt(signal: InterruptSignal): void {
    if (this.interrupted !== undefined) {
      // A second Ctrl-C: SIGKILL now. Not a pipe that reports its closing again on each write.
      if (signal !== 'SIGPIPE') this.hard.abort();
      return;
    }
    this.interrupted = signal;
    this.stop(`interrupted by ${signal}`, true);
  }

  status(): LiveStatus {
    const now = Date.now();
    const s: LiveStatus = {
      startedAt: this.startedAt,
      total: 0,
      completed: 0,
      failed: 0,
      running: this.running.size,
      elsewhere: 0,
      ready: 0,
      blocked: 0,
      agents: [...this.running.values()].sort((a, b) => a.startedAt - b.startedAt),
      ...(this.stopping === undefined ? {} : { stopping: this.stopping }),
    };
    for (const task of this.snapshot.values()) {
      if (this.alreadyCompleted.has(task.id)) continue;
      s.total++;
      if (this.running.has(task.id)) continue;
      const state = stateOf(task, this.snapshot);
      if (state === 'completed') s.completed++;
      else if (state === 'failed') s.failed++;
      else if (state === 'in_progress') s.elsewhere++;
      else if (state === 'ready' || state === 'expired') s.ready++;
      else s.blocked++;
    }
    const eta = this.estimate(now);
    if (eta !== undefined) s.etaMs = eta;
    return s;
  }

  // ---- events ----

  private onChange(change: Change): void {
    if (change.kind === 'deleted') this.snapshot.delete(change.taskId);
    else if (!this.apply(change.task) && !this.skip.has(change.taskId)) {
      // The echo of a write we made and already hold (our claims and completions come back on
      // the feed): nothing to look at again. A scheduling pass walks the whole list.
      return;
    }
    this.skip.delete(change.taskId);
    this.schedulePump();
  }

  /** Takes a task into the snapshot unless what we hold is newer; whether it brought anything new. */
  private apply(task: Task): boolean {
    const current = this.snapshot.get(task.id);
    if (current !== undefined && revisionBefore(task, current)) return false;
    this.snapshot.set(task.id, task);
    if (current === undefined || revisionOf(task) > revisionOf(current)) return true;
    // Same revision: the same write, unless someone edited the file without one (Claude Code does).
    return current !== task && JSON.stringify(current) !== JSON.stringify(task);
  }

  private async refresh(taskId: string): Promise<void> {
    try {
      this.apply(await this.opts.store.get(taskId));
    } catch (e) {
      if (isTasklaneError(e, 'NOT_FOUND')) this.snapshot.delete(taskId);
    }
    this.schedulePump();
  }

  /** Coalesces a burst of events into one scheduling pass. */
  private schedulePump(): void {
    if (this.pumpQueued || this.done) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.done) return;
    if (this.stopping === undefined) {
      let free = this.opts.slots - this.running.size;
      if (free > 0) {
        const exclude = new Set([...this.running.keys(), ...this.skip]);
        for (const task of nextTasks(this.snapshot, exclude, Date.now())) {
          if (free-- <= 0) break;
          this.start(task);
        }
      }
      this.armLeaseTimer();
    }
    this.checkDone();
  }

  private start(task: Task): void {
    const slot = this.freeSlots.pop() as number;
    const entry: RunningTask = {
      id: task.id,
      subject: task.subject,
      slot,
      owner: ownerId('run', slot),
      phase: 'claiming',
      startedAt: Date.now(),
      attempt: 0,
    };
    this.running.set(task.id, entry);
    void this.drive(entry).catch((e: unknown) => {
      if (isTasklaneError(e, 'IO')) {
        // The store did not answer for a lease (the task's outcome or its lease could not be
        // recorded): the run stops its other agents and ends with this error, as a worker does.
        this.failure ??= e;
        this.stop(`the store could not be reached for task ${task.id}`, true);
      } else this.opts.events.emit({ type: 'warning', message: `task ${task.id}: ${(e as Error).message}` });
      this.finishSlot(entry);
    });
  }

  private finishSlot(entry: RunningTask): void {
    if (this.running.get(entry.id) !== entry) return;
    this.freeSlot(entry);
    this.schedulePump();
  }

  private freeSlot(entry: RunningTask): void {
    this.running.delete(entry.id);
    this.freeSlots.push(entry.slot);
  }

  private async drive(entry: RunningTask): Promise<void> {
    const { store, events } = this.opts;
    let claim: Claim;
    try {
      // At most a lease for the answer (a connection that hangs would hold the run's end until TCP
      // gives up); a second Ctrl-C gives up on it at once.
      claim = (await answerBy(store.claim({ owner: entry.owner, taskId: entry.id, leaseMs: this.opts.leaseMs }), {
        deadline: Date.now() + this.opts.leaseMs,
        stop: this.hard.signal,
      })) as Claim;
    } catch (e) {
      // Someone else took it, or our view was stale: look at it again after its next change.
      if (!isTasklaneError(e)) throw e;
      this.skip.add(entry.id);
      this.finishSlot(entry);
      await this.refresh(entry.id);
      return;
    }
    this.apply(claim.task);
    if (this.stopping !== undefined) {
      await store.release(entry.id, { owner: entry.owner, token: claim.token }).catch(() => {});
      this.finishSlot(entry);
      return;
    }
    entry.phase = 'running';
    entry.startedAt = Date.now();
    entry.attempt = tasklaneFields(claim.task).attempts ?? 1;
    const record = this.recordFor(entry.id);
    record.runs++;
    const unsubscribe = events.on((ev) => {
      if (ev.type === 'activity' && ev.taskId === entry.id) {
        entry.lastLine = ev.line;
        entry.lastAt = ev.at;
      } else if (ev.type === 'start' && ev.taskId === entry.id) {
        record.log = ev.log;
      }
    });
    let outcome: TaskOutcome;
    try {
      outcome = await executeClaim(claim, entry.owner, this.opts, {
        cancel: this.cancel.signal,
        hard: this.hard.signal,
      });
    } finally {
      unsubscribe();
    }
    record.outcome = outcome.kind;
    record.durationMs += outcome.durationMs;
    if ('task' in outcome && outcome.task !== undefined) this.apply(outcome.task);
    if ('run' in outcome) record.agent = outcome.run;
    if ('note' in outcome && outcome.note !== undefined) record.note = outcome.note;
    if (outcome.kind === 'completed' && this.running.get(entry.id) === entry) {
      // A completion starts what it unblocked now, in this turn: the dependents' claims go ahead
      // of the finish report and of whatever else is queued (other agents' exits, the feed's
      // echo of this write). Anything else may stop the run (report), so it pumps after that.
      this.freeSlot(entry);
      this.pump();
    } else this.finishSlot(entry); // before reporting, so the tallies a listener reads are current
    this.report(entry, outcome);
  }

  private report(entry: RunningTask, outcome: TaskOutcome): void {
    const record = this.recordFor(entry.id);
    const retryInMs =
      outcome.kind === 'failed' && outcome.retryable && this.stopping === undefined
        ? this.retrier.schedule(entry.id)
        : undefined;
    if (outcome.kind === 'completed') delete record.reason;
    else if (outcome.kind === 'cancelled') record.reason = this.stopping ?? 'cancelled';
    else record.reason = outcome.reason;
    const event = finishEvent({ id: entry.id, subject: entry.subject }, outcome, {
      cancelReason: record.reason ?? 'cancelled',
      retryInMs,
    });
    this.opts.events.emit(event);
    if (outcome.kind === 'failed' && retryInMs === undefined && this.opts.onFailure !== 'continue') {
      this.stop(`task ${entry.id} failed`, this.opts.onFailure === 'kill');
    }
  }

  private stop(reason: string, killRunning: boolean): void {
    if (this.stopping === undefined) {
      this.stopping = reason;
      this.opts.events.emit({ type: 'stopping', reason });
      this.retrier.cancelAll();
    }
    if (killRunning) this.cancel.abort();
    this.schedulePump();
  }

  private recordFor(id: string): TaskRecord {
    let r = this.records.get(id);
    if (r === undefined) {
      r = { runs: 0, durationMs: 0 };
      this.records.set(id, r);
    }
    return r;
  }

  // ---- the end ----

  private checkDone(): void {
    if (this.done || this.running.size > 0 || this.retrier.pending > 0) return;
    if (this.stopping === undefined) {
      const now = Date.now();
      if (nextTasks(this.snapshot, new Set(), now).length > 0) return;
      if (this.waitingOnOthers(now)) return;
    }
    this.done = true;
    this.resolveDone();
  }

  /**
   * Whether to wait for work held elsewhere: a task of the run another executor holds on a live
   * lease (it ends or its lease runs out, soon), or a task held without a lease (a Claude Code
   * session) that something unfinished waits for.
   */
  private waitingOnOthers(now: number): boolean {
    const seen = new Set<string>();
    const stack: string[] = [];
    for (const task of this.snapshot.values()) {
      if (this.running.has(task.id) || !heldByOthers(task, now)) continue;
      if (tasklaneFields(task).lease !== undefined) return true;
      stack.push(...task.blocks);
    }
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      const task = this.snapshot.get(id);
      if (task === undefined || task.status === 'completed' || isFailed(task)) continue;
      return true;
    }
    return false;
  }

  /** A timer for the earliest lease another holder has: when it runs out, that task is ours to take. */
  private armLeaseTimer(): void {
    const now = Date.now();
    const others = [...this.snapshot.values()].filter((t) => !this.running.has(t.id));
    const at = earliestLeaseExpiry(others, now);
    if (at === undefined || this.leaseTimer?.at === at) return;
    if (this.leaseTimer !== undefined) clearTimeout(this.leaseTimer.timer);
    this.leaseTimer = {
      at,
      timer: setTimeout(
        () => {
          this.leaseTimer = undefined;
          void this.floor();
        },
        timerDelay(at - now + 20), // a lease past 24 days would overflow the timer and spin
      ),
    };
  }

  /** The safety floor: reap expired leases (also for other sessions) and, without a change feed, re-read the list. */
  private async floor(): Promise<void> {
    if (this.floorBusy || this.done) return;
    this.floorBusy = true;
    try {
      for (const task of await this.opts.store.reap()) this.apply(task);
      if (this.feed?.broken === true) for (const task of await this.opts.store.list()) this.apply(task);
      this.skip.clear();
    } catch (e) {
      this.opts.events.emit({ type: 'warning', message: `rescan failed: ${(e as Error).message}` });
    } finally {
      this.floorBusy = false;
    }
    this.schedulePump();
  }

  /** Time left: the remaining critical path and work, in this run's measured seconds per estimated second. */
  private estimate(now: number): number | undefined {
    let actualMs = 0;
    let estimated = 0;
    for (const [id, r] of this.records) {
      const task = this.snapshot.get(id);
      if (r.outcome !== 'completed' || task === undefined) continue;
      actualMs += r.durationMs;
      estimated += estimateOf(task);
    }
    if (estimated === 0) return undefined;
    const msPerUnit = actualMs / estimated;
    const paths = criticalPaths(this.snapshot);
    let longest = 0;
    let work = 0;
    const memo = new Map<string, boolean>();
    for (const task of this.snapshot.values()) {
      if (task.status === 'completed' || isFailed(task) || blockedByFailure(task, this.snapshot, memo)) continue;
      const running = this.running.get(task.id);
      const spent = running === undefined ? 0 : (now - running.startedAt) / msPerUnit;
      work += Math.max(0, estimateOf(task) - spent);
      longest = Math.max(longest, (paths.get(task.id) ?? 0) - spent);
    }
    return Math.round(Math.max(longest, work / this.opts.slots) * msPerUnit);
  }
}
