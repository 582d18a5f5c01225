import pg from 'pg';

// The floor for bench/pg-claims: claims as bare SQL on a table of the same tasks, with no model,
// no store and no driver layer of ours, so that the benchmark shows beside Tasklane what
// PostgreSQL itself gives for a claim on this machine. Each claim is one prepared statement in
// its own transaction (one round trip, one commit, one WAL flush), the least a durable claim can
// cost. Variants:
//   bare     pick and mark in one UPDATE ... (SELECT ... FOR UPDATE SKIP LOCKED): pg-boss's shape;
//   journal  the same, and a journal row numbered from a sequence (numbers not in commit order);
//   listseq  the same, numbered from the list's row (seq + 1), so numbers follow commit order
//            with no gap, as Tasklane's journal does: the list's changes commit one at a time.

export const FLOOR_VARIANTS = ['bare', 'journal', 'listseq'] as const;
export type FloorVariant = (typeof FLOOR_VARIANTS)[number];

/** Makes the floor's tables in the (fresh) database at `url` and loads `ids` in claim order. */
export async function loadFloor(url: string, ids: string[]): Promise<void> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    await c.query(`
CREATE TABLE floor_tasks (id text PRIMARY KEY, ord int NOT NULL, status text NOT NULL, owner text, doc json NOT NULL);
CREATE INDEX floor_ready ON floor_tasks (ord) WHERE status = 'pending';
CREATE TABLE floor_journal (seq bigint PRIMARY KEY, task_id text NOT NULL, entry json NOT NULL);
CREATE SEQUENCE floor_seq;
CREATE TABLE floor_lists (id text PRIMARY KEY, seq bigint NOT NULL);
INSERT INTO floor_lists VALUES ('bench', 0);
CREATE FUNCTION floor_claim(p_owner text, p_listseq boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r record;
  s bigint;
BEGIN
  UPDATE floor_tasks t SET status = 'in_progress', owner = p_owner
    WHERE t.id = (SELECT k.id FROM floor_tasks k WHERE k.status = 'pending' ORDER BY k.ord LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING t.id, t.doc INTO r;
  IF r.id IS NULL THEN RETURN NULL; END IF;
  IF p_listseq THEN
    UPDATE floor_lists SET seq = seq + 1 WHERE id = 'bench' RETURNING seq INTO s;
  ELSE
    s := nextval('floor_seq');
  END IF;
  INSERT INTO floor_journal VALUES (s, r.id, r.doc);
  RETURN r.id;
END $$;`);
    const docs = ids.map((id) =>
      JSON.stringify({ id, subject: `Task ${id}`, status: 'pending', blocks: [], blockedBy: [] }),
    );
    await c.query(
      `INSERT INTO floor_tasks SELECT id, ord, 'pending', NULL, doc::json
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x (id, doc, ord)`,
      [ids, docs],
    );
    await c.query('VACUUM ANALYZE floor_tasks');
  } finally {
    await c.end();
  }
}

/** Connects one claimer; the function it returns claims one task (its id), or undefined when none is left. */
export async function connectFloor(
  url: string,
  variant: string,
  owner: string,
): Promise<() => Promise<string | undefined>> {
  if (!(FLOOR_VARIANTS as readonly string[]).includes(variant)) throw new Error(`unknown floor variant ${variant}`);
  const c = new pg.Client(url);
  await c.connect();
  const statement =
    variant === 'bare'
      ? {
          name: 'floor',
          text: `UPDATE floor_tasks t SET status = 'in_progress', owner = $1
                 WHERE t.id = (SELECT k.id FROM floor_tasks k WHERE k.status = 'pending' ORDER BY k.ord LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING t.id`,
          values: [owner],
        }
      : { name: 'floor', text: 'SELECT floor_claim($1, $2) AS id', values: [owner, variant === 'listseq'] };
  await c.query('SELECT 1');
  return async () => {
    const r = await c.query<{ id: string | null }>(statement);
    const id = r.rows[0]?.id ?? undefined;
    if (id === undefined || id === null) {
      await c.end();
      return undefined;
    }
    return id;
  };
}
