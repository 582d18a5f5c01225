import type { Db } from './db.js';

// The schema, as numbered migrations recorded in tasklane_migrations. Every process that opens a
// store runs `migrate` before its first query; the runs are serialized by a transaction-scoped
// advisory lock on a fixed key, so many processes starting at once apply each migration once
// (the later ones find it recorded and do nothing). A migration is never edited once released:
// a change is a new, higher-numbered one.
//
// Tables (every one keyed by the list first: one database holds many lists):
//   tasklane_lists      a list: its change seq, raised under the row's lock as a transaction's last
//                       step, so seqs follow commit order with no gap; updated_at for `lists()`.
//   tasklane_ids        a list's id high-water mark (last_id), raised under its row's lock by a
//                       create (and by delete/import): ids never collide nor repeat. A row apart
//                       from the seq's, so a create waiting on it never holds the seq row.
//   tasklane_tasks      a task: `doc` is the task exactly as the file store writes it (type json,
//                       not jsonb: jsonb reorders keys, and exports must keep their bytes); beside
//                       it the columns queries need, all derived from doc in the same write:
//                       status, owner, failed, lease_expires, priority, weight (0 when completed,
//                       else the estimate), cp (critical-path length, the model's criticalPaths),
//                       open_blockers (blockers not completed), id_num (numeric ids, for id order).
//   tasklane_edges      blocker blocks blocked, one row per edge (both sides of the docs agree).
//   tasklane_journal    (list, seq) -> the journal entry, as json, plus task_id and kind to query.

export const MIGRATION_LOCK_KEY = 7_346_150_210; // fixed: "tasklane migrations"

const MIGRATIONS: { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'lists, tasks, edges, journal',
    sql: `
CREATE TABLE tasklane_lists (
  id text PRIMARY KEY,
  seq bigint NOT NULL DEFAULT 0,
  updated_at timestamptz
);
CREATE TABLE tasklane_ids (
  list text PRIMARY KEY REFERENCES tasklane_lists (id),
  last_id bigint NOT NULL DEFAULT 0
);
CREATE TABLE tasklane_tasks (
  list text NOT NULL REFERENCES tasklane_lists (id),
  id text NOT NULL,
  doc json NOT NULL,
  status text NOT NULL,
  owner text,
  failed boolean NOT NULL DEFAULT false,
  lease_expires timestamptz,
  priority double precision NOT NULL DEFAULT 0,
  weight double precision NOT NULL DEFAULT 1,
  cp double precision NOT NULL DEFAULT 1,
  open_blockers integer NOT NULL DEFAULT 0,
  id_num numeric,
  PRIMARY KEY (list, id)
);
-- The claim queue: ready tasks waiting for anyone, in claim order (priority, critical path, id),
-- so a claim reads the first entries only; tasks assigned to someone, and leases (expired ones are
-- claimable), each by their own index.
CREATE INDEX tasklane_tasks_ready ON tasklane_tasks (list, priority DESC, cp DESC, id_num, id COLLATE "C")
  WHERE open_blockers = 0 AND NOT failed AND status = 'pending';
CREATE INDEX tasklane_tasks_assigned ON tasklane_tasks (list, owner) WHERE status = 'pending' AND owner IS NOT NULL;
CREATE INDEX tasklane_tasks_leases ON tasklane_tasks (list, lease_expires) WHERE lease_expires IS NOT NULL;
CREATE TABLE tasklane_edges (
  list text NOT NULL,
  blocker text NOT NULL,
  blocked text NOT NULL,
  PRIMARY KEY (list, blocker, blocked)
);
CREATE INDEX tasklane_edges_blocked ON tasklane_edges (list, blocked);
CREATE TABLE tasklane_journal (
  list text NOT NULL,
  seq bigint NOT NULL,
  task_id text NOT NULL,
  kind text NOT NULL,
  entry json NOT NULL,
  PRIMARY KEY (list, seq)
);
CREATE INDEX tasklane_journal_task ON tasklane_journal (list, task_id, seq);
`,
  },
  {
    id: 2,
    name: 'tasklane_append: the last step of a change',
    // A function, so its statements are planned once per connection (a statement sent as text
    // with COMMIT is planned anew each time), and the call sent with COMMIT stays trivial.
    sql: `
CREATE FUNCTION tasklane_append(p_list text, p_at timestamptz, p_ids text[], p_kinds text[], p_bodies text[],
                                p_notify boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n integer := cardinality(p_ids);
  last bigint;
BEGIN
  UPDATE tasklane_lists SET seq = seq + n, updated_at = p_at WHERE id = p_list RETURNING seq INTO last;
  INSERT INTO tasklane_journal (list, seq, task_id, kind, entry)
    SELECT p_list, last - n + e.i, e.task_id, e.kind, ('{"seq":' || (last - n + e.i) || ',' || e.body)::json
    FROM unnest(p_ids, p_kinds, p_bodies) WITH ORDINALITY AS e (task_id, kind, body, i);
  IF p_notify THEN
    PERFORM pg_notify('tasklane', '{"list":' || to_json(p_list)::text || ',"seq":' || last || '}');
  END IF;
  RETURN last;
END $$;
`,
  },
  {
    id: 3,
    name: 'tasklane_claim_ready and tasklane_put_tasks: the hot statements as functions',
    // Functions, so a caller can send them as simple statements (values as literals: BEGIN then
    // goes with the first, the writes with COMMIT) and still have their plans made once per
    // connection. Same statements as the prepared ones they stand for (pg-store.ts, commit.ts).
    sql: `
CREATE FUNCTION tasklane_claim_ready(p_list text, p_owner text, p_now timestamptz) RETURNS TABLE (doc json)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    SELECT t.doc FROM tasklane_tasks t
    WHERE t.list = p_list AND t.open_blockers = 0 AND NOT t.failed AND t.status = 'pending'
      AND (t.owner IS NULL OR t.owner = '')
      AND NOT EXISTS (SELECT 1 FROM tasklane_tasks o WHERE o.list = p_list AND o.status = 'pending' AND o.owner = p_owner)
      AND NOT EXISTS (SELECT 1 FROM tasklane_tasks l WHERE l.list = p_list AND l.lease_expires <= p_now
                      AND l.status = 'in_progress')
    ORDER BY t.priority DESC, t.cp DESC, t.id_num NULLS LAST, t.id COLLATE "C"
    LIMIT 1 FOR UPDATE OF t SKIP LOCKED;
END $$;
CREATE FUNCTION tasklane_put_tasks(p_list text, p_ids text[], p_docs json[], p_status text[], p_owner text[],
                                   p_failed boolean[], p_lease timestamptz[], p_priority float8[],
                                   p_weight float8[], p_id_num numeric[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tasklane_tasks (list, id, doc, status, owner, failed, lease_expires, priority, weight, cp, id_num)
  SELECT p_list, r.id, r.doc, r.status, r.owner, r.failed, r.lease_expires, r.priority, r.weight, r.weight, r.id_num
  FROM unnest(p_ids, p_docs, p_status, p_owner, p_failed, p_lease, p_priority, p_weight, p_id_num)
    AS r (id, doc, status, owner, failed, lease_expires, priority, weight, id_num)
  ON CONFLICT (list, id) DO UPDATE SET doc = EXCLUDED.doc, status = EXCLUDED.status, owner = EXCLUDED.owner,
    failed = EXCLUDED.failed, lease_expires = EXCLUDED.lease_expires, priority = EXCLUDED.priority,
    weight = EXCLUDED.weight;
END $$;
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies every migration the database lacks, once, whatever the number of processes doing the same. */
export async function migrate(db: Db): Promise<void> {
  // Fast path without a lock: the usual process finds the schema current.
  try {
    const rows = await db.query<{ n: string }>('SELECT max(id)::text AS n FROM tasklane_migrations');
    if (Number(rows[0]?.n ?? 0) >= SCHEMA_VERSION) return;
  } catch {
    // No table yet: migrate below.
  }
  await db.tx(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS tasklane_migrations (
         id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await tx.query<{ id: number }>('SELECT id FROM tasklane_migrations')).map((r) => Number(r.id)),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      await tx.query(m.sql);
      await tx.query('INSERT INTO tasklane_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
    }
  });
}
