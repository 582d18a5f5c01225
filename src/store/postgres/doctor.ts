import { criticalPaths, findCycles, missingReferences, oneSidedEdges, type Task } from '../../model/index.js';
import { cycleProblem, missingReferenceProblem, oneSidedEdgeProblem } from '../doctor-problems.js';
import type { DoctorOptions, DoctorProblem, DoctorReport } from '../types.js';
import { type NewChange, rowOf, updateCriticalPaths } from './commit.js';
import type { Db, Queryable, Tx } from './db.js';
import { lockEdges } from './graph-snapshot.js';

// `doctor` for a PostgreSQL list. Tasklane alone writes the rows, each change in one transaction,
// so there are no temp files, locks or torn writes to find; what can still be wrong:
//   - in the documents: a reference to a task that does not exist, an edge on one side only, a
//     cycle (from an import of a list made elsewhere, or a hand-edited row);
//   - in the derived columns: an edge row, an unfinished-blocker count, a critical path or a
//     column copied from the document (status, owner, lease, priority…) out of step with the
//     documents ('stale-index'), e.g. after someone edited `doc` by hand.
// `fix` repairs references and one-sided edges as the file store's doctor does, and recomputes
// every derived column from the documents, under the list's edge lock, in one transaction.

export interface DoctorHost {
  list: string;
  location: string;
  db: Db;
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  commit(tx: Tx, changes: NewChange[], actor?: string): Promise<unknown>;
  lock(tx: Queryable, ids: string[]): Promise<Map<string, Task>>;
}

export async function runDoctor(host: DoctorHost, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const fix = opts.fix === true;
  const problems = fix
    ? await host.write((tx) => check(host, tx, true, opts.actor ?? 'doctor'))
    : await check(host, host.db, false, '');
  return {
    list: host.list,
    location: host.location,
    problems,
    consistent: problems.every((p) => p.fixed !== undefined),
  };
}

async function check(host: DoctorHost, q: Queryable, fix: boolean, actor: string): Promise<DoctorProblem[]> {
  if (fix) await lockEdges(q, host.list);
  const rows = await q.query<{
    doc: Task;
    status: string;
    owner: string | null;
    failed: boolean;
    lease_expires: Date | null;
    priority: number;
    weight: number;
    cp: number;
    open_blockers: number;
  }>(
    `SELECT doc, status, owner, failed, lease_expires, priority, weight, cp, open_blockers
     FROM tasklane_tasks WHERE list = $1 ${fix ? 'FOR UPDATE' : ''}`,
    [host.list],
  );
  const byId = new Map(rows.map((r) => [r.doc.id, r.doc]));
  const problems: DoctorProblem[] = [];
  const edits = new Map<string, Task>();
  const edit = (id: string, f: (t: Task) => Task): void => {
    const t = edits.get(id) ?? byId.get(id);
    if (t !== undefined) edits.set(id, f(t));
  };

  for (const ref of missingReferences(byId)) {
    const problem = missingReferenceProblem(ref);
    if (fix) {
      edit(ref.task, (t) => ({ ...t, [ref.field]: t[ref.field].filter((x) => x !== ref.missing) }));
      problem.fixed = `removed #${ref.missing} from #${ref.task}'s ${ref.field}`;
    } else problem.advice = 'tasklane doctor --fix removes the reference';
    problems.push(problem);
  }
  const cycles = findCycles(byId);
  const onCycle = new Set(cycles.flat());
  for (const e of oneSidedEdges(byId)) {
    const { problem, holder, other, field } = oneSidedEdgeProblem(e);
    if (onCycle.has(e.blocker) && onCycle.has(e.blocked)) {
      problem.advice = `break the cycle first (tasklane dep rm ${e.blocker} ${e.blocked} drops this edge)`;
    } else if (fix) {
      edit(other, (t) => (t[field].includes(holder) ? t : { ...t, [field]: [...t[field], holder] }));
      problem.fixed = `added #${holder} to #${other}'s ${field}`;
    } else problem.advice = 'tasklane doctor --fix writes the missing side';
    problems.push(problem);
  }
  for (const cycle of cycles) problems.push(cycleProblem(cycle));

  // Derived columns, judged against the documents as they stand (before any fix above).
  const stale: DoctorProblem[] = [];
  const edgeRows = await q.query<{ blocker: string; blocked: string }>(
    'SELECT blocker, blocked FROM tasklane_edges WHERE list = $1',
    [host.list],
  );
  const have = new Set(edgeRows.map((r) => `${r.blocker}\n${r.blocked}`));
  const want = new Set<string>();
  for (const t of byId.values()) {
    for (const b of t.blockedBy) if (byId.has(b)) want.add(`${b}\n${t.id}`);
    for (const b of t.blocks) if (byId.has(b)) want.add(`${t.id}\n${b}`);
  }
  const edgesDiffer = [...want].some((k) => !have.has(k)) || [...have].some((k) => !want.has(k));
  if (edgesDiffer)
    stale.push({ kind: 'stale-index', message: "the edge rows differ from the tasks' blocks and blockedBy" });
  const paths = criticalPaths(byId);
  for (const r of rows) {
    const t = r.doc;
    const d = rowOf(t);
    const open = t.blockedBy.filter((b) => {
      const x = byId.get(b);
      return x !== undefined && x.status !== 'completed';
    }).length;
    const wrong: string[] = [];
    if (r.status !== d.status || (r.owner ?? null) !== d.owner || r.failed !== d.failed) wrong.push('status/owner');
    const lease =
      r.lease_expires === null
        ? null
        : r.lease_expires instanceof Date
          ? r.lease_expires.getTime()
          : Number(r.lease_expires);
    const leaseWant =
      d.leaseExpires === null ? null : d.leaseExpires === '-infinity' ? -Infinity : Date.parse(d.leaseExpires);
    if (lease !== leaseWant) wrong.push('lease expiry');
    if (r.priority !== d.priority || r.weight !== d.weight) wrong.push('priority/weight');
    if (r.open_blockers !== open) wrong.push(`unfinished blockers ${r.open_blockers}, not ${open}`);
    if (!onCycle.has(t.id) && Math.abs(r.cp - (paths.get(t.id) ?? 0)) > 1e-9) wrong.push('critical path');
    if (wrong.length > 0) {
      stale.push({
        kind: 'stale-index',
        message: `#${t.id}: its row's ${wrong.join(', ')} out of step with the task`,
        task: t.id,
      });
    }
  }
  for (const p of stale) {
    if (fix) p.fixed = 'recomputed from the tasks';
    else p.advice = 'tasklane doctor --fix recomputes it from the tasks';
  }
  problems.push(...stale);

  if (fix && (edits.size > 0 || stale.length > 0)) {
    const tx = q as Tx;
    if (edits.size > 0) {
      await host.commit(
        tx,
        [...edits].map(([id, task]) => ({ kind: 'dependency' as const, task, before: byId.get(id) as Task })),
        actor,
      );
    }
    await rebuildDerived(tx, host.list);
  }
  return problems;
}

/** Every derived column of the list recomputed from the documents. */
async function rebuildDerived(tx: Queryable, list: string): Promise<void> {
  const rows = await tx.query<{ doc: Task }>('SELECT doc FROM tasklane_tasks WHERE list = $1', [list]);
  const tasks = rows.map((r) => r.doc);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  await tx.query('DELETE FROM tasklane_edges WHERE list = $1', [list]);
  const blockers: string[] = [];
  const blocked: string[] = [];
  const seen = new Set<string>();
  for (const t of tasks) {
    for (const [a, b] of [...t.blockedBy.map((x) => [x, t.id]), ...t.blocks.map((x) => [t.id, x])] as [
      string,
      string,
    ][]) {
      if (!byId.has(a) || !byId.has(b) || seen.has(`${a}\n${b}`)) continue;
      seen.add(`${a}\n${b}`);
      blockers.push(a);
      blocked.push(b);
    }
  }
  await tx.query(
    'INSERT INTO tasklane_edges (list, blocker, blocked) SELECT $1, * FROM unnest($2::text[], $3::text[])',
    [list, blockers, blocked],
  );
  const cols = tasks.map(rowOf);
  await tx.query(
    `UPDATE tasklane_tasks t SET status = v.status, owner = v.owner, failed = v.failed, lease_expires = v.lease_expires,
       priority = v.priority, weight = v.weight, id_num = v.id_num
     FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::timestamptz[], $7::float8[], $8::float8[], $9::numeric[])
       AS v (id, status, owner, failed, lease_expires, priority, weight, id_num)
     WHERE t.list = $1 AND t.id = v.id`,
    [
      list,
      tasks.map((t) => t.id),
      cols.map((c) => c.status),
      cols.map((c) => c.owner),
      cols.map((c) => c.failed),
      cols.map((c) => c.leaseExpires),
      cols.map((c) => c.priority),
      cols.map((c) => c.weight),
      cols.map((c) => c.idNum),
    ],
  );
  await tx.query(
    `UPDATE tasklane_tasks t SET open_blockers = (
       SELECT count(*) FROM tasklane_edges e JOIN tasklane_tasks b ON b.list = e.list AND b.id = e.blocker
       WHERE e.list = t.list AND e.blocked = t.id AND b.status <> 'completed') WHERE t.list = $1`,
    [list],
  );
  // Critical paths from scratch: every task at its weight (-1 forces a write), then upwards from all.
  await tx.query('UPDATE tasklane_tasks SET cp = -1 WHERE list = $1', [list]);
  await updateCriticalPaths(
    tx,
    list,
    tasks.map((t) => t.id),
  );
}
