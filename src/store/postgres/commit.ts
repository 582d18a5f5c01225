import {
  checkStoredTask,
  estimateOf,
  isFailed,
  isNumericId,
  priorityOf,
  sealRevision,
  storedRevisionOf,
  type Task,
  tasklaneFields,
  withTasklaneFields,
} from '../../model/index.js';
import type { ChangeKind, JournalEntry } from '../types.js';
import { arrayLiteral, literal, type Queryable, type Tx } from './db.js';

// Writing one change of a list (one or several tasks) inside the caller's transaction, whose rows
// the caller has locked: the task rows with their derived columns, the edges, the unfinished-
// blocker counts and critical paths they move, the journal entries (seqs from the list row), and
// one NOTIFY. The list row is taken last, so it is held only from here to COMMIT and seqs follow
// commit order with no gap.

export const NOTIFY_CHANNEL = 'tasklane';

/** A task written by a change; `before` is the task as it was (absent for a new one). */
export interface NewChange {
  kind: ChangeKind;
  /** The task after the change; for `deleted`, as it was. */
  task: Task;
  before?: Task;
}

/** The task's row columns besides doc (see schema.ts). */
export function rowOf(task: Task): {
  status: string;
  owner: string | null;
  failed: boolean;
  leaseExpires: string | null;
  priority: number;
  weight: number;
  idNum: string | null;
} {
  const lease = tasklaneFields(task).lease;
  let leaseExpires: string | null = null;
  if (lease !== undefined && task.status === 'in_progress') {
    const at = Date.parse(lease.expiresAt);
    // An unparsable expiry counts as run out (the model's leaseExpired).
    leaseExpires = Number.isNaN(at) ? '-infinity' : new Date(at).toISOString();
  }
  return {
    status: task.status,
    owner: task.owner ?? null,
    failed: isFailed(task),
    leaseExpires,
    priority: priorityOf(task),
    // The task's own weight on a critical path: completed tasks weigh 0 (the model's criticalPaths).
    weight: task.status === 'completed' ? 0 : estimateOf(task),
    idNum: isNumericId(task.id) ? task.id : null,
  };
}

/** The task as Tasklane writes it: revision bumped (a new task stays at 1), updatedAt, fingerprint sealed, size checked. */
export function sealed(kind: ChangeKind, task: Task, now: string): Task {
  const bumped =
    kind === 'created'
      ? task
      : withTasklaneFields(task, { ...tasklaneFields(task), rev: storedRevisionOf(task) + 1, updatedAt: now });
  const out = sealRevision(bumped);
  checkStoredTask(out);
  return out;
}

export interface CommitOptions {
  actor?: string;
  /** Leave NOTIFY out (a test knob: TASKLANE_PG_NO_NOTIFY=1); readers still poll. */
  noNotify?: boolean;
  /** Tasks already sealed (an import keeps revisions as exported). */
  keepAsIs?: boolean;
}

/**
 * Writes the change; returns the tasks as stored (deleted ones as they were). The journal entries,
 * the seq and the NOTIFY go with COMMIT (Tx.commitWith): one change per transaction.
 */
export async function commitChange(
  tx: Tx,
  list: string,
  changes: NewChange[],
  opts: CommitOptions = {},
): Promise<{ tasks: Task[] }> {
  if (changes.length === 0) return { tasks: [] };
  const now = new Date().toISOString();
  const tasks = changes.map((c) => (c.kind === 'deleted' || opts.keepAsIs ? c.task : sealed(c.kind, c.task, now)));

  const deleted = changes.filter((c) => c.kind === 'deleted').map((c) => c.task.id);
  if (deleted.length > 0) {
    await tx.query('DELETE FROM tasklane_tasks WHERE list = $1 AND id = ANY($2::text[])', [list, deleted]);
  }
  const kept = tasks.filter((_, i) => changes[i]?.kind !== 'deleted');
  const graphIds = changes.filter((c, i) => graphMoved(c, tasks[i] as Task)).map((c) => c.task.id);
  // A change that moves no edge, completion or weight (a claim, a heartbeat, an edit) reads
  // nothing after writing its rows: they go with COMMIT. Otherwise the counts below read them.
  if (kept.length > 0 && graphIds.length === 0) tx.defer(putTasksStatement(list, kept));
  else if (kept.length > 0) await upsertTasks(tx, list, kept);

  // Edges: the docs of a change hold both sides of every edge they touch, so the edges of each
  // task written are replaced by what its doc says.
  if (graphIds.length > 0) {
    await tx.query('DELETE FROM tasklane_edges WHERE list = $1 AND (blocker = ANY($2::text[]) OR blocked = ANY($2))', [
      list,
      graphIds,
    ]);
    const blockers: string[] = [];
    const blocked: string[] = [];
    for (const t of kept) {
      if (!graphIds.includes(t.id)) continue;
      for (const b of t.blockedBy) {
        blockers.push(b);
        blocked.push(t.id);
      }
      for (const b of t.blocks) {
        blockers.push(t.id);
        blocked.push(b);
      }
    }
    if (blockers.length > 0) {
      await tx.query(
        `INSERT INTO tasklane_edges (list, blocker, blocked)
         SELECT $1, e.blocker, e.blocked FROM unnest($2::text[], $3::text[]) AS e (blocker, blocked)
         JOIN tasklane_tasks a ON a.list = $1 AND a.id = e.blocker
         JOIN tasklane_tasks b ON b.list = $1 AND b.id = e.blocked
         ON CONFLICT DO NOTHING`,
        [list, blockers, blocked],
      );
    }
    // Unfinished-blocker counts: of every task written whose edges or completion moved, and of the
    // tasks waiting on one whose completion moved (locked in id order first: no deadlock among them).
    const finishMoved = changes
      .filter((c, i) => c.kind === 'deleted' || c.before === undefined || isDone(c.before) !== isDone(tasks[i] as Task))
      .map((c) => c.task.id);
    const formerDependents = changes.filter((c) => c.kind === 'deleted').flatMap((c) => c.task.blocks);
    await tx.query(
      `SELECT 1 FROM tasklane_tasks WHERE list = $1 AND (id = ANY($2::text[])
         OR id IN (SELECT blocked FROM tasklane_edges WHERE list = $1 AND blocker = ANY($3::text[])))
       ORDER BY id_num NULLS LAST, id COLLATE "C" FOR UPDATE`,
      [list, formerDependents, finishMoved],
    );
    await tx.query(
      `UPDATE tasklane_tasks t SET open_blockers = (
         SELECT count(*) FROM tasklane_edges e JOIN tasklane_tasks b ON b.list = e.list AND b.id = e.blocker
         WHERE e.list = t.list AND e.blocked = t.id AND b.status <> 'completed')
       WHERE t.list = $1 AND (t.id = ANY($2::text[]) OR t.id = ANY($3::text[])
         OR t.id IN (SELECT blocked FROM tasklane_edges WHERE list = $1 AND blocker = ANY($4::text[])))`,
      [list, graphIds, formerDependents, finishMoved],
    );
    const formerBlockers = changes.filter((c) => c.kind === 'deleted').flatMap((c) => c.task.blockedBy);
    await updateCriticalPaths(tx, list, [...graphIds.filter((id) => !deleted.includes(id)), ...formerBlockers]);
  }

  // Last, in one statement (the list row is held from here to COMMIT, so as briefly as can be):
  // the seqs from the list row, the journal entries numbered with them, the notification.
  const bodies = tasks.map((task, i) => {
    const kind = (changes[i] as NewChange).kind;
    const entry: Omit<JournalEntry, 'seq'> = {
      at: now,
      kind,
      taskId: task.id,
      ...(opts.actor === undefined ? {} : { actor: opts.actor }),
      pid: process.pid,
      ...(kind === 'heartbeat' ? { fields: heartbeatFields(task) } : { task }),
    };
    return { entry, text: JSON.stringify(entry).slice(1) };
  });
  const text = (values: string[]): string => arrayLiteral(values, 'text[]');
  tx.commitWith(
    `SELECT tasklane_append(${literal(list)}, ${literal(now)}, ${text(bodies.map((b) => b.entry.taskId))},
       ${text(bodies.map((b) => b.entry.kind))}, ${text(bodies.map((b) => b.text))}, ${opts.noNotify === true ? 'false' : 'true'})`,
  );
  return { tasks };
}

export async function insertEntries(tx: Queryable, list: string, entries: JournalEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.query(
    `INSERT INTO tasklane_journal (list, seq, task_id, kind, entry)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::json[])`,
    [
      list,
      entries.map((e) => e.seq),
      entries.map((e) => e.taskId),
      entries.map((e) => e.kind),
      entries.map((e) => JSON.stringify(e)),
    ],
  );
}

export async function upsertTasks(tx: Queryable, list: string, tasks: Task[]): Promise<void> {
  const rows = tasks.map((t) => ({ t, r: rowOf(t) }));
  await tx.query(
    `INSERT INTO tasklane_tasks (list, id, doc, status, owner, failed, lease_expires, priority, weight, cp, id_num)
     SELECT $1, id, doc, status, owner, failed, lease_expires, priority, weight, weight, id_num
     FROM unnest($2::text[], $3::json[], $4::text[], $5::text[], $6::boolean[], $7::timestamptz[],
                 $8::float8[], $9::float8[], $10::numeric[])
       AS r (id, doc, status, owner, failed, lease_expires, priority, weight, id_num)
     ON CONFLICT (list, id) DO UPDATE SET doc = EXCLUDED.doc, status = EXCLUDED.status, owner = EXCLUDED.owner,
       failed = EXCLUDED.failed, lease_expires = EXCLUDED.lease_expires, priority = EXCLUDED.priority,
       weight = EXCLUDED.weight`,
    [
      list,
      rows.map(({ t }) => t.id),
      rows.map(({ t }) => JSON.stringify(t)),
      rows.map(({ r }) => r.status),
      rows.map(({ r }) => r.owner),
      rows.map(({ r }) => r.failed),
      rows.map(({ r }) => r.leaseExpires),
      rows.map(({ r }) => r.priority),
      rows.map(({ r }) => r.weight),
      rows.map(({ r }) => r.idNum),
    ],
    'tasklane_upsert',
  );
}

/** upsertTasks as one simple statement (values as literals) calling tasklane_put_tasks (schema.ts). */
export function putTasksStatement(list: string, tasks: Task[]): string {
  const rows = tasks.map((t) => ({ t, r: rowOf(t) }));
  const nums = (xs: number[]) => arrayLiteral(xs.map(String), 'float8[]');
  return `SELECT tasklane_put_tasks(${literal(list)}, ${arrayLiteral(
    rows.map(({ t }) => t.id),
    'text[]',
  )}, ${arrayLiteral(
    rows.map(({ t }) => JSON.stringify(t)),
    'json[]',
  )}, ${arrayLiteral(
    rows.map(({ r }) => r.status),
    'text[]',
  )}, ${arrayLiteral(
    rows.map(({ r }) => r.owner),
    'text[]',
  )}, ${arrayLiteral(
    rows.map(({ r }) => String(r.failed)),
    'boolean[]',
  )}, ${arrayLiteral(
    rows.map(({ r }) => r.leaseExpires),
    'timestamptz[]',
  )}, ${nums(rows.map(({ r }) => r.priority))}, ${nums(rows.map(({ r }) => r.weight))}, ${arrayLiteral(
    rows.map(({ r }) => r.idNum),
    'numeric[]',
  )})`;
}

/**
 * Brings the critical-path lengths up to date from `start` upwards: a task's is its weight plus
 * the longest of the tasks it blocks (the model's criticalPaths, in the same arithmetic), and a
 * change moves its blockers' in turn. Only the tasks whose length changes are written.
 */
export async function updateCriticalPaths(tx: Queryable, list: string, start: string[]): Promise<void> {
  let work = [...new Set(start)];
  // Edges never close a cycle here (every addition is checked); the bound only guards a hand-made one.
  for (let round = 0; work.length > 0 && round < 10_000; round++) {
    const rows = await tx.query<{ id: string; cp: number; weight: number; longest: number | null }>(
      `SELECT t.id, t.cp, t.weight,
         (SELECT max(c.cp) FROM tasklane_edges e JOIN tasklane_tasks c ON c.list = e.list AND c.id = e.blocked
          WHERE e.list = t.list AND e.blocker = t.id) AS longest
       FROM tasklane_tasks t WHERE t.list = $1 AND t.id = ANY($2::text[])`,
      [list, work],
    );
    const moved: string[] = [];
    const values: number[] = [];
    for (const r of rows) {
      const cp = r.weight + Math.max(0, r.longest ?? 0);
      if (cp !== r.cp) {
        moved.push(r.id);
        values.push(cp);
      }
    }
    if (moved.length === 0) return;
    await tx.query(
      `UPDATE tasklane_tasks t SET cp = v.cp FROM unnest($2::text[], $3::float8[]) AS v (id, cp)
       WHERE t.list = $1 AND t.id = v.id`,
      [list, moved, values],
    );
    const up = await tx.query<{ blocker: string }>(
      'SELECT DISTINCT blocker FROM tasklane_edges WHERE list = $1 AND blocked = ANY($2::text[])',
      [list, moved],
    );
    work = up.map((r) => r.blocker);
  }
}

function isDone(task: Task): boolean {
  return task.status === 'completed';
}

/** Whether a change moves edges, completion or weight: what counts and critical paths depend on. */
function graphMoved(c: NewChange, after: Task): boolean {
  const before = c.before;
  if (before === undefined || c.kind === 'deleted') return true;
  return (
    before.blocks.join('\n') !== after.blocks.join('\n') ||
    before.blockedBy.join('\n') !== after.blockedBy.join('\n') ||
    isDone(before) !== isDone(after) ||
    estimateOf(before) !== estimateOf(after)
  );
}

function heartbeatFields(task: Task): NonNullable<JournalEntry['fields']> {
  const f = tasklaneFields(task);
  return {
    ...(f.rev === undefined ? {} : { rev: f.rev }),
    ...(f.updatedAt === undefined ? {} : { updatedAt: f.updatedAt }),
    ...(f.lease === undefined ? {} : { lease: f.lease }),
  };
}
