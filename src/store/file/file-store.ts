import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertNoCycle,
  assertTaskId,
  checkEstimate,
  checkLabels,
  checkMetadata,
  checkOwner,
  checkPriority,
  checkSubject,
  checkText,
  compareIds,
  cycleFor,
  isNumericId,
  labelsOf,
  listDirName,
  openBlockers,
  revisionOf,
  serializeTask,
  stateOf,
  type Task,
  type TaskIndex,
  TasklaneError,
  type TasklaneFields,
  type TaskState,
  tasklaneFields,
  withTasklaneFields,
} from '../../model/index.js';
import type { Location } from '../location.js';
import type { OpenOptions } from '../open.js';
import type {
  Change,
  ChangeKind,
  Claim,
  ClaimInput,
  CreateInput,
  HistoryQuery,
  HolderInput,
  JournalEntry,
  ListFilter,
  StoreStats,
  TaskStore,
  UpdateInput,
  UpdateOptions,
  WatchOptions,
} from '../types.js';
import { ClaimIndex } from './claim-index.js';
import { fsyncDir, writeFileDurable } from './durable.js';
import { takeFeedStart } from './feed-start.js';
import { appendJournal, readJournal } from './journal.js';
import { ensureLockTarget, type LockHandle, lock, tryLock } from './lock.js';
import { maxNumericFileId, readHighWaterMark, readTaskFile, scanList, taskFileName } from './task-files.js';

// The default store: Claude Code's own files, layout, bytes, ids and locks.
// Writes of one task happen under its task lock; id allocation, dependency changes and deletes
// under the list lock (list lock first, then task locks in id order, so nothing deadlocks).

export const DEFAULT_LEASE_MS = 60_000;

export class FileStore implements TaskStore {
  readonly listId: string;
  readonly location: string;
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
    const out: Task[] = [];
    for (const task of byId.values()) {
      if (wantStatus !== undefined && !wantStatus.has(task.status)) continue;
      if (filter.owner !== undefined && task.owner !== filter.owner) continue;
      if (filter.label !== undefined && !labelsOf(task).includes(filter.label)) continue;
      if (wantState !== undefined && !wantState.has(stateOf(task, byId))) continue;
      out.push(task);
    }
    return out.sort((a, b) => compareIds(a.id, b.id));
  }

  async stats(): Promise<StoreStats> {
    const byId = this.scan();
    const byState: Record<TaskState, number> = {
      ready: 0,
      blocked: 0,
      assigned: 0,
      in_progress: 0,
      failed: 0,
      completed: 0,
    };
    const byStatus: Record<Task['status'], number> = { pending: 0, in_progress: 0, completed: 0 };
    const owners: Record<string, number> = {};
    for (const task of byId.values()) {
      byState[stateOf(task, byId)]++;
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
        const byId = new Map(this.scan());
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
    if (patch.metadata !== undefined) checkMetadata(patch.metadata);

    return this.withTaskLock(taskId, async () => {
      const task = this.mustRead(taskId);
      if (opts.expectedRev !== undefined && revisionOf(task) !== opts.expectedRev) {
        throw new TasklaneError(
          'CONFLICT',
          `task ${taskId} changed: it is at revision ${revisionOf(task)}, the update expected ${opts.expectedRev}`,
          { task: taskId, list: this.listId },
        );
      }
      let next: Task = { ...task };
      if (patch.subject !== undefined) next.subject = patch.subject;
      if (patch.description !== undefined) next.description = patch.description;
      if (patch.activeForm !== undefined) next.activeForm = patch.activeForm;
      if (patch.owner === null) delete next.owner;
      else if (patch.owner !== undefined) next.owner = patch.owner;
      if (patch.metadata !== undefined) {
        const merged: Record<string, unknown> = { ...(task.metadata ?? {}) };
        for (const [k, v] of Object.entries(patch.metadata)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        next.metadata = merged;
      }
      const fields: TasklaneFields = { ...tasklaneFields(task) };
      if (patch.priority !== undefined) fields.priority = patch.priority;
      if (patch.labels !== undefined) fields.labels = patch.labels;
      if (patch.estimate !== undefined) fields.estimate = patch.estimate;
      let kind: ChangeKind = 'updated';
      if (patch.status !== undefined && patch.status !== task.status) {
        next.status = patch.status;
        delete fields.lease;
        if (patch.status === 'completed') {
          fields.completedAt = new Date().toISOString();
          kind = 'completed';
        } else {
          delete fields.completedAt;
        }
      }
      next = withTasklaneFields(next, fields);
      return this.write(next, kind, opts.actor);
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
      const byId = this.scan();
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
      await this.link(a, 'blocks', b, opts.actor);
      await this.link(b, 'blockedBy', a, opts.actor);
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

  async claim(input: ClaimInput): Promise<Claim | null> {
    checkOwner(input.owner);
    const leaseMs = input.leaseMs ?? DEFAULT_LEASE_MS;
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new TasklaneError('INVALID_INPUT', `lease must be a positive duration, got ${leaseMs} ms`, {
        field: 'leaseMs',
      });
    }
    if (input.taskId !== undefined) {
      const id = assertTaskId(input.taskId, 'taskId');
      const handle = await this.lockTask(id);
      try {
        return this.claimLocked(id, input.owner, leaseMs, true) as Claim;
      } finally {
        handle.release();
      }
    }
    // Best ready task: candidates come from an in-memory view kept fresh from the journal; each is
    // taken with a single lock attempt and re-checked under the lock, so a stale view only costs a skip.
    const index = this.claimIndex;
    for (let pass = 0; pass < 2; pass++) {
      index.refresh(pass > 0);
      for (let id = index.next(new Date()); id !== undefined; id = index.next(new Date())) {
        const handle = this.tryLockTask(id);
        if (handle !== undefined) {
          try {
            const claim = this.claimLocked(id, input.owner, leaseMs, false);
            if (claim !== undefined) return claim;
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
    requireIdentity(holder, taskId);
    return this.withTaskLock(taskId, async () => {
      const task = this.mustRead(taskId);
      this.checkHolder(task, holder);
      const fields = tasklaneFields(task);
      if (task.status !== 'in_progress' || fields.lease === undefined || fields.failure !== undefined) {
        throw new TasklaneError(
          'NOT_OWNER',
          `task ${taskId} has no active claim to heartbeat (state ${stateOf(task, new Map())})`,
          {
            task: taskId,
          },
        );
      }
      const now = Date.now();
      const lease = {
        ...fields.lease,
        expiresAt: new Date(now + leaseMs).toISOString(),
        heartbeatAt: new Date(now).toISOString(),
      };
      const next = this.write(withTasklaneFields(task, { ...fields, lease }), 'heartbeat', holder.owner);
      return { task: next, token: lease.token, expiresAt: lease.expiresAt };
    });
  }

  async release(id: string, holder: HolderInput): Promise<Task> {
    const taskId = assertTaskId(id);
    requireIdentity(holder, taskId);
    return this.withTaskLock(taskId, async () => {
      const task = this.mustRead(taskId);
      this.checkHolder(task, holder);
      if (task.status === 'completed') {
        throw new TasklaneError('CONFLICT', `task ${taskId} is completed; there is no claim to release`, {
          task: taskId,
        });
      }
      const fields = { ...tasklaneFields(task) };
      delete fields.lease;
      const { owner: _owner, ...rest } = task;
      return this.write(withTasklaneFields({ ...rest, status: 'pending' }, fields), 'released', holder.owner);
    });
  }

  async complete(id: string, holder: HolderInput & { result?: string }): Promise<Task> {
    const taskId = assertTaskId(id);
    checkText('result', holder.result);
    return this.withTaskLock(taskId, async () => {
      const task = this.mustRead(taskId);
      this.checkHolder(task, holder);
      const fields = { ...tasklaneFields(task) };
      delete fields.lease;
      if (fields.failure !== undefined) {
        fields.failures = [...(fields.failures ?? []), fields.failure];
        delete fields.failure;
      }
      fields.completedAt = new Date().toISOString();
      if (holder.result !== undefined) fields.result = holder.result;
      return this.write(withTasklaneFields({ ...task, status: 'completed' }, fields), 'completed', holder.owner);
    });
  }

  async fail(id: string, holder: HolderInput & { reason: string }): Promise<Task> {
    const taskId = assertTaskId(id);
    checkText('reason', holder.reason, false);
    return this.withTaskLock(taskId, async () => {
      const task = this.mustRead(taskId);
      this.checkHolder(task, holder);
      if (task.status === 'completed') {
        throw new TasklaneError('CONFLICT', `task ${taskId} is already completed; it cannot fail`, { task: taskId });
      }
      const fields = { ...tasklaneFields(task) };
      delete fields.lease;
      fields.failure = { reason: holder.reason, at: new Date().toISOString(), attempt: fields.attempts ?? 0 };
      // Stays in_progress so Claude Code sessions do not pick it up; Tasklane shows it as failed.
      return this.write(withTasklaneFields({ ...task, status: 'in_progress' }, fields), 'failed', holder.owner);
    });
  }

  async retry(id: string, opts: UpdateOptions = {}): Promise<Task> {
    const taskId = assertTaskId(id);
    return this.withTaskLock(taskId, async () => {
      const task = this.mustRead(taskId);
      const fields = { ...tasklaneFields(task) };
      if (task.status === 'completed') {
        throw new TasklaneError('CONFLICT', `task ${taskId} is completed; reopen it with update --status pending`, {
          task: taskId,
        });
      }
      if (fields.failure === undefined && fields.lease !== undefined && !leaseExpired(fields.lease.expiresAt)) {
        throw new TasklaneError(
          'CONFLICT',
          `task ${taskId} is held by ${task.owner ?? fields.lease.owner} until ${fields.lease.expiresAt}; it has not failed`,
          { task: taskId },
        );
      }
      if (fields.failure !== undefined) fields.failures = [...(fields.failures ?? []), fields.failure];
      delete fields.failure;
      delete fields.lease;
      const { owner: _owner, ...rest } = task;
      return this.write(withTasklaneFields({ ...rest, status: 'pending' }, fields), 'retried', opts.actor);
    });
  }

  async reap(now: Date = new Date()): Promise<Task[]> {
    const reaped: Task[] = [];
    for (const task of this.scan().values()) {
      const lease = tasklaneFields(task).lease;
      if (task.status !== 'in_progress' || lease === undefined || !leaseExpired(lease.expiresAt, now)) continue;
      const handle = this.tryLockTask(task.id);
      if (handle === undefined) continue;
      try {
        const fresh = this.read(task.id);
        const fields = fresh === undefined ? undefined : { ...tasklaneFields(fresh) };
        if (fresh === undefined || fields?.lease === undefined || fresh.status !== 'in_progress') continue;
        if (!leaseExpired(fields.lease.expiresAt, now) || fields.failure !== undefined) continue;
        delete fields.lease;
        const { owner: _owner, ...rest } = fresh;
        reaped.push(this.write(withTasklaneFields({ ...rest, status: 'pending' }, fields), 'released', 'reaper'));
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
      const restored: Task[] = [];
      for (const id of targets) {
        const snapshot = last.get(id) as Task;
        const fields = { ...tasklaneFields(snapshot) };
        delete fields.lease;
        fields.rev = (fields.rev ?? 0) + 1;
        fields.updatedAt = new Date().toISOString();
        const task = withTasklaneFields(
          {
            ...snapshot,
            blocks: snapshot.blocks.filter((x) => exists.has(x)),
            blockedBy: snapshot.blockedBy.filter((x) => exists.has(x)),
          },
          fields,
        );
        writeFileDurable(this.pathOf(id), serializeTask(task));
        appendJournal(this.journalPath, 'restored', task, opts.actor);
        restored.push(task);
      }
      // Put back the other side of each edge on tasks that were not restored.
      for (const task of restored) {
        for (const other of task.blockedBy)
          if (present.has(other)) await this.link(other, 'blocks', task.id, opts.actor);
        for (const other of task.blocks)
          if (present.has(other)) await this.link(other, 'blockedBy', task.id, opts.actor);
      }
      return restored;
    });
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
    // File names are sanitized ("a.b", "a b" and "a%b" all name a-b.json): only the task whose
    // id is exactly the one asked for is found.
    const task = readTaskFile(this.pathOf(id));
    return task?.id === id ? task : undefined;
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

  /** Claims task `id`, whose lock the caller holds. Throws NOT_CLAIMABLE when `strict`, else returns undefined. */
  private claimLocked(id: string, owner: string, leaseMs: number, strict: boolean): Claim | undefined {
    const task = strict ? this.mustRead(id) : this.read(id);
    if (task === undefined) return undefined;
    const blockers = new Map<string, Task>();
    for (const b of task.blockedBy) {
      const blocker = this.read(b);
      if (blocker !== undefined) blockers.set(b, blocker);
    }
    blockers.set(task.id, task);
    const why = claimableState(task, blockers, new Date(), owner);
    if (why !== undefined) {
      if (!strict) return undefined;
      throw new TasklaneError('NOT_CLAIMABLE', `task ${id} cannot be claimed: ${why}`, { task: id, list: this.listId });
    }
    const now = Date.now();
    const fields = { ...tasklaneFields(task) };
    const lease = {
      owner,
      token: globalThis.crypto.randomUUID(),
      expiresAt: new Date(now + leaseMs).toISOString(),
      heartbeatAt: new Date(now).toISOString(),
    };
    fields.lease = lease;
    fields.attempts = (fields.attempts ?? 0) + 1;
    fields.startedAt = new Date(now).toISOString();
    const claimed = this.write(withTasklaneFields({ ...task, status: 'in_progress', owner }, fields), 'claimed', owner);
    return { task: claimed, token: lease.token, expiresAt: lease.expiresAt };
  }

  private checkHolder(task: Task, holder: HolderInput): void {
    const lease = tasklaneFields(task).lease;
    if (holder.owner !== undefined && task.owner !== holder.owner) {
      throw new TasklaneError(
        'NOT_OWNER',
        `task ${task.id} is held by ${task.owner === undefined ? 'nobody' : JSON.stringify(task.owner)}, not ${JSON.stringify(holder.owner)}`,
        { task: task.id },
      );
    }
    if (holder.token !== undefined && lease?.token !== holder.token) {
      throw new TasklaneError(
        'NOT_OWNER',
        `task ${task.id}: the claim token does not match (the lease was lost or taken over)`,
        {
          task: task.id,
        },
      );
    }
    if (
      holder.owner === undefined &&
      holder.token === undefined &&
      lease !== undefined &&
      !leaseExpired(lease.expiresAt)
    ) {
      throw new TasklaneError(
        'NOT_OWNER',
        `task ${task.id} is claimed by ${JSON.stringify(lease.owner)} until ${lease.expiresAt}; pass its owner to change it`,
        { task: task.id },
      );
    }
  }
}

/** Why a task cannot be claimed now (undefined: it can). An expired lease counts as free. */
function claimableState(task: Task, byId: TaskIndex, now: Date, owner?: string): string | undefined {
  const fields = tasklaneFields(task);
  if (task.status === 'completed') return 'it is completed';
  if (fields.failure !== undefined) return `it failed (${fields.failure.reason}); retry it first`;
  if (task.status === 'in_progress') {
    if (fields.lease !== undefined && leaseExpired(fields.lease.expiresAt, now)) return undefined;
    return `it is held by ${task.owner === undefined ? 'someone' : JSON.stringify(task.owner)}`;
  }
  if (task.owner !== undefined && task.owner !== '' && task.owner !== owner) {
    return `it is assigned to ${JSON.stringify(task.owner)}`;
  }
  const open = openBlockers(task, byId);
  if (open.length > 0) return `it is blocked by ${open.map((b) => `#${b}`).join(', ')}`;
  return undefined;
}

function leaseExpired(expiresAt: string, now: Date = new Date()): boolean {
  return Date.parse(expiresAt) <= now.getTime();
}

function requireIdentity(holder: HolderInput, task: string): void {
  if (holder.owner === undefined && holder.token === undefined) {
    throw new TasklaneError('INVALID_INPUT', `task ${task}: give the owner (or claim token) that holds it`, {
      task,
      field: 'owner',
    });
  }
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
