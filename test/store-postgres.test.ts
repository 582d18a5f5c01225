import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { claimOrder, criticalPaths, estimateOf, isTasklaneError, priorityOf, type Task } from '../src/model/index.js';
import { openStore } from '../src/store/open.js';
import { Db, IDLE_IN_TRANSACTION_MS } from '../src/store/postgres/db.js';
import { SCHEMA_VERSION } from '../src/store/postgres/schema.js';
import type { ExportRecord, JournalEntry, TaskStore } from '../src/store/types.js';
import { run as cli } from './cli-run.js';
import { allExited, type Fixture, goAll, start, startReady } from './fixtures/store/procs.js';
import { tempDir } from './helpers.js';
import { freshSchemaUrl, type PostgresServer, startPostgres } from './pg-server.js';
import { runStoreContract } from './store-contract.js';

// The PostgreSQL store against the one contract suite, and what only a shared database has:
// many processes claiming at once, connections cut mid-claim, killed workers, concurrent edges,
// and changes crossing processes through NOTIFY (or polling without it). One server and one
// database for this file; each contract test gets a fresh schema (its own lists).

let server: PostgresServer;
let databaseUrl: string;
const opened: TaskStore[] = [];

before(async () => {
  server = await startPostgres();
  databaseUrl = await server.createDatabase('store_postgres_test');
});

after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await server?.stop();
  assert.throws(() => process.kill(server.pid, 0), 'the server process is gone');
});

/** A URL of the test database whose tables live in a fresh schema: an empty store. */
function freshStoreUrl(): Promise<string> {
  return freshSchemaUrl(databaseUrl);
}

function open(url: string, list: string): TaskStore {
  const store = openStore(url, list);
  opened.push(store);
  return store;
}

runStoreContract('PostgreSQL store', async (list = 'contract', sameStoreAs) =>
  open(sameStoreAs === undefined ? await freshStoreUrl() : sameStoreAs.descriptor, list),
);

describe('PostgreSQL store', () => {
  it('opens from a postgres:// descriptor, names it without the password, and connects only when used', async () => {
    const store = openStore('postgres://me:secret@127.0.0.1:1/nowhere', 'l');
    assert.equal(store.descriptor, 'postgres://me:secret@127.0.0.1:1/nowhere');
    assert.ok(!store.location.includes('secret'), store.location);
    assert.match(store.artifactsDir, /tasklane\/127-0-0-1-1-nowhere\/l$/);
    await assert.rejects(store.get('1'), (err: Error) => !err.message.includes('secret'));
    await store.close();
  });
});

/** A fresh list in a fresh schema, filled with `count` tasks at once (through importList); priorities and estimates (hours) from `priority` and `estimate`. */
async function filledList(
  count: number,
  priority: (i: number) => number = () => 0,
  estimate: (i: number) => number | undefined = () => undefined,
): Promise<TaskStore> {
  const store = open(await freshStoreUrl(), 'work');
  const at = new Date().toISOString();
  const records: ExportRecord[] = [{ type: 'list', list: 'work', version: 1, highestId: count, exportedAt: at }];
  for (let i = 1; i <= count; i++) {
    const hours = estimate(i);
    const fields = {
      rev: 1,
      createdAt: at,
      updatedAt: at,
      ...(priority(i) === 0 ? {} : { priority: priority(i) }),
      ...(hours === undefined ? {} : { estimate: hours }),
    };
    const task: Task = {
      id: String(i),
      subject: `task ${i}`,
      description: '',
      status: 'pending',
      blocks: [],
      blockedBy: [],
      metadata: { tasklane: fields },
    };
    records.push({ type: 'task', task });
  }
  await store.importList(records);
  return store;
}

function events(f: Fixture): Record<string, unknown>[] {
  return f.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function journal(store: TaskStore): Promise<JournalEntry[]> {
  const all: JournalEntry[] = [];
  for (let after = 0; ; ) {
    const page = await store.history({ after, limit: 5000 });
    if (page.length === 0) return all;
    all.push(...page);
    after = (page.at(-1) as JournalEntry).seq;
  }
}

describe('PostgreSQL store, its own machinery', () => {
  it('migrates once when many stores open a fresh database at the same moment', async () => {
    const url = await freshStoreUrl();
    const stores = Array.from({ length: 8 }, (_, i) => open(url, `l${i}`));
    await Promise.all(stores.map((s) => s.create({ subject: 'first' })));
    for (const s of stores) assert.equal((await s.get('1')).subject, 'first');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const rows = await client.query('SELECT id FROM tasklane_migrations ORDER BY id');
    await client.end();
    assert.deepEqual(
      rows.rows.map((r: { id: number }) => r.id),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
      'each migration applied once',
    );
  });

  it('has the server end a session left idle inside a transaction: 30 s unless the URL says otherwise', async () => {
    const url = await freshStoreUrl();
    const setting = async (u: string): Promise<unknown> => {
      const db = new Db(u);
      try {
        return (await db.query('SHOW idle_in_transaction_session_timeout'))[0]?.idle_in_transaction_session_timeout;
      } finally {
        await db.close();
      }
    };
    assert.equal(IDLE_IN_TRANSACTION_MS, 30_000);
    assert.equal(await setting(url), '30s');
    assert.equal(await setting(`${url}&idle_in_transaction_session_timeout=1500`), '1500ms');
    // A transaction that pauses longer than that between two statements is ended by the server.
    const db = new Db(`${url}&idle_in_transaction_session_timeout=300`);
    let attempts = 0;
    try {
      await assert.rejects(
        db.tx(async (tx) => {
          attempts++;
          await tx.query('SELECT 1');
          await new Promise((r) => setTimeout(r, 600));
          await tx.query('SELECT 2');
        }),
        (err: unknown) => isTasklaneError(err, 'IO'),
      );
    } finally {
      await db.close();
    }
    assert.ok(attempts > 1, 'each attempt was ended and run again');
  });

  it('exports a list and imports it into another: the same records again (exportedAt aside)', async () => {
    const store = open(await freshStoreUrl(), 'from');
    const a = await store.create({ subject: 'A', metadata: { zeta: 1, alpha: { b: 2, a: 1 } } });
    const b = await store.create({ subject: 'B', blockedBy: [a.id], priority: 2 });
    await store.create({ subject: 'C', blocks: [b.id] });
    const claim = await store.claim({ owner: 'w', taskId: a.id });
    await store.heartbeat(a.id, { owner: 'w', token: claim?.token });
    await store.complete(a.id, { owner: 'w', result: 'done' });
    await store.delete('3');
    const lines = async (s: TaskStore): Promise<string[]> => {
      const out: string[] = [];
      for await (const r of s.exportList()) out.push(JSON.stringify(r.type === 'list' ? { ...r, exportedAt: '' } : r));
      return out;
    };
    const exported = await lines(store);
    const into = open(store.descriptor, 'into');
    const records: ExportRecord[] = [];
    for await (const r of store.exportList()) records.push(r.type === 'list' ? { ...r, list: 'into' } : r);
    const report = await into.importList(records);
    assert.deepEqual(report, { tasks: 2, entries: exported.length - 3, highestId: 3 });
    assert.deepEqual((await lines(into)).slice(1), exported.slice(1), 'tasks and history byte for byte');
    assert.equal((await into.create({ subject: 'D' })).id, '4', 'ids continue past the high-water mark');
    await assert.rejects(into.importList(records), (err: unknown) => isTasklaneError(err, 'CONFLICT'));
    assert.deepEqual((await into.doctor()).problems, []);
    assert.deepEqual(
      (await into.ready()).map((t) => t.id),
      ['2', '4'],
    );
  });

  it('keeps quotes, backslashes and escapes in text exactly, whatever standard_conforming_strings says', async () => {
    // Claims and heartbeats send their rows as literals with COMMIT (db.ts): a literal that read
    // differently with standard_conforming_strings off would change the text, or worse.
    const base = await freshStoreUrl();
    const url = `${base}${encodeURIComponent(' -c standard_conforming_strings=off')}`;
    const store = open(url, 'quotes');
    const nasty = `${String.raw`it's a \'quote\' \\ and \x41 \n'); DROP TABLE tasklane_tasks; --`} É ✓ \u0007`;
    const made = await store.create({ subject: nasty, description: `${nasty}\n${nasty}`, metadata: { k: nasty } });
    const claim = await store.claim({ owner: nasty.slice(0, 40).replace(/[^\x20-\x7e]/g, '') });
    assert.ok(claim !== null);
    await store.heartbeat(made.id, { owner: claim.task.owner as string, token: claim.token });
    const back = await store.get(made.id);
    assert.equal(back.subject, nasty);
    assert.equal(back.description, `${nasty}\n${nasty}`);
    assert.equal(back.metadata?.k, nasty);
    assert.equal(back.owner, claim.task.owner);
    const entries = await store.history({ taskId: made.id });
    assert.deepEqual(
      entries.map((e) => e.kind),
      ['created', 'claimed', 'heartbeat'],
    );
    assert.equal((await store.list()).length, 1, 'the table is still there');
  });

  it('a write sent with COMMIT that fails rolls the whole change back and leaves the connection usable', async () => {
    const store = open(await freshStoreUrl(), 'rollback');
    const made = await store.create({ subject: 'A' });
    const client = new pg.Client({ connectionString: store.descriptor });
    await client.connect();
    // A trigger refusing claims: the claim's row write is the one sent with COMMIT.
    await client.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.status = 'in_progress' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$`);
    await client.query('CREATE TRIGGER refuse BEFORE UPDATE ON tasklane_tasks FOR EACH ROW EXECUTE FUNCTION refuse()');
    await assert.rejects(store.claim({ owner: 'w' }), /refused by test/);
    const seq = await client.query("SELECT seq FROM tasklane_lists WHERE id = 'rollback'");
    await client.query('DROP TRIGGER refuse ON tasklane_tasks');
    await client.end();
    assert.equal(Number(seq.rows[0].seq), 1, 'no journal entry of the refused claim');
    assert.equal((await store.get(made.id)).status, 'pending');
    // The pooled connections are not left inside an aborted transaction.
    for (let i = 0; i < 5; i++) assert.equal((await store.get(made.id)).id, made.id);
    assert.equal((await store.claim({ owner: 'w' }))?.task.id, made.id);
  });

  it('doctor finds a derived column out of step with the tasks, and --fix recomputes it', async () => {
    const store = open(await freshStoreUrl(), 'doc');
    const a = await store.create({ subject: 'A' });
    await store.create({ subject: 'B', blockedBy: [a.id] });
    const client = new pg.Client({ connectionString: store.descriptor });
    await client.connect();
    await client.query("UPDATE tasklane_tasks SET open_blockers = 0, cp = 7 WHERE id = '2'");
    await client.end();
    const report = await store.doctor();
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.task]),
      [['stale-index', '2']],
    );
    assert.equal(report.consistent, false);
    const fixed = await store.doctor({ fix: true });
    assert.equal(fixed.consistent, true);
    assert.deepEqual((await store.doctor()).problems, []);
    assert.equal((await store.claim({ owner: 'w' }))?.task.id, a.id);
    assert.equal(await store.claim({ owner: 'w' }), null, 'B waits for A again');
  });

  it('watch reconnects its LISTEN connection when the server ends it, and misses nothing meanwhile', async () => {
    const store = open(await freshStoreUrl(), 'feed');
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const listeners = async (): Promise<number[]> =>
      (
        await admin.query(
          "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN tasklane' AND pid <> pg_backend_pid()",
        )
      ).rows.map((r: { pid: number }) => r.pid);
    const controller = new AbortController();
    const seen: string[] = [];
    const feed = (async () => {
      for await (const c of store.watch({ since: 0, signal: controller.signal })) {
        seen.push(c.taskId);
        if (seen.length === 3) break;
      }
    })();
    try {
      await store.create({ subject: 'before' });
      await waitFor(() => seen.length === 1, 5000);
      const [first] = await listeners();
      assert.ok(first !== undefined, 'the feed listens');
      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      await store.create({ subject: 'while reconnecting' });
      let again: number[] = [];
      for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
        again = (await listeners()).filter((pid) => pid !== first);
        if (again.length > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(again.length, 1, 'listening again on a new connection');
      await store.create({ subject: 'after' });
      await feed;
      assert.deepEqual(seen, ['1', '2', '3']);
    } finally {
      controller.abort();
      await admin.end();
    }
  });
});

describe('PostgreSQL store, from the CLI', () => {
  it('creates, runs with the simulated agent and shows history on a postgres:// store, artifacts kept locally', async () => {
    const url = await freshStoreUrl();
    const state = tempDir('tasklane-state-');
    const env = { TASKLANE_STORE: url, TASKLANE_LIST: 'team', XDG_STATE_HOME: state };
    const ok = (args: string[]) => {
      const r = cli(args, { env });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    ok(['create', 'First', '--meta', 'sim={"ms":20}']);
    ok(['create', 'Second', '--blocked-by', '1', '--meta', 'sim={"ms":20}']);
    const report = ok(['run', '--preset', 'sim', '-j', '2', '--json']).json();
    assert.deepEqual(
      report.tasks.map((t: { id: string; status: string }) => [t.id, t.status]),
      [
        ['1', 'completed'],
        ['2', 'completed'],
      ],
    );
    const store = open(url, 'team');
    assert.deepEqual(
      (await store.list({ status: ['completed'] })).map((t) => t.id),
      ['1', '2'],
    );
    const kept = readdirSync(join(state, 'tasklane'));
    assert.equal(kept.length, 1, 'the run kept its artifacts under XDG_STATE_HOME/tasklane');
    assert.match(kept[0] as string, /^127-0-0-1-\d+-store_postgres_test$/);
    const kinds = (await store.history()).map((e) => `${e.kind}:${e.taskId}`);
    assert.deepEqual(kinds.slice(-4), ['claimed:1', 'completed:1', 'claimed:2', 'completed:2']);

    // A list id with characters a directory name could not keep: lists names it, and marks it current.
    const odd = { ...env, TASKLANE_LIST: 'team a.b' };
    assert.equal(cli(['create', 'Odd'], { env: odd }).status, 0);
    const lists = cli(['lists', '--json'], { env: odd }).json();
    assert.equal(lists.current, 'team a.b');
    assert.ok(
      lists.lists.some((l: { id: string }) => l.id === 'team a.b'),
      JSON.stringify(lists),
    );
  });
});

describe('PostgreSQL store, many processes', () => {
  it('16 worker processes claim 5,000 tasks, each exactly once, each worker in the claim order', async () => {
    const count = 5000;
    // Priorities and estimates (so critical paths) spread over the list, ids breaking the ties:
    // every part of the rule decides some pairs.
    const store = await filledList(
      count,
      (i) => (i * 7) % 5,
      (i) => (i % 3 === 0 ? undefined : 1 + ((i * 11) % 4)),
    );
    // The rule's order, as the model gives it (claimOrder over the list's critical paths).
    const tasks = await store.list();
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const rank = new Map(claimOrder(tasks, criticalPaths(byId)).map((t, i) => [t.id, i]));
    assert.equal(rank.size, count);
    const tiesBroken = { priority: 0, path: 0, id: 0 };
    const workers = await startReady(16, 'pg-worker', (n) => ['claim-all', store.descriptor, 'work', `w${n}`]);
    goAll(workers);
    await allExited(workers);
    const seen = new Map<string, string>();
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const [n, w] of workers.entries()) {
      const got = events(w);
      const ids = got.filter((e) => 'claimed' in e).map((e) => String(e.claimed));
      assert.ok(ids.length > 0, `w${n} claimed something`);
      for (const id of ids) {
        assert.equal(seen.get(id), undefined, `task ${id} claimed by w${n} and ${seen.get(id)}`);
        seen.set(id, `w${n}`);
      }
      for (let i = 1; i < ids.length; i++) {
        const [a, b] = [ids[i - 1] as string, ids[i] as string];
        assert.ok(
          (rank.get(a) as number) < (rank.get(b) as number),
          `w${n} claimed #${a} then #${b}: out of the rule's order`,
        );
        const [ta, tb] = [byId.get(a) as Task, byId.get(b) as Task];
        if (priorityOf(ta) !== priorityOf(tb)) tiesBroken.priority++;
        else if (estimateOf(ta) !== estimateOf(tb)) tiesBroken.path++;
        else tiesBroken.id++;
      }
      const done = got.find((e) => 'done' in e) as { start: number; end: number };
      first = Math.min(first, done.start);
      last = Math.max(last, done.end);
    }
    // Consecutive claims of one worker were ordered by each part of the rule, not by ids alone.
    assert.ok(
      tiesBroken.priority > 0 && tiesBroken.path > 0 && tiesBroken.id > 0,
      `pairs ordered by priority, path, id: ${JSON.stringify(tiesBroken)}`,
    );
    assert.equal(seen.size, count, 'every task was claimed');
    const stats = await store.stats();
    assert.equal(stats.byState.in_progress, count);
    const claims = (await journal(store)).filter((e) => e.kind === 'claimed');
    assert.equal(claims.length, count, 'one claim journaled per task');
    console.log(
      `# 16 processes: ${count} claims in ${last - first} ms (${Math.round((count * 1000) / (last - first))} claims/s); consecutive claims ordered by ${JSON.stringify(tiesBroken)}`,
    );
  });

  it('connections terminated in the middle of claims (pg_terminate_backend) lose no task and double-claim none', async () => {
    const count = 200;
    const leaseMs = 1500;
    const store = await filledList(count);
    const url = `${store.descriptor}&application_name=cut_me`;
    const workers = await startReady(4, 'pg-worker', (n) => ['work-all', url, 'work', `w${n}`, String(leaseMs)]);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    let cut = 0;
    let running = true;
    const cutter = (async () => {
      while (running) {
        const rows = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
           WHERE application_name = 'cut_me' AND state = 'active' AND pid <> pg_backend_pid()`,
        );
        cut += rows.rows.filter((r: { ok: boolean }) => r.ok).length;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
      }
    })();
    goAll(workers);
    try {
      await allExited(workers);
    } finally {
      running = false;
      await cutter;
      await admin.end();
    }
    assert.ok(cut > 0, 'some connections were cut mid-query');
    const stats = await store.stats();
    assert.equal(stats.byStatus.completed, count, 'every task completed');
    const entries = await journal(store);
    const byTask = new Map<string, JournalEntry[]>();
    for (const e of entries) byTask.set(e.taskId, [...(byTask.get(e.taskId) ?? []), e]);
    for (const [id, list] of byTask) {
      assert.equal(list.filter((e) => e.kind === 'completed').length, 1, `#${id} completed once`);
      // A second claim only once the first claim's lease had run out: never two live claims.
      const claims = list.filter((e) => e.kind === 'claimed');
      for (let i = 1; i < claims.length; i++) {
        const prev = (claims[i - 1] as JournalEntry).task?.metadata?.tasklane as { lease: { expiresAt: string } };
        assert.ok(
          Date.parse((claims[i] as JournalEntry).at) >= Date.parse(prev.lease.expiresAt),
          `#${id} claimed again while its claim was live`,
        );
      }
    }
    const errors = workers.flatMap(events).filter((e) => 'error' in e).length;
    console.log(`# ${cut} connections cut; ${errors} errors seen by workers; all ${count} tasks completed once`);
  });

  it('a worker killed mid-task: its task is claimable again once its lease runs out, and its token is refused', async () => {
    const store = await filledList(1);
    const worker = start('pg-worker', ['claim-hold', store.descriptor, 'work', 'doomed', '1500']);
    await worker.line((l) => l === 'ready');
    worker.send('go');
    const held = JSON.parse(await worker.line((l) => l.startsWith('{'))) as { claimed: string; token: string };
    assert.equal(held.claimed, '1');
    worker.child.kill('SIGKILL');
    await worker.exit;
    assert.equal(await store.claim({ owner: 'other' }), null, 'held while the lease runs');
    await new Promise((r) => setTimeout(r, 1600));
    const again = await store.claim({ owner: 'other' });
    assert.equal(again?.task.id, '1', 'claimable once the lease ran out');
    await assert.rejects(store.complete('1', { owner: 'doomed', token: held.token }), (err: unknown) =>
      isTasklaneError(err, 'NOT_OWNER'),
    );
    await store.complete('1', { owner: 'other', token: again?.token });
    assert.equal((await store.get('1')).status, 'completed');
  });

  it('two processes adding edges that together close a cycle: exactly one is refused', async () => {
    const pairs = 12;
    const store = await filledList(pairs * 2);
    const [one, two] = (await startReady(2, 'pg-worker', () => ['edge', store.descriptor, 'work'])) as [
      Fixture,
      Fixture,
    ];
    for (let p = 0; p < pairs; p++) {
      const [a, b] = [String(2 * p + 1), String(2 * p + 2)];
      one.send(`${a} ${b}`);
      two.send(`${b} ${a}`);
      const results = await Promise.all([
        one.line((l) => l.includes(`"edge":"${a} ${b}"`)),
        two.line((l) => l.includes(`"edge":"${b} ${a}"`)),
      ]);
      const codes = results.map((l) => (JSON.parse(l) as { result: string }).result).sort();
      assert.deepEqual(codes, ['CYCLE', 'ok'], `pair ${a}, ${b}: ${codes.join(', ')}`);
    }
    one.child.stdin?.end();
    two.child.stdin?.end();
    await allExited([one, two]);
    assert.deepEqual((await store.doctor()).problems, []);
  });

  it('a change written by another process reaches watch through NOTIFY, and by polling with NOTIFY left out', async () => {
    const store = await filledList(1);
    const listener = new pg.Client({ connectionString: databaseUrl });
    await listener.connect();
    const notes: string[] = [];
    listener.on('notification', (n) => notes.push(n.payload ?? ''));
    await listener.query('LISTEN tasklane');
    const cursor = (await store.history({ limit: 1 }))[0]?.seq ?? 0;
    const controller = new AbortController();
    const seen: { id: string; at: number }[] = [];
    const feed = (async () => {
      for await (const c of store.watch({ since: cursor, signal: controller.signal })) {
        if (c.kind === 'created') seen.push({ id: c.taskId, at: Date.now() });
        if (seen.length === 2) break;
      }
    })();
    const write = async (args: string[]): Promise<{ id: string; at: number }> => {
      const child = start('pg-worker', ['create', store.descriptor, 'work', ...args]);
      await child.line((l) => l === 'ready');
      child.send('go');
      const line = await child.line((l) => l.startsWith('{'));
      const at = Date.now();
      await allExited([child]);
      return { id: (JSON.parse(line) as { created: string }).created, at };
    };
    try {
      const notified = await write(['with notify']);
      await waitFor(() => seen.length >= 1, 5000);
      assert.equal(seen[0]?.id, notified.id);
      assert.ok(
        notes.some((n) => n === JSON.stringify({ list: 'work', seq: cursor + 1 })),
        `a small {list, seq} notification: ${notes.join(' ')}`,
      );
      const before = notes.length;
      const silent = await write(['without notify', '--no-notify']);
      await feed;
      assert.equal(seen[1]?.id, silent.id, 'polling delivered it');
      assert.equal(notes.length, before, 'no NOTIFY was sent for it');
    } finally {
      controller.abort();
      await listener.end();
    }
  });
});

async function waitFor(ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
