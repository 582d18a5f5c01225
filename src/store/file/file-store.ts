import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertNoCycle,
  assertTaskId,
  checkDurationMs,
  checkEstimate,
  checkLabels,
  checkMetadata,
  checkOwner,
  checkPriority,
  checkStoredTask,
  checkSubject,
  checkText,
  checkVerify,
  claimQueue,
  claimTask,
  compareIds,
  completeTask,
  cycleFor,
  editTask,
  failTask,
  heartbeatTask,
  isClaimable,
  isNumericId,
  isTasklaneError,
  type Lease,
  labelsOf,
  listDirName,
  type Moment,
  reapTask,
  releaseTask,
  retryTask,
  revisionOf,
  serializeTask,
  stateOf,
  type Task,
  TasklaneError,
  type TasklaneFields,
  type TaskState,
  tasklaneFields,
  withoutCyclicEdges,
  withTasklaneFields,
} from '../../model/index.js';
import type { Location } from '../location.js';
import type { OpenOptions } from '../open.js';
import type {
  Change,
  ChangeKind,
  Claim,
  ClaimInput,
  CompleteInput,
  CreateInput,
  DoctorOptions,
  DoctorReport,
  FailInput,
  HistoryQuery,
  HolderInput,
  JournalEntry,
  ListFilter,
  ListSummary,
  StoreStats,
  TaskStore,
  UpdateInput,
  UpdateOptions,
  WatchOptions,
} from '../types.js';
import { ClaimIndex } from './claim-index.js';
import { runDoctor } from './doctor.js';
import { fsyncDir, writeFileDurable } from './durable.js';
import { takeFeedStart } from './feed-start.js';
import { appendJournal, readJournal } from './journal.js';
import { listSummaries } from './lists.js';
import { ensureLockTarget, type LockHandle, lock, tryLock } from './lock.js';
import { maxNumericFileId, readHighWaterMark, readTaskFile, scanList, scanWhole, taskFileName } from './task-files.js';

// The default store: Claude Code's own files, layout, bytes, ids and locks.
// Writes of one task happen under its task lock; id allocation, dependency changes and deletes
// under the list lock (list lock first, then task locks in id order, so nothing deadlocks).

export const DEFAULT_LEASE_MS = 60_000;

export class FileStore implements TaskStore {
  readonly listId: string;
  readonly location: string;
  readonly descriptor: string;
  readonly artifactsDir: string;
  /** The directory that holds one directory per list. */
  readonly root: string;
  /** The list directory (Claude Code's `tasks/<list>`). */
  readonly listDir: string;
  /** Tasklane's append-only history of the list, outside the list directory. */
  readonly journalPath: string;
  private readonly onWarning: (message: string) => void;
  private readonly warned = new Set<string>();
  private claimIndexCache: ClaimIndex | undefined;

  constructor(where: Location, options: OpenOptions = {}) {
    this.listId = where.list;
    this.listDir = where.listDir;
    this.location = where.listDir;
    this.descriptor = where.descriptor;
    this.artifactsDir = where.artifactsDir;
    this.root = where.root;
    this.journalPath = join(where.root, '.tasklane', listDirName(where.list), 'journal.jsonl');
    this.onWarning = options.onWarning ?? (() => {});
  }

  // ---- reading ----

  /** Every valid task in the list, read now. Invalid files are reported once each and skipped. */
  scan(): Map<string, Task> {
    const { tasks, invalid } = scanList(this.listDir);
    for (const err of invalid) {
      if (this.warned.has(err.message)) continue;
      this.warned.add(err.message);
      this.onWarning(`skipping ${err.message}`);
    }
    return tasks;
  }

  async get(id: string): Promise<Task> {
    return this.mustRead(assertTaskId(id));
  }

  async list(filter: ListFilter = {}): Promise<Task[]> {
    const byId = this.scan();
    const wantState = filter.state !== undefined && filter.state.length > 0 ? new Set(filter.state) : undefined;
    const wantStatus = filter.status !== undefined && filter.status.length > 0 ? new Set(filter.status) : undefined;
    const now = new Date();
    const out: Task[] = [];
    for (const task of byId.values()) {
      if (wantStatus !== undefined && !wantStatus.has(task.status)) continue;
      if (filter.owner !== undefined && task.owner !== filter.owner) continue;
      if (filter.label !== undefined && !labelsOf(task).includes(filter.label)) continue;
      if (wantState !== undefined && !wantState.has(stateOf(task, byId, now))) continue;
      out.push(task);
    }
    return out.sort((a, b) => compareIds(a.id, b.id));
  }

  async ready(): Promise<Task[]> {
    return claimQueue(this.scan(), new Date());
  }

  async lists(): Promise<ListSummary[]> {
    return listSummaries(this.root);
  }

  async stats(): Promise<StoreStats> {
    const byId = this.scan();
    const now = new Date();
    const byState: Record<TaskState, number> = {
      ready: 0,
      expired: 0,
      blocked: 0,
      assigned: 0,
      in_progress: 0,
      failed: 0,
      completed: 0,
    };
    const byStatus: Record<Task['status'], number> = { pending: 0, in_progress: 0, completed: 0 };
    const owners: Record<string, number> = {};
    for (const task of byId.values()) {
      byState[stateOf(task, byId, now)]++;
      byStatus[task.status]++;
      if (task.owner !== undefined && task.status !== 'completed') owners[task.owner] = (owners[task.owner] ?? 0) + 1;
    }
    return { list: this.listId, total: byId.size, byState, byStatus, owners };
  }

  // ---- writing ----

  async create(input: CreateInput, opts: UpdateOptions = {}): Promise<Task> {
    checkSubject(input.subject);
    checkText('description', input.description);
    checkText('activeForm', input.activeForm);
    if (input.owner !== undefined) checkOwner(input.owner);
    checkPriority(input.priority);
    checkLabels(input.labels);
    checkEstimate(input.estimate);
    checkVerify(input.verify);
    checkMetadata(input.metadata);
    const blockedBy = unique((input.blockedBy ?? []).map((id) => assertTaskId(id, 'blockedBy')));
    const blocks = unique((input.blocks ?? []).map((id) => assertTaskId(id, 'blocks')));

    // A list that does not exist yet holds no task to reference: refuse before making its directory.
    const missing = blockedBy[0] ?? blocks[0];
    if (missing !== undefined && !existsSync(this.listDir)) {
      throw new TasklaneError(
        'NOT_FOUND',
        `${blockedBy.length > 0 ? 'blockedBy' : 'blocks'}: no task ${missing} in list ${this.listId}`,
        {
          task: missing,
          field: blockedBy.length > 0 ? 'blockedBy' : 'blocks',
          list: this.listId,
        },
      );
    }
    return this.withListLock(async () => {
      const id = String(Math.max(maxNumericFileId(this.listDir), readHighWaterMark(this.listDir)) + 1);
      for (const [field, ids] of [
        ['blockedBy', blockedBy],
        ['blocks', blocks],
      ] as const) {
        for (const other of ids) {
          if (other === id) {
            throw new TasklaneError('CYCLE', `task ${id} cannot block itself (${field} names the new task's own id)`, {
              task: id,
              field,
              cycle: [id, id],
            });
          }
          if (this.read(other) === undefined) {
            throw new TasklaneError('NOT_FOUND', `${field}: no task ${other} in list ${this.listId}`, {
              task: other,
              field,
              list: this.listId,
            });
          }
        }
      }
      const now = new Date().toISOString();
      const fields: TasklaneFields = { rev: 1, createdAt: now, updatedAt: now };
      if (input.priority !== undefined) fields.priority = input.priority;
      if (input.labels !== undefined && input.labels.length > 0) fields.labels = input.labels;
      if (input.estimate !== undefined) fields.estimate = input.estimate;
      if (input.verify !== undefined) fields.verify = input.verify;
      const task = withTasklaneFields(
        {
          id,
          subject: input.subject,
          description: input.description ?? '',
          ...(input.activeForm === undefined ? {} : { activeForm: input.activeForm }),
          status: 'pending',
          blocks,
          blockedBy,
          ...(input.owner === undefined ? {} : { owner: input.owner }),
          metadata: { ...(input.metadata ?? {}) },
        },
        fields,
      );
      if (blocks.length > 0 && blockedBy.length > 0) {
        const byId = scanWhole(this.listDir, `check new task ${id}'s dependencies for a cycle`);
        byId.set(id, task);
        for (const blocker of blockedBy) {
          const cycle = cycleFor(byId, blocker, id);
          if (cycle !== undefined) {
            throw new TasklaneError('CYCLE', `task ${id} would close a cycle: ${cycle.join(' -> ')}`, {
              task: id,
              cycle,
            });
          }
        }
      }
      this.write(task, 'created', opts.actor);
      for (const blocker of blockedBy) await this.link(blocker, 'blocks', id, opts.actor);
      for (const blocked of blocks) await this.link(blocked, 'blockedBy', id, opts.actor);
      return task;
    });
  }

  async update(id: string, patch: UpdateInput, opts: UpdateOptions = {}): Promise<Task> {
    const taskId = assertTaskId(id);
    if (patch.subject !== undefined) checkSubject(patch.subject);
    checkText('description', patch.description);
    checkText('activeForm', patch.activeForm);
    if (patch.owner !== undefined && patch.owner !== null) checkOwner(patch.owner);
    if (patch.status !== undefined && !['pending', 'in_progress', 'completed'].includes(patch.status)) {
      throw new TasklaneError(
        'INVALID_INPUT',
        `status must be one of pending, in_progress, completed; got ${JSON.stringify(patch.status)}`,
        { field: 'status', task: taskId },
      );
    }
    checkPriority(patch.priority);
    checkLabels(patch.labels);
    checkEstimate(patch.estimate);
    if (patch.verify !== null) checkVerify(patch.verify);
    if (patch.metadata !== undefined) checkMetadata(patch.metadata);
    const edges = edgeChanges(taskId, patch);

    if (edges.length === 0) {
      return this.withTaskLock(taskId, async () => {
        const task = this.mustRead(taskId);
        this.checkRevision(task, opts);
        const { task: next, kind } = editTask(task, patch, this.moment());
        return this.write(next, kind, opts.actor);
      });
    }
    // Fields and edges together, all or nothing: everything is checked against one view taken
    // under the list lock (which every edge change holds) before the first write.
    return this.withListLock(async () => {
      // A cycle check never trusts a scan that skipped a file (one being rewritten in place).
      const byId = edges.some((e) => e.field.startsWith('add'))
        ? scanWhole(this.listDir, `check the edges of #${taskId} for a cycle`)
        : new Map(this.scan());
      for (const { field, other } of edges) {
        // Removing a reference to a task that is gone is allowed: it tidies a dangling id.
        if (field.startsWith('add') && !byId.has(other)) {
          throw new TasklaneError('NOT_FOUND', `${field}: no task ${other} in list ${this.listId}`, {
            task: other,
            field,
            list: this.listId,
          });
        }
      }
      if (!byId.has(taskId)) throw this.notFound(taskId);
      const proposed = applyEdges(byId, taskId, edges);
      for (const { field, other } of edges) {
        if (field === 'addBlocks') assertNoCycle(proposed, taskId, other, this.listId);
        if (field === 'addBlockedBy') assertNoCycle(proposed, other, taskId, this.listId);
      }
      const ids = [...new Set([taskId, ...edges.map((e) => e.other)])].filter((x) => byId.has(x)).sort(compareIds);
      const handles: LockHandle[] = [];
      try {
        for (const lockId of ids) handles.push(await this.lockTask(lockId));
        // Re-read under the task locks: Claude Code edits fields without the list lock.
        const fresh = new Map<string, Task>();
        for (const lockId of ids) fresh.set(lockId, this.mustRead(lockId));
        const task = fresh.get(taskId) as Task;
        this.checkRevision(task, opts);
        const edited = editTask(task, patch, this.moment());
        const after = applyEdges(new Map([...fresh, [taskId, edited.task]]), taskId, edges);
        const writes = ids
          .filter((id) => id === taskId || !sameEdges(fresh.get(id) as Task, after.get(id) as Task))
          .map((id) => ({
            id,
            task: after.get(id) as Task,
            gainsBlocker: gainsBlocker(fresh.get(id) as Task, after.get(id) as Task),
          }));
        // Every task is checked before the first write, so a size limit cannot stop the update halfway.
        for (const w of writes) checkStoredTask(w.task);
        // Tasks gaining a blocker first: blockedBy decides readiness, so a crash between the writes
        // leaves a task blocked (never ready early) and a one-sided edge the cycle checks still count.
        writes.sort((a, b) => Number(b.gainsBlocker) - Number(a.gainsBlocker));
        let main: Task | undefined;
        for (const w of writes) {
          const written = this.write(w.task, w.id === taskId ? edited.kind : 'dependency', opts.actor);
          if (w.id === taskId) main = written;
        }
        return main as Task;
      } finally {
        for (const h of handles.reverse()) h.release();
      }
    });
  }

  async delete(id: string, opts: UpdateOptions = {}): Promise<Task> {
    const taskId = assertTaskId(id);
    return this.withListLock(async () => {
      const task = await this.withTaskLock(taskId, async () => {
        const current = this.mustRead(taskId);
        if (isNumericId(taskId)) {
          const hwm = readHighWaterMark(this.listDir);
          if (Number(taskId) > hwm) writeFileDurable(join(this.listDir, '.highwatermark'), taskId);
        }
        unlinkSync(this.pathOf(taskId));
        fsyncDir(this.listDir);
        appendJournal(this.journalPath, 'deleted', current, opts.actor);
        return current;
      });
      for (const other of this.scan().values()) {
        if (other.blocks.includes(taskId) || other.blockedBy.includes(taskId)) {
          await this.withTaskLock(other.id, async () => {
            const fresh = this.read(other.id);
            if (fresh === undefined) return;
            this.write(
              {
                ...fresh,
                blocks: fresh.blocks.filter((x) => x !== taskId),
                blockedBy: fresh.blockedBy.filter((x) => x !== taskId),
              },
              'dependency',
              opts.actor,
            );
          });
        }
      }
      return task;
    });
  }

  async addDependency(blocker: string, blocked: string, opts: UpdateOptions = {}): Promise<void> {
    const a = assertTaskId(blocker, 'blocker');
    const b = assertTaskId(blocked, 'blocked');
    await this.withListLock(async () => {
      const byId = scanWhole(this.listDir, `check #${a} blocking #${b} for a cycle`);
      for (const [field, id] of [
        ['blocker', a],
        ['blocked', b],
      ] as const) {
        if (!byId.has(id)) {
          throw new TasklaneError('NOT_FOUND', `${field}: no task ${id} in list ${this.listId}`, {
            task: id,
            field,
            list: this.listId,
          });
        }
      }
      assertNoCycle(byId, a, b, this.listId);
      // The blockedBy side first: it decides readiness, so a crash between the two writes leaves
      // the task blocked (never ready early) and a one-sided edge that cycle checks still count.
      await this.link(b, 'blockedBy', a, opts.actor);
      await this.link(a, 'blocks', b, opts.actor);
    });
  }

  async removeDependency(blocker: string, blocked: string, opts: UpdateOptions = {}): Promise<void> {
    const a = assertTaskId(blocker, 'blocker');
    const b = assertTaskId(blocked, 'blocked');
    await this.withListLock(async () => {
      this.mustRead(a);
      this.mustRead(b);
      await this.unlink(a, 'blocks', b, opts.actor);
      await this.unlink(b, 'blockedBy', a, opts.actor);
    });
  }

  // ---- claims and leases ----
  // Each transition: lock the task, read it, apply the model's transition, write.

  async claim(input: ClaimInput): Promise<Claim | null> {
    checkOwner(input.owner);
    const leaseMs = input.leaseMs ?? DEFAULT_LEASE_MS;
    checkDurationMs('leaseMs', leaseMs);
    if (input.taskId !== undefined) {
      const id = assertTaskId(input.taskId, 'taskId');
      return this.withTaskLock(id, async () => this.claimLocked(this.mustRead(id), input.owner, leaseMs));
    }
    // The first task of the claim queue, from an in-memory view kept fresh from the journal. A
    // task whose lock another process holds is being taken: skip it and try the next (SQL's SKIP
    // LOCKED) rather than wait. Each is re-checked under its lock, so a stale view only costs a skip.
    const index = this.claimIndex;
    for (let pass = 0; pass < 2; pass++) {
      index.refresh(pass > 0);
      for (let id = index.next(new Date(), input.owner); id !== undefined; id = index.next(new Date(), input.owner)) {
        const handle = this.tryLockTask(id);
        if (handle !== undefined) {
          try {
            const task = this.read(id);
            if (task !== undefined && this.claimableUnderLock(task, input.owner)) {
              return this.claimLocked(task, input.owner, leaseMs);
            }
          } finally {
            handle.release();
          }
        }
        index.skip(id);
        index.refresh();
      }
    }
    return null;
  }

  async heartbeat(id: string, holder: HolderInput, leaseMs = DEFAULT_LEASE_MS): Promise<Claim> {
    const taskId = assertTaskId(id);
    checkDurationMs('leaseMs', leaseMs);
    return this.withTaskLock(taskId, async () => {
      const next = this.write(
        heartbeatTask(this.mustRead(taskId), holder, leaseMs, this.moment()),
        'heartbeat',
        holder.owner,
      );
      const lease = tasklaneFields(next).lease as Lease;
      return { task: next, token: lease.token, expiresAt: lease.expiresAt };
    });
  }

  async release(id: string, holder: HolderInput): Promise<Task> {
    const taskId = assertTaskId(id);
    return this.withTaskLock(taskId, async () =>
      this.write(releaseTask(this.mustRead(taskId), holder, this.moment()), 'released', holder.owner),
    );
  }

  async complete(id: string, holder: CompleteInput): Promise<Task> {
    const taskId = assertTaskId(id);
    checkText('result', holder.result);
    if (holder.metadata !== undefined) checkMetadata(holder.metadata);
    const outcome = {
      ...(holder.result === undefined ? {} : { result: holder.result }),
      ...(holder.metadata === undefined ? {} : { metadata: holder.metadata }),
    };
    return this.withTaskLock(taskId, async () =>
      this.write(completeTask(this.mustRead(taskId), holder, outcome, this.moment()), 'completed', holder.owner),
    );
  }

  async fail(id: string, holder: FailInput): Promise<Task> {
    const taskId = assertTaskId(id);
    checkText('reason', holder.reason, false);
    if (holder.metadata !== undefined) checkMetadata(holder.metadata);
    return this.withTaskLock(taskId, async () =>
      this.write(
        failTask(this.mustRead(taskId), holder, holder.reason, this.moment(), holder.metadata),
        'failed',
        holder.owner,
      ),
    );
  }

  async retry(id: string, opts: UpdateOptions = {}): Promise<Task> {
    const taskId = assertTaskId(id);
    return this.withTaskLock(taskId, async () =>
      this.write(retryTask(this.mustRead(taskId), this.moment()), 'retried', opts.actor),
    );
  }

  async reap(now: Date = new Date()): Promise<Task[]> {
    const reaped: Task[] = [];
    for (const task of this.scan().values()) {
      if (reapTask(task, { now }) === undefined) continue;
      // Skip a task another process is moving; the next reap sees it.
      const handle = this.tryLockTask(task.id);
      if (handle === undefined) continue;
      try {
        const fresh = this.read(task.id);
        const next = fresh === undefined ? undefined : reapTask(fresh, { now });
        if (next !== undefined) reaped.push(this.write(next, 'released', 'reaper'));
      } finally {
        handle.release();
      }
    }
    return reaped;
  }

  // ---- history ----

  async history(query: HistoryQuery = {}): Promise<JournalEntry[]> {
    let entries = readJournal(this.journalPath);
    if (query.taskId !== undefined) {
      const id = assertTaskId(query.taskId, 'taskId');
      entries = entries.filter((e) => e.taskId === id);
    }
    if (query.limit !== undefined && entries.length > query.limit) entries = entries.slice(-query.limit);
    return entries;
  }

  async restore(ids?: string[], opts: UpdateOptions = {}): Promise<Task[]> {
    const wanted = ids?.map((id) => assertTaskId(id));
    const last = new Map<string, Task>();
    for (const entry of readJournal(this.journalPath)) last.set(entry.taskId, entry.task);
    return this.withListLock(async () => {
      const present = this.scan();
      let targets: string[];
      if (wanted !== undefined && wanted.length > 0) {
        for (const id of wanted) {
          if (!last.has(id)) {
            throw new TasklaneError('NOT_FOUND', `the history of list ${this.listId} has no task ${id}`, {
              task: id,
              list: this.listId,
            });
          }
        }
        targets = wanted.filter((id) => !present.has(id));
      } else {
        targets = [...last.keys()].filter((id) => !present.has(id)).sort(compareIds);
      }
      const exists = new Set([...present.keys(), ...targets]);
      const graph = new Map(present); // edges added since a task was deleted must not close a cycle through it
      const restored: Task[] = [];
      for (const id of targets) {
        const snapshot = last.get(id) as Task;
        const fields = { ...tasklaneFields(snapshot) };
        delete fields.lease;
        fields.rev = (fields.rev ?? 0) + 1;
        fields.updatedAt = new Date().toISOString();
        const { task, dropped } = withoutCyclicEdges(
          graph,
          withTasklaneFields(
            {
              ...snapshot,
              blocks: snapshot.blocks.filter((x) => exists.has(x)),
              blockedBy: snapshot.blockedBy.filter((x) => exists.has(x)),
            },
            fields,
          ),
        );
        for (const [a, b] of dropped) this.onWarning(`restore: left out #${a} blocking #${b}: it would close a cycle`);
        graph.set(id, task);
        writeFileDurable(this.pathOf(id), serializeTask(task));
        appendJournal(this.journalPath, 'restored', task, opts.actor);
        restored.push(task);
      }
      // Put back the other side of each edge (restored tasks' snapshots may predate an edge's other side).
      for (const task of restored) {
        for (const other of task.blockedBy) await this.link(other, 'blocks', task.id, opts.actor);
        for (const other of task.blocks) await this.link(other, 'blockedBy', task.id, opts.actor);
      }
      return restored;
    });
  }

  // ---- integrity ----

  async doctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
    return runDoctor(
      {
        listId: this.listId,
        listDir: this.listDir,
        withListLock: (fn) => this.withListLock(fn),
        editTask: (id, edit, actor) =>
          this.withTaskLock(id, async () => {
            const task = this.read(id);
            const next = task === undefined ? undefined : edit(task);
            if (next !== undefined) this.write(next, 'dependency', actor);
          }),
      },
      opts,
    );
  }

  // ---- change feed ----

  watch(options: WatchOptions = {}): AsyncIterable<Change> {
    // The feed's code loads on first iteration (most commands never watch), but it starts now:
    // changes made after this call are delivered even if iteration begins later.
    const start = takeFeedStart(this.journalPath, () => this.scan());
    const feed = async () => {
      const { watchList } = await import('./watch.js');
      return watchList({
        listDir: this.listDir,
        journalPath: this.journalPath,
        list: this.listId,
        scan: () => this.scan(),
        onWarning: this.onWarning,
        start,
        ...options,
      })[Symbol.asyncIterator]();
    };
    return {
      [Symbol.asyncIterator](): AsyncIterator<Change> {
        let inner: Promise<AsyncIterator<Change>> | undefined;
        const get = () => {
          inner ??= feed();
          return inner;
        };
        return {
          next: async () => (await get()).next(),
          return: async () => {
            const it = await get();
            return it.return === undefined ? { done: true, value: undefined } : it.return();
          },
        };
      },
    };
  }

  async close(): Promise<void> {}

  // ---- internals ----

  private get claimIndex(): ClaimIndex {
    this.claimIndexCache ??= new ClaimIndex(this.journalPath, () => this.scan());
    return this.claimIndexCache;
  }

  private pathOf(id: string): string {
    return join(this.listDir, taskFileName(id));
  }

  private read(id: string): Task | undefined {
    return readTaskFile(this.pathOf(id));
  }

  private mustRead(id: string): Task {
    const task = this.read(id);
    if (task === undefined) throw this.notFound(id);
    return task;
  }

  /** Writes a task durably with its revision bumped, then records the change in the journal. */
  private write(task: Task, kind: ChangeKind, actor?: string): Task {
    const fields = tasklaneFields(task);
    const next = withTasklaneFields(task, {
      ...fields,
      rev: revisionOf(task) + (kind === 'created' ? 0 : 1),
      updatedAt: kind === 'created' ? fields.updatedAt : new Date().toISOString(),
    });
    checkStoredTask(next);
    writeFileDurable(this.pathOf(next.id), serializeTask(next));
    appendJournal(this.journalPath, kind, next, actor);
    return next;
  }

  /** Adds `other` to `field` of task `id` under its lock (no-op if present). */
  private async link(id: string, field: 'blocks' | 'blockedBy', other: string, actor?: string): Promise<void> {
    await this.withTaskLock(id, async () => {
      const task = this.read(id);
      if (task === undefined || task[field].includes(other)) return;
      this.write({ ...task, [field]: [...task[field], other] }, 'dependency', actor);
    });
  }

  private async unlink(id: string, field: 'blocks' | 'blockedBy', other: string, actor?: string): Promise<void> {
    await this.withTaskLock(id, async () => {
      const task = this.read(id);
      if (task === undefined || !task[field].includes(other)) return;
      this.write({ ...task, [field]: task[field].filter((x) => x !== other) }, 'dependency', actor);
    });
  }

  private ensureDir(): void {
    mkdirSync(this.listDir, { recursive: true });
    ensureLockTarget(join(this.listDir, '.lock'));
  }

  private async withListLock<T>(fn: () => Promise<T>): Promise<T> {
    this.ensureDir();
    const handle: LockHandle = await lock(join(this.listDir, '.lock'), { what: `list ${this.listId}` });
    try {
      return await fn();
    } finally {
      handle.release();
    }
  }

  /** Takes a task's lock; a missing list directory means the task does not exist. */
  private async lockTask(id: string): Promise<LockHandle> {
    try {
      return await lock(this.pathOf(id), { what: `task ${id}` });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw this.notFound(id);
      throw err;
    }
  }

  /** One attempt at a task's lock; undefined when held by someone else or the list is gone. */
  private tryLockTask(id: string): LockHandle | undefined {
    try {
      return tryLock(this.pathOf(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private notFound(id: string): TasklaneError {
    return new TasklaneError('NOT_FOUND', `no task ${id} in list ${this.listId} (${this.listDir})`, {
      task: id,
      list: this.listId,
    });
  }

  private async withTaskLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const handle = await this.lockTask(id);
    try {
      return await fn();
    } finally {
      handle.release();
    }
  }

  /** The time now and a fresh token, for the model's transitions. */
  private moment(): Moment {
    return { now: new Date(), token: globalThis.crypto.randomUUID() };
  }

  private checkRevision(task: Task, opts: UpdateOptions): void {
    if (opts.expectedRev !== undefined && revisionOf(task) !== opts.expectedRev) {
      throw new TasklaneError(
        'CONFLICT',
        `task ${task.id} changed: it is at revision ${revisionOf(task)}, the update expected ${opts.expectedRev}`,
        { task: task.id, list: this.listId },
      );
    }
  }

  /**
   * The task's blockers as read now. A blocker file that cannot be read (invalid JSON, a write
   * in progress past the retries) is taken as an open blocker, with a warning: one corrupt file
   * holds back only the tasks it blocks, not every claim.
   */
  private blockersOf(task: Task): Map<string, Task> {
    const byId = new Map<string, Task>([[task.id, task]]);
    for (const b of task.blockedBy) {
      try {
        const blocker = this.read(b);
        if (blocker !== undefined) byId.set(b, blocker);
      } catch (err) {
        if (!isTasklaneError(err)) throw err;
        this.warnOnce(`task ${task.id}: its blocker #${b} cannot be read, so it counts as blocked (${err.message})`);
        byId.set(b, { id: b, subject: '', description: '', status: 'pending', blocks: [task.id], blockedBy: [] });
      }
    }
    return byId;
  }

  private claimableUnderLock(task: Task, owner: string): boolean {
    return isClaimable(task, this.blockersOf(task), new Date(), owner);
  }

  /** Claims `task`, whose lock the caller holds; throws NOT_CLAIMABLE saying why not. */
  private claimLocked(task: Task, owner: string, leaseMs: number): Claim {
    let next: Task;
    try {
      next = claimTask(task, this.blockersOf(task), owner, leaseMs, this.moment());
    } catch (err) {
      if (isTasklaneError(err, 'NOT_CLAIMABLE')) {
        throw new TasklaneError('NOT_CLAIMABLE', err.message, { task: task.id, list: this.listId });
      }
      throw err;
    }
    const claimed = this.write(next, 'claimed', owner);
    const lease = tasklaneFields(claimed).lease as Lease;
    return { task: claimed, token: lease.token, expiresAt: lease.expiresAt };
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.onWarning(message);
  }
}

type EdgeField = 'addBlocks' | 'addBlockedBy' | 'removeBlocks' | 'removeBlockedBy';
interface EdgeChange {
  field: EdgeField;
  other: string;
}

/** The edge changes of an update, ids checked; a task never blocks itself. */
function edgeChanges(taskId: string, patch: UpdateInput): EdgeChange[] {
  const out: EdgeChange[] = [];
  for (const field of ['removeBlocks', 'removeBlockedBy', 'addBlocks', 'addBlockedBy'] as const) {
    const ids = patch[field];
    if (ids === undefined) continue;
    if (!Array.isArray(ids)) {
      throw new TasklaneError('INVALID_INPUT', `${field} must be an array of task ids`, { field, task: taskId });
    }
    for (const other of unique(ids.map((x) => assertTaskId(x, field)))) {
      if (other === taskId && field.startsWith('add')) {
        throw new TasklaneError('CYCLE', `task ${taskId} cannot block itself (${field} names its own id)`, {
          task: taskId,
          field,
          cycle: [taskId, taskId],
        });
      }
      out.push({ field, other });
    }
  }
  return out;
}

/** A copy of `byId` with the edge changes applied on both sides (removals first, then additions). */
function applyEdges(byId: ReadonlyMap<string, Task>, taskId: string, edges: EdgeChange[]): Map<string, Task> {
  const out = new Map(byId);
  const edit = (id: string, field: 'blocks' | 'blockedBy', other: string, add: boolean): void => {
    const t = out.get(id);
    if (t === undefined) return;
    const has = t[field].includes(other);
    if (add && !has) out.set(id, { ...t, [field]: [...t[field], other] });
    if (!add && has) out.set(id, { ...t, [field]: t[field].filter((x) => x !== other) });
  };
  for (const { field, other } of edges) {
    const add = field.startsWith('add');
    // "taskId blocks other" for *Blocks, "other blocks taskId" for *BlockedBy.
    const [blocker, blocked] = field.endsWith('BlockedBy') ? [other, taskId] : [taskId, other];
    edit(blocker, 'blocks', blocked, add);
    edit(blocked, 'blockedBy', blocker, add);
  }
  return out;
}

/** Whether `after` waits for a task `before` did not. */
function gainsBlocker(before: Task, after: Task): boolean {
  return after.blockedBy.some((id) => !before.blockedBy.includes(id));
}

function sameEdges(a: Task, b: Task): boolean {
  return a.blocks.join('\n') === b.blocks.join('\n') && a.blockedBy.join('\n') === b.blockedBy.join('\n');
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
