import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTasklaneError, listDirName } from '../src/model/index.js';
import { lock, lockDirFor, STALE_MS, tryLock } from '../src/store/file/lock.js';
import { type HolderRecord, judgeLock } from '../src/store/file/lock-holder.js';
import { openStore } from '../src/store/open.js';
import { type Fixture, goAll, start, startReady } from './fixtures/store/procs.js';
import { tempDir } from './helpers.js';

// Locks: proper-lockfile compatibility (what Claude Code sees) and the single-winner takeover of
// a lock left by a killed process, with real processes.

/** Makes a path and everything under it look `seconds` old, as if that much time had passed. */
function age(path: string, seconds: number): void {
  const then = new Date(Date.now() - seconds * 1000);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) age(join(path, name), seconds);
  utimesSync(path, then, then);
}

/** Whether a promise settles within `ms` (used only to check that something is still waiting). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    sleep(ms).then(() => false),
  ]);
  return settled;
}

/** Checks a shared O_APPEND log of `enter <pid>` / `exit <pid>` lines: never two holders at once. */
function assertOneHolderAtATime(log: string, expectedEntries: number): void {
  const lines = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  let holder: string | undefined;
  let entries = 0;
  lines.forEach((line, i) => {
    const [what, pid] = line.split(' ');
    if (what === 'enter') {
      assert.equal(holder, undefined, `line ${i + 1}: pid ${pid} entered while pid ${holder} held the lock`);
      holder = pid;
      entries++;
    } else {
      assert.equal(pid, holder, `line ${i + 1}: pid ${pid} left a lock held by ${holder}`);
      holder = undefined;
    }
  });
  assert.equal(holder, undefined, 'the last holder left');
  assert.equal(entries, expectedEntries, 'every waiter got the lock');
}

describe('locks: proper-lockfile compatibility', () => {
  it('the lock directory is the target name plus .lock', () => {
    assert.equal(lockDirFor('/x/tasks/l/.lock'), '/x/tasks/l/.lock.lock');
    assert.equal(lockDirFor('/x/tasks/l/7.json'), '/x/tasks/l/7.json.lock');
  });

  it('the list lock target is an empty file, and its lock is a directory held while the store writes', async () => {
    const dir = tempDir();
    const store = openStore({ dir, list: 'compat' });
    await store.create({ subject: 'a' });
    const listDir = join(dir, listDirName('compat'));
    const target = join(listDir, '.lock');
    assert.ok(statSync(target).isFile(), '.lock is a file');
    assert.equal(statSync(target).size, 0, '.lock is empty');
    assert.ok(!readdirSync(listDir).includes('.lock.lock'), 'the list lock is released after create');

    // While we hold the list lock (as Claude Code would), create waits for it.
    const held = tryLock(target);
    assert.ok(held !== undefined, 'the free list lock can be taken');
    assert.ok(statSync(join(listDir, '.lock.lock')).isDirectory(), 'the held lock is the directory .lock.lock');
    const creating = store.create({ subject: 'b' });
    assert.equal(await settlesWithin(creating, 300), false, 'create waits while the list lock is held');
    held.release();
    assert.equal((await creating).id, '2', 'create proceeds once the lock is released');
  });

  it('a fresh foreign lock directory is respected: tryLock refuses, lock waits for its release', async () => {
    const dir = tempDir();
    const target = join(dir, '1.json');
    writeFileSync(target, '{}');
    mkdirSync(`${target}.lock`); // what proper-lockfile does, mtime now
    assert.equal(tryLock(target), undefined, 'tryLock does not take a fresh foreign lock');
    await assert.rejects(lock(target, { timeoutMs: 200 }), (err) => isTasklaneError(err, 'LOCK_TIMEOUT'));
    const waiting = lock(target);
    assert.equal(await settlesWithin(waiting, 300), false, 'lock waits while the foreign lock is fresh');
    rmdirSync(`${target}.lock`); // the foreign holder releases
    const handle = await waiting;
    handle.release();
  });

  it("the store's update waits on a foreign task lock and then applies", async () => {
    const dir = tempDir();
    const store = openStore({ dir, list: 'compat' });
    const { id } = await store.create({ subject: 'a' });
    const lockDir = join(dir, listDirName('compat'), `${id}.json.lock`);
    mkdirSync(lockDir);
    const updating = store.update(id, { subject: 'b' });
    assert.equal(await settlesWithin(updating, 300), false, 'update waits while the task lock is held');
    rmdirSync(lockDir);
    assert.equal((await updating).subject, 'b');
  });

  it('a stale foreign lock directory (older than 10 s) is taken over', () => {
    const dir = tempDir();
    const target = join(dir, '.lock');
    writeFileSync(target, '');
    mkdirSync(`${target}.lock`);
    age(`${target}.lock`, 20);
    const handle = tryLock(target);
    assert.ok(handle !== undefined, 'the stale lock is taken over');
    assert.ok(Date.now() - statSync(`${target}.lock`).mtimeMs < 5_000, 'the lock directory is a fresh one');
    handle.release();
    assert.deepEqual(readdirSync(dir), ['.lock'], 'release leaves only the target');
  });

  it('a holder refreshes the mtime of its lock directory so it never looks stale', async () => {
    const dir = tempDir();
    const target = join(dir, 'x');
    writeFileSync(target, '');
    const handle = tryLock(target);
    assert.ok(handle !== undefined);
    age(handle.path, 8); // as if held for 8 s already
    await sleep(5_500); // one refresh period
    const ageMs = Date.now() - statSync(handle.path).mtimeMs;
    handle.release();
    assert.ok(ageMs < 5_000, `the held lock was refreshed (mtime ${ageMs} ms old)`);
  });
});

describe('locks: a lock left by a killed process', () => {
  it('is taken over once stale by exactly one of 8 waiters at a time, and all 8 get it', async () => {
    const dir = tempDir();
    const target = join(dir, '.lock');
    writeFileSync(target, '');
    const log = join(dir, 'holders.log');

    const holder = start('lock-holder', [target]);
    await holder.line((l) => l === 'locked');
    holder.child.kill('SIGKILL');
    await holder.exit;
    assert.ok(statSync(`${target}.lock`).isDirectory(), 'the killed holder left its lock directory');
    age(`${target}.lock`, 20);

    const waiters = await startReady(8, 'lock-waiter', () => [target, log, '50']);
    goAll(waiters);
    const held = await Promise.all(waiters.map((w) => w.line((l) => l.startsWith('held 0 '))));
    for (const w of waiters) w.child.stdin?.end();

    assertOneHolderAtATime(log, 8);
    // The same on the shared wall clock: each hold starts after the previous one ended.
    const intervals = held
      .map((l) => l.split(' ').slice(2).map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < intervals.length; i++) {
      assert.ok(
        intervals[i]![0] >= intervals[i - 1]![1],
        `hold ${i} [${intervals[i]}] began before hold ${i - 1} [${intervals[i - 1]}] ended`,
      );
    }
    assert.deepEqual(readdirSync(dir).sort(), ['.lock', 'holders.log'], 'no lock directory is left behind');
  });

  for (const variant of ['stale lock', 'stale lock with a dead taker-over inside'] as const) {
    it(`12 waiters that see the same ${variant} at once: never two holders (30 rounds)`, async (t) => {
      const dir = tempDir();
      const target = join(dir, '.lock');
      writeFileSync(target, '');
      const log = join(dir, 'holders.log');
      const waiters: Fixture[] = await startReady(12, 'lock-waiter', () => [target, log, '1']);
      const rounds = 30;
      for (let round = 0; round < rounds; round++) {
        // A lock left by a killed process (and, in the second variant, by a process killed in the
        // middle of taking it over), both long stale.
        mkdirSync(`${target}.lock`);
        if (variant !== 'stale lock') mkdirSync(`${target}.lock/.takeover`);
        age(`${target}.lock`, 20);
        goAll(waiters);
        await Promise.all(waiters.map((w) => w.line((l) => l.startsWith(`held ${round} `))));
        assert.ok(!readdirSync(dir).includes('.lock.lock'), `round ${round}: the last holder released`);
      }
      for (const w of waiters) w.child.stdin?.end();
      await Promise.all(waiters.map((w) => w.exit));
      assertOneHolderAtATime(log, 12 * rounds);
      assert.ok(!readdirSync(dir).includes('.lock.lock'), 'the lock is free at the end');
      // A stale lock set aside is removed too, unless a waiter's guard raced into it (harmless, rare).
      const leftovers = readdirSync(dir).filter((n) => n.startsWith('.lock.lock.stale-'));
      t.diagnostic(`stale locks set aside and left behind: ${leftovers.length}`);
    });
  }
});

describe('locks: judging a held lock (pure)', () => {
  const me = { pid: 1, start: '5', boot: 'boot-a', host: 'h', ns: 'pid:[1]' };
  const lockDir = { ino: 42, birthtimeMs: 1000.5, mtimeMs: 0 };
  const record = (over: Partial<HolderRecord> = {}): HolderRecord => ({
    pid: 77,
    start: '9',
    boot: 'boot-a',
    host: 'h',
    ns: 'pid:[1]',
    ino: 42,
    birth: 1000.5,
    since: 0,
    ...over,
  });
  const alive = () => true;
  const dead = () => false;
  const old = 60_000; // the lock directory's mtime is 60 s old
  const fresh = 1_000;

  it('a live Tasklane holder keeps its lock however old its mtime', () => {
    assert.equal(judgeLock(lockDir, record(), me, old, STALE_MS, alive).take, false);
  });

  it("a dead Tasklane holder's lock is taken at once, however fresh", () => {
    assert.deepEqual(judgeLock(lockDir, record(), me, fresh, STALE_MS, dead), {
      take: true,
      why: 'dead',
      holder: record(),
    });
  });

  it('anything else is judged by age: no record, a record for an earlier directory, another host, boot or pid namespace', () => {
    for (const r of [
      undefined,
      record({ ino: 43 }),
      record({ birth: 999 }),
      record({ host: 'other' }),
      record({ boot: 'boot-b' }),
      record({ ns: 'pid:[2]' }),
    ]) {
      assert.equal(judgeLock(lockDir, r, me, fresh, STALE_MS, dead).take, false, JSON.stringify(r));
      assert.deepEqual(
        judgeLock(lockDir, r, me, old, STALE_MS, alive).take && 'stale',
        'stale',
        `stale after 10 s: ${JSON.stringify(r)}`,
      );
    }
  });

  it('without a birth time a dead-looking record is not trusted (a reused inode could match it)', () => {
    const noBirth = { ...lockDir, birthtimeMs: 0 };
    assert.equal(judgeLock(noBirth, record({ birth: 0 }), me, fresh, STALE_MS, dead).take, false);
  });
});
