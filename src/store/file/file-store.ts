import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
import { commitFiles } from './commit.js';
import { writeFileDurable } from './durable.js';
import { takeFeedStart } from './feed-start.js';
import { Journal, journalEntries, lastEntries, maxIdInJournal, type NewEntry } from './journal.js';
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
  private readonly journal: Journal;
  /** Beside the journal: the highest task id ever allocated in the list (see nextId). */
  private readonly highestIdPath: string;
  /** The seq of this store's last journal entry. */
  private lastSeq = 0;
  private readonly onWarning: (message: string) => void;
  private readonly warned = new Set<string>();
  private claimIndexCache: ClaimIndex | undefined;

  constructor(where: Location, options: OpenOptions = {}) {
    this.listId = where.list;
    this.listDir = where.listDir;
    this.location = where.listDir;
    this.journal = new Journal(join(where.root, '.tasklane', listDirName(where.list)));
    this.journalPath = this.journal.path;
    this.highestIdPath = join(this.journal.dir, 'highest-id');
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
      const id = String(this.nextId());
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
      // The new task's lock too, until its file and its journal lines are both written: a claimer
      // that sees the file appear cannot take it (and journal `claimed`) before `created` is journaled.
      const others = unique([...blockedBy, ...blocks]).sort(compareIds);
      return this.withTaskLocks([id, ...others], async () => {
        const changes: NewEntry[] = [{ kind: 'created', task }];
        for (const other of others) {
          const fresh = this.mustRead(other);
          const next = {
            ...fresh,
            blocks: blockedBy.includes(other) && !fresh.blocks.includes(id) ? [...fresh.blocks, id] : fresh.blocks,
            blockedBy:
              blocks.includes(other) && !fresh.blockedBy.includes(id) ? [...fresh.blockedBy, id] : fresh.blockedBy,
          };
          if (next.blocks !== fresh.blocks || next.blockedBy !== fresh.blockedBy) {
            changes.push({ kind: 'dependency', task: next });
          }
        }
        const created = this.commit(changes, opts.actor)[0] as Task;
        this.recordHighestId(Number(id), this.lastSeq);
        return created;
      });
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
      this.mustRead(taskId);
      const referring = [...this.scan().values()]
        .filter((o) => o.id !== taskId && (o.blocks.includes(taskId) || o.blockedBy.includes(taskId)))
        .map((o) => o.id)
        .sort(compareIds);
      // The task and every task naming it, in one change: no one-sided edge is left if it fails.
      return this.withTaskLocks([taskId, ...referring], async () => {
        const current = this.mustRead(taskId);
        if (isNumericId(taskId)) {
          const hwm = readHighWaterMark(this.listDir);
          if (Number(taskId) > hwm) writeFileDurable(join(this.listDir, '.highwatermark'), taskId);
        }
        const changes: NewEntry[] = [{ kind: 'deleted', task: current }];
        for (const id of referring) {
          const fresh = this.read(id);
          if (fresh === undefined) continue;
          changes.push({
            kind: 'dependency',
            task: {
              ...fresh,
              blocks: fresh.blocks.filter((x) => x !== taskId),
              blockedBy: fresh.blockedBy.filter((x) => x !== taskId),
            },
          });
        }
        this.commit(changes, opts.actor);
        return current;
      });
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
      await this.setEdge(a, b, true, opts.actor);
    });
  }

  async removeDependency(blocker: string, blocked: string, opts: UpdateOptions = {}): Promise<void> {
    const a = assertTaskId(blocker, 'blocker');
    const b = assertTaskId(blocked, 'blocked');
    await this.withListLock(async () => {
      this.mustRead(a);
      this.mustRead(b);
      await this.setEdge(a, b, false, opts.actor);
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
    const id = query.taskId === undefined ? undefined : assertTaskId(query.taskId, 'taskId');
    for (const [field, value] of [
      ['limit', query.limit],
      ['after', query.after],
    ] as const) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
        throw new TasklaneError('INVALID_INPUT', `${field} must be a whole number >= 0, got ${value}`, { field });
      }
    }
    const match = (e: JournalEntry): boolean => id === undefined || e.taskId === id;
    // Streamed, never read whole: memory is bounded by what is returned, at any journal size.
    if (query.after === undefined && query.limit !== undefined) return lastEntries(this.journal, query.limit, match);
    const out: JournalEntry[] = [];
    if (query.limit === 0) return out;
    for (const e of journalEntries(this.journal, query.after ?? 0)) {
      if (!match(e)) continue;
      out.push(e);
      if (query.limit !== undefined && out.length >= query.limit) break;
    }
    return out;
  }

  async restore(ids?: string[], opts: UpdateOptions = {}): Promise<Task[]> {
    const wanted = ids?.map((id) => assertTaskId(id));
    return this.withListLock(async () => {
      const present = this.scan();
      // One pass over the journal, in constant memory but for the tasks it returns: the last state
      // of each absent task, and each task's creation time, which tells a present task that is
      // the one the journal knows from an unrelated one that took its id.
      const last = new Map<string, Task>();
      const createdAt = new Map<string, string | undefined>();
      for (const e of journalEntries(this.journal)) {
        if (e.task !== undefined) {
          createdAt.set(e.taskId, tasklaneFields(e.task).createdAt);
          if (!present.has(e.taskId)) last.set(e.taskId, e.task);
        } else if (e.fields !== undefined) {
          const known = last.get(e.taskId);
          if (known !== undefined)
            last.set(e.taskId, withTasklaneFields(known, { ...tasklaneFields(known), ...e.fields }));
        }
      }
      let targets: string[];
      if (wanted !== undefined && wanted.length > 0) {
        for (const id of wanted) {
          if (!createdAt.has(id)) {
            throw new TasklaneError('NOT_FOUND', `the history of list ${this.listId} has no task ${id}`, {
              task: id,
              list: this.listId,
            });
          }
        }
        targets = unique(wanted.filter((id) => !present.has(id) && last.has(id))).sort(compareIds);
      } else {
        targets = [...last.keys()].filter((id) => !present.has(id)).sort(compareIds);
      }
      const restoring = new Set(targets);
      const same = (id: string): boolean => {
        const task = present.get(id);
        return task !== undefined && createdAt.has(id) && tasklaneFields(task).createdAt === createdAt.get(id);
      };
      // Edges kept: between restored tasks, and to present tasks that are the ones the journal knows.
      const keep = (id: string): boolean => restoring.has(id) || same(id);
      const restored = new Map<string, Task>();
      for (const id of targets) {
        const snapshot = last.get(id) as Task;
        const fields = { ...tasklaneFields(snapshot) };
        delete fields.lease;
        fields.updatedAt = new Date().toISOString();
        restored.set(
          id,
          withTasklaneFields(
            { ...snapshot, blocks: snapshot.blocks.filter(keep), blockedBy: snapshot.blockedBy.filter(keep) },
            fields,
          ),
        );
      }
      // Both sides of every kept edge: among the restored tasks, and on the present ones.
      const touched = new Map<string, Task>();
      const addEdge = (id: string, field: 'blocks' | 'blockedBy', other: string): void => {
        const task = restored.get(id) ?? touched.get(id) ?? present.get(id);
        if (task === undefined || task[field].includes(other)) return;
        const next = { ...task, [field]: [...task[field], other] };
        if (restored.has(id)) restored.set(id, next);
        else touched.set(id, next);
      };
      for (const task of [...restored.values()]) {
        for (const other of task.blockedBy) addEdge(other, 'blocks', task.id);
        for (const other of task.blocks) addEdge(other, 'blockedBy', task.id);
      }
      if (restored.size === 0) return [];
      return this.withTaskLocks([...targets, ...[...touched.keys()].sort(compareIds)], async () => {
        const changes: NewEntry[] = [...restored.values()].map((task) => ({ kind: 'restored', task }));
        for (const [id, next] of touched) {
          const fresh = this.read(id);
          if (fresh === undefined) continue;
          const added = (field: 'blocks' | 'blockedBy') => next[field].filter((x) => !fresh[field].includes(x));
          changes.push({
            kind: 'dependency',
            task: {
              ...fresh,
              blocks: [...fresh.blocks, ...added('blocks')],
              blockedBy: [...fresh.blockedBy, ...added('blockedBy')],
            },
          });
        }
        return this.commit(changes, opts.actor).slice(0, restored.size);
      });
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
    return readTaskFile(this.pathOf(id));
  }

  private mustRead(id: string): Task {
    const task = this.read(id);
    if (task === undefined) throw this.notFound(id);
    return task;
  }

  /** Writes a task durably with its revision bumped, and records the change in the journal. */
  private write(task: Task, kind: ChangeKind, actor?: string): Task {
    return this.commit([{ task, kind }], actor)[0] as Task;
  }

  /**
   * One change to the list, possibly of several tasks (a create with its edges, a delete with the
   * references to it): every file and every journal line, or nothing (see commit.ts for the
   * order and why). The caller holds the lock of every task in it. `deleted` removes the file;
   * every other kind writes the task with its revision bumped (but `created`, at 1).
   */
  private commit(changes: NewEntry[], actor?: string): Task[] {
    const now = new Date().toISOString();
    const next = changes.map(({ task, kind }) => {
      if (kind === 'deleted' || kind === 'created') return task;
      return withTasklaneFields(task, { ...tasklaneFields(task), rev: revisionOf(task) + 1, updatedAt: now });
    });
    const entries = next.map((task, i) => ({ kind: (changes[i] as NewEntry).kind, task }));
    // Built first: an entry over the line limit refuses the change before any file is touched.
    const prepared = this.journal.prepare(entries, actor);
    const appended = commitFiles(
      entries.map(({ task, kind }) => ({
        path: this.pathOf(task.id),
        ...(kind === 'deleted' ? {} : { data: serializeTask(task) }),
      })),
      () => this.journal.append(prepared),
    );
    this.lastSeq = appended.at(-1)?.seq ?? this.lastSeq;
    return next;
  }

  /**
   * The next id: above every numeric file name, `.highwatermark` (Claude Code's rule), and every id
   * the journal has seen, so a list that was cleared (its files, or its directory) never hands out
   * an old id again: the journal and `restore` would confuse the two tasks. The journal's highest
   * id is kept in a small record beside it, raised before each create commits; when the record is
   * missing (a journal from before it, or one that lost it) the journal is read once to rebuild it.
   */
  private nextId(): number {
    return Math.max(maxNumericFileId(this.listDir), readHighWaterMark(this.listDir), this.highestId()) + 1;
  }

  private highestId(): number {
    let record = { id: 0, seq: 0 };
    try {
      const [id, seq] = readFileSync(this.highestIdPath, 'utf8').split(' ').map(Number);
      if (Number.isSafeInteger(id) && Number.isSafeInteger(seq)) record = { id: id as number, seq: seq as number };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return Math.max(record.id, maxIdInJournal(this.journal, record.seq));
  }

  /**
   * `<id> <seq>`: every journal entry up to seq `seq` names an id at most `id`. So the record may
   * lag (it is written after the create, atomically but without a flush: a crash can lose it)
   * and still be right: the entries after its seq, found by bisection, are read to catch up.
   */
  private recordHighestId(id: number, seq: number): void {
    const tmp = `${this.highestIdPath}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, `${id} ${seq}`);
      renameSync(tmp, this.highestIdPath);
    } catch {
      // Only a shortcut: the journal has the id.
    }
  }

  /**
   * Adds (or removes) the edge `blocker` blocks `blocked` on both tasks, under both locks, as one
   * change: both sides or neither, even on a full disk.
   */
  private async setEdge(blocker: string, blocked: string, present: boolean, actor?: string): Promise<void> {
    await this.withTaskLocks([blocker, blocked].sort(compareIds), async () => {
      const changes: NewEntry[] = [];
      for (const [id, field, other] of [
        [blocker, 'blocks', blocked],
        [blocked, 'blockedBy', blocker],
      ] as const) {
        const task = this.read(id);
        if (task === undefined || task[field].includes(other) === present) continue;
        const ids = present ? [...task[field], other] : task[field].filter((x) => x !== other);
        changes.push({ kind: 'dependency', task: { ...task, [field]: ids } });
      }
      if (changes.length > 0) this.commit(changes, actor);
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

  /** Takes the locks of several tasks (the caller holds the list lock, so the order cannot deadlock). */
  private async withTaskLocks<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
    const handles: LockHandle[] = [];
    try {
      for (const id of unique(ids)) handles.push(await this.lockTask(id));
      return await fn();
    } finally {
      for (const h of handles.reverse()) h.release();
    }
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
