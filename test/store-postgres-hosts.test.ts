import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { tasklaneFields } from '../src/model/index.js';
import { openStore } from '../src/store/open.js';
import { IDLE_IN_TRANSACTION_MS } from '../src/store/postgres/db.js';
import type { JournalEntry, TaskStore } from '../src/store/types.js';
import { cleanEnv } from './cli-run.js';
import { type Fixture, start } from './fixtures/store/procs.js';
import { cliPath, tempDir } from './helpers.js';
import { makeNetwork, type Network, namespacesNamed, netnsUnavailable, SUBNET } from './netns.js';
import { type PostgresServer, startPostgres } from './pg-server.js';

// Workers on separate hosts sharing one PostgreSQL list: network namespaces made here (netns.ts),
// the database on a host of its own, workers on hosts `a` and `b`, joined by a bridge. A host is
// cut off (its link set down: its connections hang, as on a pulled cable) mid-task: its lease runs
// out, another host takes and finishes the task (real `tasklane worker` processes); when the
// cut-off host comes back, its late heartbeat, completion and failure are refused by the lease
// token and change nothing (a process driving the store API). Cut off inside a transaction: the
// database ends the silent session (db.ts IDLE_IN_TRANSACTION_MS), so its row locks do not keep
// the task from the others. Needs root (ip netns); tests and CI run as root. Namespaces and
// processes are removed in every outcome (netns.ts; `after` checks none is left).

const unavailable = process.getuid?.() !== 0 ? 'network namespaces need root (ip netns add)' : netnsUnavailable();
if (unavailable !== undefined) console.log(`# skipping the multi-host PostgreSQL tests: ${unavailable}`);

const DB = 'hosts_test';
const prefix = `tl-${process.pid}-`;

describe('PostgreSQL store, workers on separate hosts', { skip: unavailable }, () => {
  let net: Network;
  let server: PostgresServer | undefined;
  let schemas = 0;
  const stores: TaskStore[] = [];
  const children = new Set<ChildProcess>();

  before(async () => {
    net = makeNetwork(['a', 'b']);
    server = await startPostgres({ netns: net.db.ns, listen: net.db.address, trust: `${SUBNET}.0/24` });
    await server.createDatabase(DB);
  });

  // A test that failed with a host cut off leaves it so: every test starts with all links up.
  beforeEach(() => {
    for (const name of Object.keys(net.hosts)) net.restore(name);
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(stores.map((s) => s.close()));
    await server?.stop();
    net?.destroy();
    assert.deepEqual(namespacesNamed(prefix), [], 'no namespace left');
    if (server !== undefined) assert.throws(() => process.kill((server as PostgresServer).pid, 0), 'server gone');
  });

  /** A fresh schema: the URL the hosts use (TCP to the database host) and a store the test reads it by (its socket). */
  async function freshList(): Promise<{ hostUrl: string; store: TaskStore }> {
    const s = server as PostgresServer;
    const schema = `s${++schemas}`;
    const admin = new pg.Client({ connectionString: s.socketUrl(DB) });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const options = `options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const store = openStore(`${s.socketUrl(DB)}&${options}`, 'hosts');
    stores.push(store);
    return { hostUrl: `${s.url(DB)}?${options}`, store };
  }

  async function journal(store: TaskStore): Promise<JournalEntry[]> {
    const all: JournalEntry[] = [];
    for (let after = 0; ; ) {
      const page = await store.history({ after, limit: 1000 });
      if (page.length === 0) return all;
      all.push(...page);
      after = (page.at(-1) as JournalEntry).seq;
    }
  }

  /** Every task completed, each by exactly one `completed` entry. */
  async function completedOnce(store: TaskStore): Promise<Map<string, JournalEntry>> {
    const tasks = await store.list();
    assert.deepEqual(
      tasks.filter((t) => t.status !== 'completed').map((t) => `#${t.id} ${t.status}`),
      [],
      'every task completed',
    );
    const done = new Map<string, JournalEntry>();
    for (const e of await journal(store)) {
      if (e.kind !== 'completed') continue;
      assert.equal(done.get(e.taskId), undefined, `#${e.taskId} completed twice`);
      done.set(e.taskId, e);
    }
    assert.equal(done.size, tasks.length, 'one completed entry per task');
    return done;
  }

  /** A `tasklane worker` (the real command) on host `name`. */
  function worker(name: string, hostUrl: string, args: string[]) {
    const host = net.hosts[name] as { exec(argv: string[]): string[] };
    const [command, ...rest] = host.exec([process.execPath, cliPath, 'worker', ...args]) as [string, ...string[]];
    const child = spawn(command, rest, {
      env: cleanEnv({
        TASKLANE_STORE: hostUrl,
        TASKLANE_LIST: 'hosts',
        XDG_STATE_HOME: tempDir('tasklane-host-state-'),
        NO_COLOR: '1',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const exit = new Promise<number | null>((resolve) =>
      child.on('close', (code) => {
        children.delete(child);
        resolve(code);
      }),
    );
    return {
      pid: child.pid as number,
      exit,
      stdout: () => stdout,
      stderr: () => stderr,
    };
  }

  /** The processes in host `name`'s namespace. */
  function pidsOn(name: string): number[] {
    const ns = (net.hosts[name] as { ns: string }).ns;
    const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
    return r.stdout.split('\n').filter(Boolean).map(Number);
  }

  /** A process on host `name` driving the store API (fixtures/store/pg-host.ts). */
  /** Waits until the worker `w` on host `name` holds #1 (in progress, owned by its pid). */
  async function heldBy(store: TaskStore, name: string, w: ReturnType<typeof worker>): Promise<void> {
    await until(
      async () => {
        const t = await store.get('1');
        return t.status === 'in_progress' && mine(t.owner, w.pid) ? t : undefined;
      },
      20_000,
      () => `host ${name} never claimed #1: ${w.stderr()}`,
    );
  }

  function hostFixture(name: string, hostUrl: string, owner = `host-${name}`): Fixture {
    const host = net.hosts[name] as { exec(argv: string[]): string[] };
    return start('pg-host', [hostUrl, 'hosts', owner, name], host.exec([]));
  }

  /** The fixture's next output line after the first `n`, as JSON. */
  async function lineAfter(f: Fixture, n: number, ms = 60_000): Promise<Record<string, unknown>> {
    await until(
      async () => (f.lines.length > n ? true : undefined),
      ms,
      () => `no reply: ${f.lines.join(' | ')}`,
    );
    return JSON.parse(f.lines[n] as string) as Record<string, unknown>;
  }

  /** Sends one command and waits for its line. */
  async function reply(f: Fixture, command: string): Promise<Record<string, unknown>> {
    const n = f.lines.length;
    f.send(command);
    return lineAfter(f, n);
  }

  it('a host cut off mid-task and back after its lease ran out: another host runs the task, the cut-off host has given it up and writes nothing for it; each task completed once', async () => {
    const { hostUrl, store } = await freshList();
    await store.create({ subject: 'long', priority: 9, metadata: { sim: { ms: 10_000 } } });
    for (let i = 2; i <= 7; i++) await store.create({ subject: `short ${i}`, metadata: { sim: { ms: 300 } } });
    const flags = ['--preset', 'sim', '--lease', '2s', '--idle-exit', '4s', '--json'];

    const a = worker('a', hostUrl, flags);
    await heldBy(store, 'a', a);
    const b = worker('b', hostUrl, flags);
    await sleep(800); // a heartbeats at least once
    net.cut('a');
    const cutAt = Date.now();
    const lease = await store.get('1');
    const aLease = tasklaneFields(lease).lease as { expiresAt: string };
    assert.ok(mine(lease.owner, a.pid), 'a still held #1 when it was cut off');

    // The task is claimable again once a's lease runs out, and host b takes it.
    const taken = await until(
      async () => {
        const t = await store.get('1');
        return mine(t.owner, b.pid) ? t : undefined;
      },
      30_000,
      () => `host b never took #1 over: ${b.stderr()}`,
    );
    const entries = await journal(store);
    const bClaim = entries.filter((e) => e.taskId === '1' && e.kind === 'claimed').at(-1) as JournalEntry;
    assert.ok(mine(bClaim.actor, b.pid), `b's claim is journaled: ${JSON.stringify(bClaim)}`);
    assert.ok(
      Date.parse(bClaim.at) >= Date.parse(aLease.expiresAt),
      `b claimed #1 at ${bClaim.at}, after a's lease ran out at ${aLease.expiresAt}`,
    );
    assert.equal(taken.status, 'in_progress');
    const cutFor = Date.now() - cutAt;

    // Host a comes back while b runs the task. a gives #1 up a lease after its last answered
    // heartbeat (agent stopped, nothing written, the worker ends with an IO error), about when
    // b can take it, so by now as a rule; should its timer run late past the restore, its held
    // heartbeat may get through first and be refused by the token: then it reports #1 lost and
    // carries on. Either way it writes nothing for #1.
    net.restore('a');
    const [aCode, bCode] = await within(
      Promise.all([a.exit, b.exit]),
      60_000,
      () => `the workers did not stop (a hung after coming back?): a: ${a.stderr()}\nb: ${b.stderr()}`,
    );
    assert.equal(bCode, 0, `b exited ${bCode}: ${b.stderr()}`);
    const gaveUp = /tasklane: error: task 1: the lease could not be renewed: the store did not answer for [\d.]+ s/;
    if (aCode === 1) {
      assert.match(a.stderr(), gaveUp, `a gave #1 up: ${a.stderr()}`);
      assert.equal((JSON.parse(a.stdout()) as { error?: { code: string } }).error?.code, 'IO', a.stdout());
    } else {
      assert.equal(aCode, 0, `a exited ${aCode}: ${a.stderr()}`);
      assert.match(a.stderr(), /lost #1 long: the claim was lost/, `a was told its claim was lost: ${a.stderr()}`);
    }
    const bReport = JSON.parse(b.stdout()) as { completed: string[] };
    assert.ok(bReport.completed.includes('1'), 'b completed #1');

    const done = await completedOnce(store);
    assert.ok(mine(done.get('1')?.actor, b.pid), 'b completed #1');
    assert.equal(done.size, 7);
    if (aCode === 1) {
      const byA = [...done.values()].filter((e) => mine(e.actor, a.pid)).map((e) => e.taskId);
      assert.deepEqual(byA, [], 'a, having given up, completed nothing');
    }
    // Nothing a wrote about #1 after b took it over.
    const late = (await journal(store)).filter((e) => e.taskId === '1' && e.seq > bClaim.seq && mine(e.actor, a.pid));
    assert.deepEqual(late, [], 'no write by a on #1 after b claimed it');
    const said =
      a
        .stderr()
        .split('\n')
        .find((l) => l.includes('lease could not be renewed') || l.includes('lost #1')) ?? '';
    console.log(`# a was cut off ${cutFor} ms before b took #1 over; a exited ${aCode}; a said: ${said}`);
  });

  it('a host cut off for good mid-task: its worker stops the agent once a lease has passed unanswered and exits 1; another host runs the task', async () => {
    const { hostUrl, store } = await freshList();
    await store.create({ subject: 'long', priority: 9, metadata: { sim: { ms: 8_000 } } });
    await store.create({ subject: 'short', metadata: { sim: { ms: 300 } } });
    const flags = ['--preset', 'sim', '--lease', '2s', '--grace', '1s', '--idle-exit', '3s', '--json'];
    const a = worker('a', hostUrl, flags);
    await heldBy(store, 'a', a);
    // The agent: a's processes other than the worker (the host runs nothing else).
    const agents = await until(
      async () => {
        const others = pidsOn('a').filter((p) => p !== a.pid);
        return others.length > 0 ? others : undefined;
      },
      20_000,
      () => `no agent on host a: ${a.stderr()}`,
    );
    const b = worker('b', hostUrl, flags);
    await sleep(800); // a heartbeats at least once
    net.cut('a'); // for good: not restored in this test
    const cutAt = Date.now();
    const aLease = tasklaneFields(await store.get('1')).lease as { expiresAt: string };

    // a gives the task up a lease after its last answered heartbeat, stops its agent, and ends
    // with an IO error; on main it waited for its hung heartbeat until TCP gave up (~15 min).
    const aCode = await within(a.exit, 60_000, () => `a did not stop while cut off: ${a.stderr()}`);
    const aTook = Date.now() - cutAt;
    assert.equal(aCode, 1, `a exited ${aCode}: ${a.stderr()}`);
    assert.match(
      a.stderr(),
      /tasklane: error: task 1: the lease could not be renewed: the store did not answer for [\d.]+ s.*; its agent was stopped and nothing was recorded/,
      a.stderr(),
    );
    assert.doesNotMatch(a.stderr(), /completed #1|\[done\] #1/, 'a did not record #1');
    assert.deepEqual(
      agents.filter((p) => alive(p)),
      [],
      `a's agent is gone (pids ${agents.join(', ')}; on host a now: ${pidsOn('a').join(', ') || 'none'})`,
    );
    const aOut = JSON.parse(a.stdout()) as { error?: { code: string; task?: string } };
    assert.deepEqual({ code: aOut.error?.code, task: aOut.error?.task }, { code: 'IO', task: '1' }, a.stdout());

    // b takes #1 once a's lease has run out, and completes it and the rest.
    const bCode = await within(b.exit, 60_000, () => `b did not finish: ${b.stderr()}`);
    assert.equal(bCode, 0, `b exited ${bCode}: ${b.stderr()}`);
    const bReport = JSON.parse(b.stdout()) as { completed: string[] };
    assert.deepEqual([...bReport.completed].sort(), ['1', '2'], b.stderr());
    const entries = await journal(store);
    const bClaim = entries.filter((e) => e.taskId === '1' && e.kind === 'claimed').at(-1) as JournalEntry;
    assert.ok(mine(bClaim.actor, b.pid), `b's claim is journaled: ${JSON.stringify(bClaim)}`);
    assert.ok(
      Date.parse(bClaim.at) >= Date.parse(aLease.expiresAt),
      `b claimed #1 at ${bClaim.at}, after a's lease ran out at ${aLease.expiresAt}`,
    );
    const done = await completedOnce(store);
    assert.ok(mine(done.get('1')?.actor, b.pid), 'b completed #1');
    const late = entries.filter((e) => mine(e.actor, a.pid) && Date.parse(e.at) > cutAt);
    assert.deepEqual(late, [], 'nothing journaled by a after it was cut off');
    const said =
      a
        .stderr()
        .split('\n')
        .find((l) => l.includes('lease could not be renewed')) ?? '';
    console.log(`# a, cut off for good, exited ${aTook} ms after the cut (lease 2 s); it said: ${said}`);
  });

  it('a host cut off while its agent finishes records the outcome once it is back (within the lease), and carries on', async () => {
    const { hostUrl, store } = await freshList();
    // 12 s: longer than the pool keeps an idle connection (10 s), so the outcome's write needs a
    // new connection, which fails at once while cut off (a kept one would hang until restored).
    await store.create({ subject: 'finishes while cut off', priority: 9, metadata: { sim: { ms: 12_000 } } });
    await store.create({ subject: 'after', metadata: { sim: { ms: 200 } } });
    const a = worker('a', hostUrl, ['--preset', 'sim', '--lease', '60s', '--idle-exit', '3s', '--json']);
    await until(
      async () => ((await store.get('1')).status === 'in_progress' ? true : undefined),
      20_000,
      () => `host a never claimed #1: ${a.stderr()}`,
    );
    net.cut('a');
    // The agent ends ~12 s after its start; the first attempts to record it fail while cut off.
    await until(
      async () => (a.stderr().includes('recording its outcome failed') ? true : undefined),
      40_000,
      () => `a never said its write failed: ${a.stderr()}`,
    );
    assert.equal((await store.get('1')).status, 'in_progress', 'nothing recorded while cut off');
    await sleep(1_500);
    net.restore('a');
    const code = await within(a.exit, 60_000, () => `a did not stop after coming back: ${a.stderr()}`);
    assert.equal(code, 0, `a exited ${code}: ${a.stderr()}`);
    const report = JSON.parse(a.stdout()) as { completed: string[] };
    assert.deepEqual([...report.completed].sort(), ['1', '2'], `a completed both: ${a.stderr()}`);
    const done = await completedOnce(store);
    assert.equal(done.size, 2);
  });

  it("the cut-off host's late heartbeat, completion and failure are refused by the lease token and change nothing", async () => {
    const { hostUrl, store } = await freshList();
    await store.create({ subject: 'contended' });
    // One owner name on both hosts: only the lease token tells the claims apart.
    const [fa, fb] = [hostFixture('a', hostUrl, 'worker'), hostFixture('b', hostUrl, 'worker')];
    await Promise.all([fa, fb].map((f) => f.line((l) => l === 'ready')));
    const aClaim = await reply(fa, 'claim 1 2000');
    assert.equal(aClaim.claimed, '1', JSON.stringify(aClaim));

    net.cut('a');
    const sentAt = Date.now();
    const n = fa.lines.length;
    fa.send('beat'); // on a's open connection, held up by the cut
    await sleep(Date.parse(aClaim.expiresAt as string) - Date.now() + 100);
    const bClaim = await reply(fb, 'claim any 30000');
    assert.equal(bClaim.claimed, '1', `b takes #1 once a's lease ran out: ${JSON.stringify(bClaim)}`);
    assert.notEqual(bClaim.token, aClaim.token);
    const row = await store.get('1');
    const entries = await journal(store);
    await sleep(300);
    assert.equal(fa.lines.length, n, "a's heartbeat is still on its way");

    net.restore('a');
    const restoredAt = Date.now();
    const beat = await lineAfter(fa, n);
    assert.equal(beat.result, 'NOT_OWNER', `the late heartbeat: ${JSON.stringify(beat)}`);
    assert.match(beat.message as string, /the claim token does not match/);
    assert.ok(
      (beat.ms as number) >= restoredAt - sentAt,
      `it arrived only after the link came back: ${JSON.stringify(beat)}`,
    );
    const complete = await reply(fa, 'complete');
    assert.equal(complete.result, 'NOT_OWNER', `the late completion: ${JSON.stringify(complete)}`);
    assert.match(complete.message as string, /the claim token does not match/);
    const fail = await reply(fa, 'fail');
    assert.equal(fail.result, 'NOT_OWNER', `the late failure: ${JSON.stringify(fail)}`);
    assert.match(fail.message as string, /the claim token does not match/);
    assert.deepEqual(await store.get('1'), row, 'the row is as b left it');
    assert.deepEqual(await journal(store), entries, 'nothing journaled');

    assert.equal((await reply(fb, 'complete')).result, 'ok');
    await completedOnce(store);
    assert.equal(tasklaneFields(await store.get('1')).result, 'by worker on b');
    for (const f of [fa, fb]) f.child.stdin?.end();
    await Promise.all([fa.exit, fb.exit]);
    console.log(`# a's heartbeat held up ${beat.ms} ms by the cut, then refused (${beat.message})`);
  });

  it('a host cut off inside a transaction: the database ends its session, so the row it locked is claimable again', async () => {
    const { hostUrl, store } = await freshList();
    await store.create({ subject: 'locked' });
    const [fa, fb] = [hostFixture('a', hostUrl), hostFixture('b', hostUrl)];
    await Promise.all([fa, fb].map((f) => f.line((l) => l === 'ready')));
    const held = await reply(fa, 'hold 1');
    assert.deepEqual(held, { holding: '1', attempt: 1 });
    net.cut('a');
    const cutAt = Date.now();
    // b looks for a ready task as a worker does: the locked row is skipped while a's transaction
    // lives; once the database has ended a's silent session, the row is free.
    assert.deepEqual(await reply(fb, 'claim any 30000'), { claim: null }, 'skipped while locked');
    const bClaim = await until(
      async () => {
        const r = await reply(fb, 'claim any 30000');
        return r.claimed === '1' ? r : undefined;
      },
      IDLE_IN_TRANSACTION_MS + 15_000,
      () => "the row a's cut-off transaction locked stayed locked",
    );
    const waited = Date.now() - cutAt;
    assert.ok(waited >= IDLE_IN_TRANSACTION_MS - 1000, `freed after ${waited} ms: by the session's end, not before`);
    net.restore('a');
    fa.child.stdin?.end();
    assert.equal((await reply(fb, 'complete')).result, 'ok');
    fb.child.stdin?.end();
    await Promise.all([fa.exit, fb.exit]);
    const hold = JSON.parse(fa.lines.at(-1) as string) as Record<string, unknown>;
    assert.equal(hold.attempts, 2, `a's transaction was ended by the server and ran again: ${JSON.stringify(hold)}`);
    const done = await completedOnce(store);
    assert.equal(done.get('1')?.actor, 'host-b');
    console.log(
      `# b claimed #${bClaim.claimed} ${waited} ms after a was cut off inside its transaction; a's came back: ${JSON.stringify(hold)}`,
    );
  });
});

/** Whether process `pid` is still there. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether a task owner or journal actor names the process `pid` (owners read host:pid:slot). */
function mine(owner: string | undefined, pid: number): boolean {
  return owner?.includes(`:${pid}:`) === true;
}

async function within<T>(work: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why())), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until<T>(probe: () => Promise<T | undefined>, ms: number, why: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(why());
    await sleep(50);
  }
}
