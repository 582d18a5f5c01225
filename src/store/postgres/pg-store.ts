import {
  applyEdges,
  assertNoCycle,
  assertTaskId,
  checkDurationMs,
  checkExpectedRevision,
  checkMetadata,
  checkNewTask,
  checkOwner,
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
  isTasklaneError,
  type Lease,
  labelsOf,
  type Moment,
  normalizeRevision,
  reapTask,
  releaseTask,
  restoredTask,
  retryTask,
  stateOf,
  TASK_STATES,
  type Task,
  TasklaneError,
  type TasklaneFields,
  type TaskState,
  tasklaneFields,
  withoutCyclicEdges,
  withTasklaneFields,
} from '../../model/index.js';
import { redactUrl } from '../descriptor.js';
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
import { postgresArtifactsDir } from './artifacts.js';
import { type CommitOptions, commitChange, type NewChange } from './commit.js';
import { arrayLiteral, Db, literal, type Queryable, type Session, type Tx } from './db.js';
import { runDoctor } from './doctor.js';
import { watchList } from './feed.js';
import { graphOf, lockEdges } from './graph-snapshot.js';
import { migrate } from './schema.js';
import { exportRecords, importRecords } from './transfer.js';

// The PostgreSQL store: one list of a database shared by every session, worker and board that
// opens the same URL. The same contract as the file store; the model's rules, applied to rows.
//
// How a change is made (one transaction each, READ COMMITTED, see db.ts for retries):
//   1. lock the rows it changes: `SELECT … FOR UPDATE` (several in id order);
//   2. apply the model's function (transitions.ts, editTask, the limits, the revision seal);
//   3. write the rows, the edges, the unfinished-blocker counts of the tasks waiting on a task
//      whose completion moved (locked in id order) and the critical paths above it (commit.ts);
//   4. last, the list row: seq + n for the journal entries (so seqs follow commit order with no
//      gap), and one small `pg_notify('tasklane', '{"list":…,"seq":…}')`, in one statement sent
//      with COMMIT (one round trip: the list row is held only while the server runs it and commits).
// What that costs: the changes of one list commit one after another (each holds the list row
// through its commit), the price of seqs that follow commit order with no gap, which the journal
// contract and every reader's cursor rely on; different lists do not wait for each other. A claim
// or a heartbeat is two round trips: BEGIN with the pick or the lock of its row, then the row write, the
// journal entry and COMMIT together (db.ts; the functions tasklane_claim_ready, tasklane_put_tasks
// and tasklane_append of schema.ts keep their plans per connection). Figures: BENCHMARKS.md,
// "Issue 10".
// Claims: `FOR UPDATE SKIP LOCKED LIMIT 1` over the candidates (no open blocker, not failed,
// pending and unowned or the claimer's, or held on a lease that ran out) in the model's claim
// order: the claimer's own first, then priority, critical path (the maintained `cp` column,
// computed as the model's criticalPaths does), id. The lease token is the fence; heartbeat,
// release, complete and fail check holder and token through the model's functions.
// Edges: every addition takes the list's edge lock (an advisory transaction lock) before its
// cycle check (the model's cycleFor over the edges table), so two additions that together close
// a cycle are serialized and the second sees the first.
// Ids: the list's tasklane_ids row, raised under its lock in the creating transaction; never reused.
// `reap` sweeps expired leases under pg_try_advisory_xact_lock: whichever process gets it sweeps.
// The change feed (feed.ts): LISTEN on a connection of its own, reading the journal by cursor,
// with a polling floor. A watch without `since` starts after the seq read when it is called.
// Lists appear in `lists()` once written to (a claim that finds nothing writes nothing but the
// list's row). The tables live in the connection's search_path (a schema per team or per test:
// `?options=-c%20search_path%3Dname` in the URL).
// Local run artifacts: artifacts.ts.
// Test knob: TASKLANE_PG_NO_NOTIFY=1 leaves NOTIFY out of every write (readers still poll).

export const DEFAULT_LEASE_MS = 60_000;

const ORDER_BY_ID = 'id_num NULLS LAST, id COLLATE "C"';

export class PostgresStore implements TaskStore {
  readonly listId: string;
  readonly location: string;
  readonly descriptor: string;
  readonly artifactsDir: string;
  /** Test knob: leave NOTIFY out. */
  readonly noNotify: boolean;
  private readonly db: Db;
  private migrated: Promise<void> | undefined;
  private listMade = false;
  private readonly feeds = new Set<AbortController>();
  private readonly sessions = new Set<Session>();

  constructor(url: string, list: string, options: OpenOptions & { env?: NodeJS.ProcessEnv } = {}) {
    const env = options.env ?? process.env;
    this.listId = list;
    this.descriptor = url;
    this.location = `${redactUrl(url)} list ${JSON.stringify(list)}`;
    this.artifactsDir = postgresArtifactsDir(url, list, env);
    this.noNotify = env.TASKLANE_PG_NO_NOTIFY === '1';
    this.db = new Db(url);
  }

  // ---- plumbing ----

  /** The schema, migrated once per store (many processes at once are safe: schema.ts). */
  private async schema(): Promise<Db> {
    this.migrated ??= migrate(this.db).catch((err: unknown) => {
      this.migrated = undefined;
      throw err;
    });
    await this.migrated;
    return this.db;
  }

  /** A write transaction on this list (its rows made on first write). */
  private async write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const db = await this.schema();
    if (!this.listMade) {
      await db.query(
        `WITH l AS (INSERT INTO tasklane_lists (id) VALUES ($1) ON CONFLICT DO NOTHING)
         INSERT INTO tasklane_ids (list) VALUES ($1) ON CONFLICT DO NOTHING`,
        [this.listId],
      );
      this.listMade = true;
    }
    return db.tx(fn);
  }

  private commit(tx: Tx, changes: NewChange[], actor?: string, extra: CommitOptions = {}) {
    return commitChange(tx, this.listId, changes, {
      ...(actor === undefined ? {} : { actor }),
      noNotify: this.noNotify,
      ...extra,
    });
  }

  private async commitOne(tx: Tx, change: NewChange, actor?: string): Promise<Task> {
    return (await this.commit(tx, [change], actor)).tasks[0] as Task;
  }

  /** Locks and reads tasks (in id order); absent ids are simply missing from the map. */
  private async lock(tx: Queryable, ids: string[]): Promise<Map<string, Task>> {
    // A simple statement (values as literals), so a transaction's BEGIN goes with it (db.ts).
    const rows = await tx.query<{ doc: Task }>(
      `SELECT doc FROM tasklane_tasks WHERE list = ${literal(this.listId)} AND id = ANY(${arrayLiteral([...new Set(ids)], 'text[]')})
       ORDER BY ${ORDER_BY_ID} FOR UPDATE`,
    );
    return new Map(rows.map((r) => [r.doc.id, normalizeRevision(r.doc)]));
  }

  private async lockOne(tx: Queryable, id: string): Promise<Task> {
    const task = (await this.lock(tx, [id])).get(id);
    if (task === undefined) throw this.notFound(id);
    return task;
  }

  private async readAll(q?: Queryable): Promise<Map<string, Task>> {
    const db = q ?? (await this.schema());
    const rows = await db.query<{ doc: Task }>(
      `SELECT doc FROM tasklane_tasks WHERE list = $1 ORDER BY ${ORDER_BY_ID}`,
      [this.listId],
    );
    return new Map(rows.map((r) => [r.doc.id, normalizeRevision(r.doc)]));
  }

  private async readSome(q: Queryable, ids: string[]): Promise<Map<string, Task>> {
    if (ids.length === 0) return new Map();
    const rows = await q.query<{ doc: Task }>(
      'SELECT doc FROM tasklane_tasks WHERE list = $1 AND id = ANY($2::text[])',
      [this.listId, ids],
      'tasklane_read',
    );
    return new Map(rows.map((r) => [r.doc.id, normalizeRevision(r.doc)]));
  }

  private notFound(id: string): TasklaneError {
    return new TasklaneError('NOT_FOUND', `no task ${id} in list ${this.listId} (${this.location})`, {
      task: id,
      list: this.listId,
    });
  }

  private moment(): Moment {
    return { now: new Date(), token: globalThis.crypto.randomUUID() };
  }

  private checkRevision(task: Task, opts: UpdateOptions): void {
    checkExpectedRevision(task, opts.expectedRev, this.listId);
  }

  // ---- reading ----

  async get(id: string): Promise<Task> {
    const taskId = assertTaskId(id);
    const task = (await this.readSome(await this.schema(), [taskId])).get(taskId);
    if (task === undefined) throw this.notFound(taskId);
    return task;
  }

  async list(filter: ListFilter = {}): Promise<Task[]> {
    return (await this.listView(filter)).tasks;
  }

  async listView(filter: ListFilter = {}): Promise<ListView> {
    const byId = await this.readAll();
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
    return { tasks: out, judgedBy: byId };
  }

  async ready(): Promise<Task[]> {
    return claimQueue(await this.readAll(), new Date());
  }

  async lists(): Promise<ListSummary[]> {
    const db = await this.schema();
    // The states as stateOf derives them, from the row columns commit.ts keeps in step with the docs.
    const rows = await db.query<{ id: string; state: TaskState | null; n: string; updated: Date | null }>(
      `SELECT l.id, s.state, count(s.state)::text AS n, l.updated_at AS updated
       FROM tasklane_lists l LEFT JOIN (
         SELECT list, CASE
           WHEN status = 'completed' THEN 'completed'
           WHEN failed THEN 'failed'
           WHEN status = 'in_progress' AND (lease_expires IS NULL OR lease_expires > now()) THEN 'in_progress'
           WHEN open_blockers > 0 THEN 'blocked'
           WHEN status = 'in_progress' THEN 'expired'
           WHEN owner IS NOT NULL AND owner <> '' THEN 'assigned'
           ELSE 'ready' END AS state
         FROM tasklane_tasks) s ON s.list = l.id
       GROUP BY l.id, s.state, l.updated_at`,
    );
    const out = new Map<string, ListSummary>();
    for (const r of rows) {
      let summary = out.get(r.id);
      if (summary === undefined) {
        summary = {
          id: r.id,
          total: 0,
          byState: Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>,
        };
        out.set(r.id, summary);
      }
      if (r.state !== null) {
        summary.byState[r.state] += Number(r.n);
        summary.total += Number(r.n);
      }
      if (r.updated !== null && summary.total > 0) summary.lastChange = r.updated.toISOString();
    }
    return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async stats(): Promise<StoreStats> {
    const byId = await this.readAll();
    const byState = countByState(byId.values(), byId);
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
    const others = unique([...blockedBy, ...blocks]);
    return this.write(async (tx) => {
      // A new task with both blockers and blocked tasks could close a cycle through itself.
      if (blocks.length > 0 && blockedBy.length > 0) await lockEdges(tx, this.listId);
      const idRow = await tx.query<{ id: string }>(
        'UPDATE tasklane_ids SET last_id = last_id + 1 WHERE list = $1 RETURNING last_id::text AS id',
        [this.listId],
      );
      const id = String(idRow[0]?.id);
      const locked = await this.lock(
        tx,
        others.filter((o) => o !== id),
      );
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
          if (!locked.has(other)) {
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
        const graph = await graphOf(tx, this.listId);
        const proposed = applyEdges(
          graph,
          id,
          [
            ...blockedBy.map((o) => ({ field: 'addBlockedBy' as const, other: o })),
            ...blocks.map((o) => ({ field: 'addBlocks' as const, other: o })),
          ],
          { standIns: true },
        );
        for (const blocker of blockedBy) {
          const cycle = cycleFor(proposed, blocker, id);
          if (cycle !== undefined) {
            throw new TasklaneError('CYCLE', `task ${id} would close a cycle: ${cycle.join(' -> ')}`, {
              task: id,
              cycle,
            });
          }
        }
      }
      const changes: NewChange[] = [{ kind: 'created', task }];
      for (const other of [...others].sort(compareIds)) {
        const fresh = locked.get(other) as Task;
        const next = {
          ...fresh,
          blocks: blockedBy.includes(other) && !fresh.blocks.includes(id) ? [...fresh.blocks, id] : fresh.blocks,
          blockedBy:
            blocks.includes(other) && !fresh.blockedBy.includes(id) ? [...fresh.blockedBy, id] : fresh.blockedBy,
        };
        if (next.blocks !== fresh.blocks || next.blockedBy !== fresh.blockedBy) {
          changes.push({ kind: 'dependency', task: next, before: fresh });
        }
      }
      return (await this.commit(tx, changes, opts.actor)).tasks[0] as Task;
    });
  }

  async update(id: string, patch: UpdateInput, opts: UpdateOptions = {}): Promise<Task> {
    const taskId = assertTaskId(id);
    checkTaskPatch(taskId, patch);
    const edges = edgeChanges(taskId, patch);
    return this.write(async (tx) => {
      const adding = edges.some((e) => e.field.startsWith('add'));
      if (adding) await lockEdges(tx, this.listId);
      const locked = await this.lock(tx, [taskId, ...edges.map((e) => e.other)]);
      for (const { field, other } of edges) {
        // Removing a reference to a task that is gone is allowed: it tidies a dangling id.
        if (field.startsWith('add') && !locked.has(other)) {
          throw new TasklaneError('NOT_FOUND', `${field}: no task ${other} in list ${this.listId}`, {
            task: other,
            field,
            list: this.listId,
          });
        }
      }
      const task = locked.get(taskId);
      if (task === undefined) throw this.notFound(taskId);
      this.checkRevision(task, opts);
      if (adding) {
        const proposed = applyEdges(await graphOf(tx, this.listId), taskId, edges, { standIns: true });
        for (const { field, other } of edges) {
          if (field === 'addBlocks') assertNoCycle(proposed, taskId, other, this.listId);
          if (field === 'addBlockedBy') assertNoCycle(proposed, other, taskId, this.listId);
        }
      }
      const edited = editTask(task, patch, this.moment());
      const after = applyEdges(new Map([...locked, [taskId, edited.task]]), taskId, edges, { standIns: true });
      const changes: NewChange[] = [{ kind: edited.kind, task: after.get(taskId) as Task, before: task }];
      for (const [otherId, before] of locked) {
        if (otherId === taskId) continue;
        const next = after.get(otherId) as Task;
        if (!sameEdges(before, next)) changes.push({ kind: 'dependency', task: next, before });
      }
      return (await this.commit(tx, changes, opts.actor)).tasks[0] as Task;
    });
  }

  async delete(id: string, opts: UpdateOptions = {}): Promise<Task> {
    const taskId = assertTaskId(id);
    return this.write(async (tx) => {
      const current = await this.lockOne(tx, taskId);
      // Every edge to it was written with its row locked, so after the lock none can be missed.
      const referring = (
        await tx.query<{ id: string }>(
          `SELECT blocked AS id FROM tasklane_edges WHERE list = $1 AND blocker = $2
           UNION SELECT blocker FROM tasklane_edges WHERE list = $1 AND blocked = $2`,
          [this.listId, taskId],
        )
      ).map((r) => r.id);
      const others = await this.lock(tx, [...new Set([...referring, ...current.blocks, ...current.blockedBy])]);
      const changes: NewChange[] = [{ kind: 'deleted', task: current, before: current }];
      for (const [otherId, before] of others) {
        if (otherId === taskId) continue;
        const next = {
          ...before,
          blocks: before.blocks.filter((x) => x !== taskId),
          blockedBy: before.blockedBy.filter((x) => x !== taskId),
        };
        if (!sameEdges(before, next)) changes.push({ kind: 'dependency', task: next, before });
      }
      await this.commit(tx, changes, opts.actor);
      return current;
    });
  }

  async addDependency(blocker: string, blocked: string, opts: UpdateOptions = {}): Promise<void> {
    const a = assertTaskId(blocker, 'blocker');
    const b = assertTaskId(blocked, 'blocked');
    await this.write(async (tx) => {
      await lockEdges(tx, this.listId);
      const locked = await this.lock(tx, [a, b]);
      for (const [field, tid] of [
        ['blocker', a],
        ['blocked', b],
      ] as const) {
        if (!locked.has(tid)) {
          throw new TasklaneError('NOT_FOUND', `${field}: no task ${tid} in list ${this.listId}`, {
            task: tid,
            field,
            list: this.listId,
          });
        }
      }
      assertNoCycle(await graphOf(tx, this.listId), a, b, this.listId);
      await this.setEdge(tx, locked, a, b, true, opts.actor);
    });
  }

  async removeDependency(blocker: string, blocked: string, opts: UpdateOptions = {}): Promise<void> {
    const a = assertTaskId(blocker, 'blocker');
    const b = assertTaskId(blocked, 'blocked');
    await this.write(async (tx) => {
      const locked = await this.lock(tx, [a, b]);
      if (!locked.has(a)) throw this.notFound(a);
      if (!locked.has(b)) throw this.notFound(b);
      await this.setEdge(tx, locked, a, b, false, opts.actor);
    });
  }

  /** Adds or removes `blocker` blocks `blocked` on both locked tasks, the blockedBy side first (as the file store journals it). */
  private async setEdge(
    tx: Tx,
    locked: Map<string, Task>,
    blocker: string,
    blocked: string,
    present: boolean,
    actor?: string,
  ): Promise<void> {
    const changes: NewChange[] = [];
    for (const [tid, field, other] of [
      [blocked, 'blockedBy', blocker],
      [blocker, 'blocks', blocked],
    ] as const) {
      const task = locked.get(tid);
      if (task === undefined || task[field].includes(other) === present) continue;
      const ids = present ? [...task[field], other] : task[field].filter((x) => x !== other);
      changes.push({ kind: 'dependency', task: { ...task, [field]: ids }, before: task });
    }
    if (changes.length > 0) await this.commit(tx, changes, actor);
  }

  // ---- claims and leases ----

  async claim(input: ClaimInput): Promise<Claim | null> {
    checkOwner(input.owner);
    const leaseMs = input.leaseMs ?? DEFAULT_LEASE_MS;
    checkDurationMs('leaseMs', leaseMs);
    if (input.taskId !== undefined) {
      const id = assertTaskId(input.taskId, 'taskId');
      return this.write(async (tx) => {
        const task = await this.lockOne(tx, id);
        const byId = new Map([...(await this.readSome(tx, task.blockedBy)), [task.id, task]]);
        return this.claimLocked(tx, task, byId, input.owner, leaseMs);
      });
    }
    return this.write(async (tx) => {
      const now = new Date();
      // The first candidate in the claim order that no other transaction is taking right now.
      // Usually no task is assigned to the claimer and no lease has run out: then the first ready
      // task for anyone, straight from the ready index. Otherwise the whole order: the claimer's
      // own first, then priority, critical path, id, expired leases among them.
      // A simple statement (tasklane_claim_ready, schema.ts), so BEGIN goes with it.
      const fast = await tx.query<{ doc: Task }>(
        `SELECT doc FROM tasklane_claim_ready(${literal(this.listId)}, ${literal(input.owner)}, ${literal(now.toISOString())})`,
      );
      const rows =
        fast.length > 0
          ? fast
          : await tx.query<{ doc: Task }>(
              `SELECT doc FROM tasklane_tasks
               WHERE list = $1 AND open_blockers = 0 AND NOT failed AND status <> 'completed' AND (
                 (status = 'pending' AND (owner IS NULL OR owner = '' OR owner = $2))
                 OR (status = 'in_progress' AND lease_expires <= $3))
               ORDER BY (status = 'pending' AND owner IS NOT DISTINCT FROM $2) DESC, priority DESC, cp DESC, ${ORDER_BY_ID}
               LIMIT 1 FOR UPDATE SKIP LOCKED`,
              [this.listId, input.owner, now.toISOString()],
              'tasklane_claim_any',
            );
      const row = rows[0];
      if (row === undefined) return null;
      const task = normalizeRevision(row.doc);
      // Its open-blocker count is 0: every blocker is completed (or gone), which is all the
      // model's check reads of them.
      return this.claimLocked(tx, task, new Map([[task.id, task]]), input.owner, leaseMs);
    });
  }

  private async claimLocked(
    tx: Tx,
    task: Task,
    byId: Map<string, Task>,
    owner: string,
    leaseMs: number,
  ): Promise<Claim> {
    let next: Task;
    try {
      next = claimTask(task, byId, owner, leaseMs, this.moment());
    } catch (err) {
      if (isTasklaneError(err, 'NOT_CLAIMABLE')) {
        throw new TasklaneError('NOT_CLAIMABLE', err.message, { task: task.id, list: this.listId });
      }
      throw err;
    }
    const claimed = await this.commitOne(tx, { kind: 'claimed', task: next, before: task }, owner);
    const lease = tasklaneFields(claimed).lease as Lease;
    return { task: claimed, token: lease.token, expiresAt: lease.expiresAt };
  }

  /** Locks one task, applies `move`, writes it as `kind`. */
  private async transition(
    id: string,
    kind: ChangeKind,
    actor: string | undefined,
    move: (task: Task) => Task,
  ): Promise<Task> {
    const taskId = assertTaskId(id);
    return this.write(async (tx) => {
      const task = await this.lockOne(tx, taskId);
      return this.commitOne(tx, { kind, task: move(task), before: task }, actor);
    });
  }

  async heartbeat(id: string, holder: HolderInput, leaseMs = DEFAULT_LEASE_MS): Promise<Claim> {
    checkDurationMs('leaseMs', leaseMs);
    const next = await this.transition(id, 'heartbeat', holder.owner, (t) =>
      heartbeatTask(t, holder, leaseMs, this.moment()),
    );
    const lease = tasklaneFields(next).lease as Lease;
    return { task: next, token: lease.token, expiresAt: lease.expiresAt };
  }

  async release(id: string, holder: HolderInput): Promise<Task> {
    return this.transition(id, 'released', holder.owner, (t) => releaseTask(t, holder, this.moment()));
  }

  async complete(id: string, holder: CompleteInput): Promise<Task> {
    checkText('result', holder.result);
    if (holder.metadata !== undefined) checkMetadata(holder.metadata);
    const outcome = {
      ...(holder.result === undefined ? {} : { result: holder.result }),
      ...(holder.metadata === undefined ? {} : { metadata: holder.metadata }),
    };
    return this.transition(id, 'completed', holder.owner, (t) => completeTask(t, holder, outcome, this.moment()));
  }

  async fail(id: string, holder: FailInput): Promise<Task> {
    checkText('reason', holder.reason, false);
    if (holder.metadata !== undefined) checkMetadata(holder.metadata);
    return this.transition(id, 'failed', holder.owner, (t) =>
      failTask(t, holder, holder.reason, this.moment(), holder.metadata),
    );
  }

  async retry(id: string, opts: UpdateOptions = {}): Promise<Task> {
    return this.transition(id, 'retried', opts.actor, (t) => retryTask(t, this.moment()));
  }

  /**
   * Releases every task whose lease ran out. One process sweeps a list at a time (a try-lock: a
   * second reaper meanwhile returns at once with nothing); rows a claimer is taking are skipped.
   */
  async reap(now: Date = new Date()): Promise<Task[]> {
    return this.write(async (tx) => {
      const got = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1::int, $2::int) AS ok', [
        0x7a5c1a2f | 0,
        hashList(this.listId),
      ]);
      if (got[0]?.ok !== true) return [];
      const rows = await tx.query<{ doc: Task }>(
        `SELECT doc FROM tasklane_tasks WHERE list = $1 AND status = 'in_progress' AND NOT failed AND lease_expires <= $2
         ORDER BY ${ORDER_BY_ID} FOR UPDATE SKIP LOCKED`,
        [this.listId, now.toISOString()],
      );
      const changes: NewChange[] = [];
      for (const r of rows) {
        const task = normalizeRevision(r.doc);
        const next = reapTask(task, { now });
        if (next !== undefined) changes.push({ kind: 'released', task: next, before: task });
      }
      return (await this.commit(tx, changes, 'reaper')).tasks;
    });
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
    if (query.limit === 0) return [];
    const db = await this.schema();
    const params: unknown[] = [this.listId, id ?? null];
    const byTask = 'list = $1 AND ($2::text IS NULL OR task_id = $2)';
    if (query.after === undefined && query.limit !== undefined) {
      const rows = await db.query<{ entry: JournalEntry }>(
        `SELECT entry FROM tasklane_journal WHERE ${byTask} ORDER BY seq DESC LIMIT $3`,
        [...params, query.limit],
      );
      return rows.map((r) => r.entry).reverse();
    }
    const rows = await db.query<{ entry: JournalEntry }>(
      `SELECT entry FROM tasklane_journal WHERE ${byTask} AND seq > $3 ORDER BY seq LIMIT $4`,
      [...params, query.after ?? 0, query.limit ?? null],
    );
    return rows.map((r) => r.entry);
  }

  async restore(ids?: string[], opts: UpdateOptions = {}): Promise<Task[]> {
    const wanted = ids?.map((id) => assertTaskId(id));
    return this.write(async (tx) => {
      await lockEdges(tx, this.listId);
      const present = await this.readAll(tx);
      // The last full entry of each task the journal knows: its last state, and its creation time,
      // which tells a present task that is the one the journal knows from one that took its id.
      const rows = await tx.query<{ task_id: string; entry: JournalEntry }>(
        `SELECT DISTINCT ON (task_id) task_id, entry FROM tasklane_journal
         WHERE list = $1 AND kind <> 'heartbeat' ORDER BY task_id, seq DESC`,
        [this.listId],
      );
      const last = new Map<string, Task>();
      const createdAt = new Map<string, string | undefined>();
      for (const r of rows) {
        const task = r.entry.task;
        if (task === undefined) continue;
        createdAt.set(r.task_id, tasklaneFields(task).createdAt);
        if (!present.has(r.task_id)) last.set(r.task_id, task);
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
      if (targets.length === 0) return [];
      const restoring = new Set(targets);
      const same = (id: string): boolean => {
        const task = present.get(id);
        return task !== undefined && createdAt.has(id) && tasklaneFields(task).createdAt === createdAt.get(id);
      };
      const keep = (id: string): boolean => restoring.has(id) || same(id);
      const restored = new Map<string, Task>();
      const graph = new Map(present);
      for (const id of targets) {
        const snapshot = restoredTask(last.get(id) as Task, this.moment());
        const { task } = withoutCyclicEdges(graph, {
          ...snapshot,
          blocks: snapshot.blocks.filter(keep),
          blockedBy: snapshot.blockedBy.filter(keep),
        });
        graph.set(id, task);
        restored.set(id, task);
      }
      // The other side of every kept edge to a present task.
      const wants = new Map<string, { blocks: string[]; blockedBy: string[] }>();
      const want = (id: string, field: 'blocks' | 'blockedBy', other: string): void => {
        if (restored.has(id)) {
          const t = restored.get(id) as Task;
          if (!t[field].includes(other)) restored.set(id, { ...t, [field]: [...t[field], other] });
          return;
        }
        const w = wants.get(id) ?? { blocks: [], blockedBy: [] };
        w[field].push(other);
        wants.set(id, w);
      };
      for (const task of [...restored.values()]) {
        for (const other of task.blockedBy) want(other, 'blocks', task.id);
        for (const other of task.blocks) want(other, 'blockedBy', task.id);
      }
      const locked = await this.lock(tx, [...wants.keys()]);
      const changes: NewChange[] = [...restored.values()].map((task) => ({ kind: 'restored' as const, task }));
      for (const [id, w] of wants) {
        const fresh = locked.get(id);
        if (fresh === undefined) continue;
        const add = (field: 'blocks' | 'blockedBy') => w[field].filter((x) => !fresh[field].includes(x));
        const next = {
          ...fresh,
          blocks: [...fresh.blocks, ...add('blocks')],
          blockedBy: [...fresh.blockedBy, ...add('blockedBy')],
        };
        if (!sameEdges(fresh, next)) changes.push({ kind: 'dependency', task: next, before: fresh });
      }
      return (await this.commit(tx, changes, opts.actor)).tasks.slice(0, restored.size);
    });
  }

  // ---- integrity ----

  async doctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
    const db = await this.schema();
    return runDoctor(
      {
        list: this.listId,
        location: this.location,
        db,
        write: (fn) => this.write(fn),
        commit: (tx, changes, actor) => this.commit(tx, changes, actor),
        lock: (tx, ids) => this.lock(tx, ids),
      },
      opts,
    );
  }

  // ---- export and import ----

  exportList(): AsyncIterable<ExportRecord> {
    return exportRecords(() => this.schema(), this.listId);
  }

  async importList(
    records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
    opts: ImportOptions = {},
  ): Promise<ImportReport> {
    return importRecords(records, opts, {
      list: this.listId,
      write: (fn) => this.write(fn),
      noNotify: this.noNotify,
    });
  }

  // ---- change feed ----

  watch(options: WatchOptions = {}): AsyncIterable<Change> {
    const stop = new AbortController();
    this.feeds.add(stop);
    const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
    return watchList(
      {
        list: this.listId,
        ready: () => this.schema(),
        readAll: () => this.readAll(),
        sessions: this.sessions,
        onEnd: () => this.feeds.delete(stop),
      },
      { ...options, signal },
    );
  }

  async close(): Promise<void> {
    for (const feed of this.feeds) feed.abort();
    this.feeds.clear();
    await Promise.all([...this.sessions].map((s) => s.close()));
    this.sessions.clear();
    await this.db.close();
  }
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}

function sameEdges(a: Task, b: Task): boolean {
  return a.blocks.join('\n') === b.blocks.join('\n') && a.blockedBy.join('\n') === b.blockedBy.join('\n');
}

function hashList(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
