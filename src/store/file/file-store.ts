import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  applyEdges,
  assertNoCycle,
  assertTaskId,
  checkDurationMs,
  checkExpectedRevision,
  checkMetadata,
  checkNewTask,
  checkOwner,
  checkStoredTask,
  checkTaskPatch,
  checkText,
  claimQueue,
  claimTask,
  compareIds,
  completeTask,
  countByState,
  cycleFor,
  edgeChanges,
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
  newProjectId,
  normalizeRevision,
  orderTasklaneFields,
  reapTask,
  releaseTask,
  restoredTask,
  retryTask,
  sealRevision,
  serializeTask,
  serializeTombstone,
  stateOf,
  storedRevisionOf,
  type Task,
  TasklaneError,
  type TasklaneFields,
  tasklaneFields,
  taskOrder,
  tombstoneOf,
  unreadableStandIn,
  withoutCyclicEdges,
  withTasklaneFields,
} from '../../model/index.js';
import { assertCursorInHistory } from '../feed-cursor.js';
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
  ExportRecord,
  FailInput,
  HistoryQuery,
  HolderInput,
  ImportOptions,
  ImportReport,
  JournalEntry,
  ListFilter,
  ListSummary,
  ListView,
  StoreStats,
  TaskStore,
  UpdateInput,
  UpdateOptions,
  WatchOptions,
} from '../types.js';
import { ClaimIndex } from './claim-index.js';
import { commitFiles } from './commit.js';
import { runDoctor } from './doctor.js';
import { writeFileDurable } from './durable.js';
import { exportFileList } from './export.js';
import { subscribeFeed } from './feed-subscriber.js';
import { Fence } from './fence.js';
import { importFileList } from './import.js';
import { Journal, journalEntries, lastEntries, maxIdInJournal, type NewEntry } from './journal.js';
import { listSummaries } from './lists.js';
import { ensureLockTarget, type LockHandle, lock, STALE_MS, tryLock } from './lock.js';
import {
  decodeTask,
  maxNumericFileId,
  readHighWaterMark,
  readTaskFile,
  scanList,
  scanWhole,
  taskFileName,
} from './task-files.js';

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
  private readonly journal: Journal;
  /** Beside the journal: the highest task id ever allocated in the list (see nextId). */
  private readonly highestIdPath: string;
  /** The seq of this store's last journal entry. */
  private lastSeq = 0;
  private readonly onWarning: (message: string) => void;
  private readonly warned = new Set<string>();
  private claimIndexCache: ClaimIndex | undefined;
  /**
   * A project's list (`tasklane init`, kept in git): random ids instead of a counter, and a
   * tombstone in place of a deleted task's file (docs/git.md). Claude Code's own lists keep its rules.
   */
  private readonly projectList: boolean;
  /** Confirms before each commit that the task lock is still ours and the task unchanged (fence.ts). */
  private readonly fence = new Fence((id) => this.pathOf(id));

  constructor(where: Location, options: OpenOptions = {}) {
    this.listId = where.list;
    this.listDir = where.listDir;
    this.location = where.listDir;
    this.descriptor = where.descriptor;
    this.artifactsDir = where.artifactsDir;
    this.root = where.root;
    this.journal = new Journal(join(where.root, '.tasklane', listDirName(where.list)));
    this.journalPath = this.journal.path;
    this.highestIdPath = join(this.journal.dir, 'highest-id');
    this.onWarning = options.onWarning ?? (() => {});
    this.projectList = where.projectDir !== undefined;
  }

  // ---- reading ----

  /** Every valid task in the list, read now. Invalid files are reported once each and skipped. */
  scan(): Map<string, Task> {
    return this.view().tasks;
  }

  /**
   * The list read now, and the index that states are judged against: the tasks plus an open
   * stand-in for each file that cannot be read, so a task waiting on an unreadable blocker shows
   * as blocked in `ready`, `list` and `stats`, as `claim` judges it (not ready because the blocker
   * looks absent).
   */
  private view(): { tasks: Map<string, Task>; judged: Map<string, Task> } {
    const { tasks, invalid } = scanList(this.listDir);
    let judged = tasks;
    for (const err of invalid) {
      this.warnOnce(`skipping ${err.message}`);
      const id = basename(err.file ?? '', '.json');
      if (id === '' || tasks.has(id)) continue;
      if (judged === tasks) judged = new Map(tasks);
      judged.set(id, unreadableStandIn(id));
    }
    return { tasks, judged };
  }

  async get(id: string): Promise<Task> {
    return this.mustRead(assertTaskId(id));
  }

  async list(filter: ListFilter = {}): Promise<Task[]> {
    return (await this.listView(filter)).tasks;
  }

  async listView(filter: ListFilter = {}): Promise<ListView> {
    const { tasks: byId, judged } = this.view();
    const wantState = filter.state !== undefined && filter.state.length > 0 ? new Set(filter.state) : undefined;
    const wantStatus = filter.status !== undefined && filter.status.length > 0 ? new Set(filter.status) : undefined;
    const now = new Date();
    const out: Task[] = [];
    for (const task of byId.values()) {
      if (wantStatus !== undefined && !wantStatus.has(task.status)) continue;
      if (filter.owner !== undefined && task.owner !== filter.owner) continue;
      if (filter.label !== undefined && !labelsOf(task).includes(filter.label)) continue;
      if (wantState !== undefined && !wantState.has(stateOf(task, judged, now))) continue;
      // At the revision `get` gives and `--if-rev` accepts: one above its counter when another
      // program changed it since Tasklane wrote it (revision.ts).
      out.push(normalizeRevision(task));
    }
    return { tasks: out.sort(taskOrder), judgedBy: judged };
  }

  async ready(): Promise<Task[]> {
    const { tasks, judged } = this.view();
    return claimQueue(judged, new Date())
      .filter((t) => tasks.has(t.id))
      .map(normalizeRevision);
  }

  async lists(): Promise<ListSummary[]> {
    return listSummaries(this.root);
  }

  async stats(): Promise<StoreStats> {
    const { tasks: byId, judged } = this.view();
    const byState = countByState(byId.values(), judged);
    const byStatus: Record<Task['status'], number> = { pending: 0, in_progress: 0, completed: 0 };
    const owners: Record<string, number> = {};
    for (const task of byId.values()) {
      byStatus[task.status]++;
      if (task.owner !== undefined && task.status !== 'completed') owners[task.owner] = (owners[task.owner] ?? 0) + 1;
    }
    return { list: this.listId, total: byId.size, byState, byStatus, owners };
  }

  // ---- writing ----

  async create(input: CreateInput, opts: UpdateOptions = {}): Promise<Task> {
    checkNewTask(input);
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
      const id = this.projectList ? this.newProjectId() : String(this.nextId());
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
      // The new task's lock too, until its file and its journal lines are both written: a claimer
      // that sees the file appear cannot take it (and journal `claimed`) before `created` is journaled.
      const others = unique([...blockedBy, ...blocks]).sort(compareIds);
      return this.withTaskLocks([id, ...others], async () => {
        // Never over a file: another program may have written one by this name meanwhile.
        if (existsSync(this.pathOf(id))) {
          throw new TasklaneError(
            'CONFLICT',
            `task file ${taskFileName(id)} appeared while task ${id} was being created; nothing was written, try again`,
            { task: id, list: this.listId, file: this.pathOf(id) },
          );
        }
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
        if (isNumericId(id)) this.recordHighestId(Number(id), this.lastSeq);
        return created;
      });
    });
  }

  async update(id: string, patch: UpdateInput, opts: UpdateOptions = {}): Promise<Task> {
    const taskId = assertTaskId(id);
    checkTaskPatch(taskId, patch);
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
        // The second pass, after running dry, judges a busy lock's holder: a claimer killed while
        // it held a task's lock must not hide that task for the staleness age.
        const handle = this.tryLockTask(id, pass > 0);
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
      // Edges added since a task was deleted must not close a cycle through it when it comes back.
      const graph = new Map(present);
      for (const id of targets) {
        const snapshot = restoredTask(last.get(id) as Task, this.moment());
        const { task, dropped } = withoutCyclicEdges(graph, {
          ...snapshot,
          blocks: snapshot.blocks.filter(keep),
          blockedBy: snapshot.blockedBy.filter(keep),
        });
        for (const [a, b] of dropped) this.onWarning(`restore: left out #${a} blocking #${b}: it would close a cycle`);
        graph.set(id, task);
        restored.set(id, task);
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

  // ---- export and import ----

  exportList(): AsyncIterable<ExportRecord> {
    return exportFileList({
      listId: this.listId,
      listDir: this.listDir,
      journal: this.journal,
      highWaterMark: () => this.highWaterMark(),
    });
  }

  async importList(
    records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
    opts: ImportOptions = {},
  ): Promise<ImportReport> {
    try {
      return await importFileList(
        {
          listId: this.listId,
          listDir: this.listDir,
          journal: this.journal,
          highestIdPath: this.highestIdPath,
          highWaterMark: () => this.highWaterMark(),
          withListLock: (fn) => this.withListLock(fn),
          withTaskLocks: (ids, fn) => this.withTaskLocks(ids, fn),
          confirm: (stem, creating) => this.fence.confirm(stem, creating),
        },
        records,
        opts,
      );
    } finally {
      // The list may be another now: views built from the old one are dropped.
      this.claimIndexCache = undefined;
      this.lastSeq = 0;
    }
  }

  // ---- change feed ----

  watch(options: WatchOptions = {}): AsyncIterable<Change> {
    // One shared source per list in this process, however many subscribers (feed-subscriber.ts).
    // The subscriber joins now, so changes made after this call are delivered even if iteration
    // begins later; the source's code loads on first iteration (most commands never watch).
    const feed = subscribeFeed(
      {
        listDir: this.listDir,
        journalPath: this.journalPath,
        list: this.listId,
        scan: () => this.scan(),
        onWarning: this.onWarning,
        signal: options.signal,
        initial: options.initial,
        since: options.since,
      },
      () => import('./watch.js'),
    );
    const since = options.since;
    if (since === undefined) return feed;
    // A cursor past the end of the history is refused before anything is delivered.
    const lastSeq = (): number => lastEntries(this.journal, 1, () => true)[0]?.seq ?? 0;
    const list = this.listId;
    return {
      [Symbol.asyncIterator]: () => {
        const it = feed[Symbol.asyncIterator]();
        let checked = false;
        const end = async (): Promise<IteratorResult<Change>> =>
          (await it.return?.()) ?? { done: true, value: undefined };
        return {
          next: async () => {
            if (!checked) {
              checked = true;
              try {
                assertCursorInHistory(list, since, lastSeq());
              } catch (err) {
                await end();
                throw err;
              }
            }
            return it.next();
          },
          return: end,
        };
      },
    };
  }

  async close(): Promise<void> {}

  // ---- internals ----

  private get claimIndex(): ClaimIndex {
    this.claimIndexCache ??= new ClaimIndex(this.listDir, this.journalPath, (err) =>
      this.warnOnce(`skipping ${err.message}`),
    );
    return this.claimIndexCache;
  }

  private pathOf(id: string): string {
    return join(this.listDir, taskFileName(id));
  }

  /** Reads a task, its revision counter moved past any change another program made (revision.ts). */
  private read(id: string): Task | undefined {
    // File names are sanitized ("a.b", "a b" and "a%b" all name a-b.json): only the task whose
    // id is exactly the one asked for is found.
    const known = this.readUnderLock(id);
    const task = known === null ? readTaskFile(this.pathOf(id)) : known;
    return task?.id === id ? normalizeRevision(task) : undefined;
  }

  /** Task `id` from the bytes its fence read when its lock was taken (null: not held, or unreadable: read the file). */
  private readUnderLock(id: string): Task | undefined | null {
    const bytes = this.fence.knownBytes(id);
    if (bytes === null) return null;
    if (bytes === undefined) return undefined;
    try {
      return decodeTask(bytes, this.pathOf(id));
    } catch {
      return null;
    }
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
    const next = changes.map(({ task: given, kind }) => {
      let task = given;
      if (kind === 'deleted') return task;
      // Dependency sets in one order, so two clones that hold the same set write the same lines.
      task = { ...task, blocks: sortedIds(task.blocks), blockedBy: sortedIds(task.blockedBy) };
      // `task` was built from a read, whose counter the read already moved past any foreign change.
      const bumped =
        kind === 'created'
          ? task
          : withTasklaneFields(task, { ...tasklaneFields(task), rev: storedRevisionOf(task) + 1, updatedAt: now });
      // metadata.tasklane's keys in one order: the same fields are the same lines in every clone.
      const sealed = sealRevision(orderTasklaneFields(bumped));
      checkStoredTask(sealed);
      return sealed;
    });
    const entries = next.map((task, i) => ({ kind: (changes[i] as NewEntry).kind, task }));
    const files = entries.map(({ task, kind }) => ({
      path: this.pathOf(task.id),
      ...(kind !== 'deleted'
        ? { data: serializeTask(task) }
        : this.projectList
          ? { data: serializeTombstone(tombstoneOf(task, new Date(now))) }
          : {}),
    }));
    // Built first: an entry over the line limit refuses the change before any file is touched.
    const prepared = this.journal.prepare(entries, actor);
    const appended = commitFiles(
      files,
      (stamps) => this.journal.append(prepared, stamps),
      // Right before the renames: a write whose lock was taken over while it was paused never lands.
      () => {
        for (const { task, kind } of entries) this.fence.confirm(task.id, kind === 'created');
      },
    );
    for (const [i, { task }] of entries.entries()) this.fence.wrote(task.id, files[i]?.data);
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
    const next = this.highWaterMark() + 1;
    // Past 2^53 numbers stop counting by one: two creates would get the same id and one task
    // would overwrite the other.
    if (!Number.isSafeInteger(next)) {
      throw new TasklaneError(
        'INVALID_INPUT',
        `list ${this.listId} holds an id past ${Number.MAX_SAFE_INTEGER} (a task file or .highwatermark in ${this.listDir}); new ids cannot be counted past it`,
        { list: this.listId },
      );
    }
    return next;
  }

  /**
   * A project list's next id: random (model/ids.ts), taken under the list lock, never the name of
   * a file already there (a task's or a deleted task's tombstone).
   */
  private newProjectId(): string {
    for (let attempt = 0; attempt < 16; attempt++) {
      const id = newProjectId(randomInt);
      if (!existsSync(this.pathOf(id))) return id;
    }
    throw new TasklaneError('CONFLICT', `16 random ids in a row were taken in ${this.listDir}; try again`, {
      list: this.listId,
    });
  }

  /** The highest id the list has given out: new ids are above it (see nextId). */
  private highWaterMark(): number {
    return Math.max(maxNumericFileId(this.listDir), readHighWaterMark(this.listDir), this.highestId());
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
        // The blockedBy side first: it decides readiness, so a crash between the two renames leaves
        // the task blocked (never ready early) and a one-sided edge that cycle checks still count.
        [blocked, 'blockedBy', blocker],
        [blocker, 'blocks', blocked],
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
      return this.fence.guard(id, await lock(this.pathOf(id), { what: `task ${id}` }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw this.notFound(id);
      throw err;
    }
  }

  /**
   * One attempt at a task's lock; undefined when held by someone else or the list is gone.
   * `judge`: judge a fresh lock's holder too (a dead one's lock is taken), else skip it.
   */
  private tryLockTask(id: string, judge = false): LockHandle | undefined {
    try {
      const handle = tryLock(this.pathOf(id), STALE_MS, { skipFresh: !judge });
      return handle === undefined ? undefined : this.fence.guard(id, handle);
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

  /** The time now and a fresh token, for the model's transitions. */
  private moment(): Moment {
    return { now: new Date(), token: globalThis.crypto.randomUUID() };
  }

  private checkRevision(task: Task, opts: UpdateOptions): void {
    checkExpectedRevision(task, opts.expectedRev, this.listId);
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

/** Whether `after` waits for a task `before` did not. */
function gainsBlocker(before: Task, after: Task): boolean {
  return after.blockedBy.some((id) => !before.blockedBy.includes(id));
}

function sameEdges(a: Task, b: Task): boolean {
  return a.blocks.join('\n') === b.blocks.join('\n') && a.blockedBy.join('\n') === b.blockedBy.join('\n');
}

/** The same ids in id order (a new array only when the order changes). */
function sortedIds(ids: string[]): string[] {
  for (let i = 1; i < ids.length; i++) {
    if (compareIds(ids[i - 1] as string, ids[i] as string) > 0) return [...ids].sort(compareIds);
  }
  return ids;
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
