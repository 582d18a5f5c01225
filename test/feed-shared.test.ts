import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { FileStore } from '../src/store/file/file-store.js';
import { liveFeedSources, MAX_QUEUED_CHANGES } from '../src/store/file/watch.js';
import { openStore } from '../src/store/open.js';
import type { Change } from '../src/store/types.js';
import { repoRoot, tempDir } from './helpers.js';

// Issue 7, Build 7: one shared, bounded feed per list in a process, however many subscribers.
// One source does the watching, tailing and rescanning; each subscriber has its own bounded
// queue and its own end. The changes are written by other processes, as in real use.

const LIST = 'shared';
const storeModule = JSON.stringify(join(repoRoot, 'dist/src/store/open.js'));
const journalModule = JSON.stringify(join(repoRoot, 'dist/src/store/file/journal.js'));
const modelModule = JSON.stringify(join(repoRoot, 'dist/src/model/index.js'));
const watchModule = JSON.stringify(join(repoRoot, 'dist/src/store/file/watch.js'));

function open(): FileStore {
  return openStore({ dir: tempDir(), list: LIST }) as FileStore;
}

function rootOf(store: FileStore): string {
  return dirname(store.listDir);
}

/** Runs a Node program (ESM, `-e`) as its own process; resolves with its output, rejects on failure. */
function runNode(script: string, timeoutMs = 60_000): Promise<string> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve(out);
      else reject(new Error(`the child failed (code ${code}, signal ${signal}); stdout: ${out}; stderr: ${err}`));
    });
  });
}

/** Another process creates `n` tasks, then updates each: 2n changes. */
function writeTasks(store: FileStore, n: number): Promise<string> {
  return runNode(`
    import { openStore } from ${storeModule};
    const store = openStore({ dir: ${JSON.stringify(rootOf(store))}, list: ${JSON.stringify(LIST)} });
    for (let i = 1; i <= ${n}; i++) await store.create({ subject: 'task ' + i });
    for (let i = 1; i <= ${n}; i++) await store.update(String(i), { subject: 'task ' + i + ', again' });
  `);
}

/**
 * Another process journals `n` updates of task 1 in one write (as the journal's bound test does),
 * each one revision up, then writes the task file as the last of them: the directory shows no
 * change the journal has not said.
 */
function journalUpdates(store: FileStore, n: number): Promise<string> {
  return runNode(`
    import { Journal } from ${journalModule};
    import { sealRevision, serializeTask } from ${modelModule};
    import { readFileSync, writeFileSync } from 'node:fs';
    const file = ${JSON.stringify(join(store.listDir, '1.json'))};
    const task = JSON.parse(readFileSync(file, 'utf8'));
    const rev = task.metadata.tasklane.rev;
    const next = (i) => sealRevision({ ...task, subject: 'update ' + i, metadata: { ...task.metadata, tasklane: { ...task.metadata.tasklane, rev: rev + i } } });
    const journal = new Journal(${JSON.stringify(dirname(store.journalPath))});
    journal.append(journal.prepare(Array.from({ length: ${n} }, (_, i) => ({ kind: 'updated', task: next(i + 1) }))));
    writeFileSync(file, serializeTask(next(${n})));
  `);
}

/** A subscriber reading into an array; `until` waits (with a safety timeout) for a condition. */
class Reader {
  readonly changes: Change[] = [];
  error: (Error & { code?: string }) | undefined;
  readonly controller = new AbortController();
  readonly done: Promise<void>;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(store: FileStore) {
    const feed = store.watch({ signal: this.controller.signal });
    this.done = (async () => {
      try {
        for await (const c of feed) {
          this.changes.push(c);
          this.wake();
        }
      } catch (err) {
        this.error = err as Error;
      }
      this.wake();
    })();
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  async until(what: string, check: (changes: Change[]) => boolean): Promise<void> {
    if (check(this.changes)) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ check: () => check(this.changes), resolve })),
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; saw ${this.changes.length} changes`)),
          30_000,
        );
      }),
    ]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}

/** `n` readers, stopped when the test ends, whatever its outcome (a reader left running keeps the file's process alive). */
function readers(t: TestContext, store: FileStore, n: number): Reader[] {
  const made = Array.from({ length: n }, () => new Reader(store));
  t.after(() => Promise.all(made.map((r) => r.stop())));
  return made;
}

const summary = (cs: Change[]) => cs.map((c) => `${c.seq} ${c.kind} #${c.taskId} r${c.rev}`);

test('20 subscribers to one list see every change, in the same order, from one source', {
  timeout: 90_000,
}, async (t) => {
  const store = open();
  await store.create({ subject: 'before' }); // the list exists; this change is before every watch()
  const all = readers(t, store, 20);
  await writeTasks(store, 15);
  for (const r of all) await r.until('30 changes', (cs) => cs.length >= 30);
  assert.equal(liveFeedSources(), 1, 'one source for the 20 subscribers');
  const first = summary(all[0]?.changes ?? []);
  assert.equal(first.length, 30);
  assert.deepEqual(
    first.map((s) => s.split(' ').slice(1, 3).join(' ')),
    [
      ...Array.from({ length: 15 }, (_, i) => `created #${i + 2}`),
      ...Array.from({ length: 15 }, (_, i) => `updated #${i + 1}`),
    ],
  );
  for (const [i, r] of all.entries()) assert.deepEqual(summary(r.changes), first, `subscriber ${i}`);
  for (const r of all) await r.stop();
  assert.equal(liveFeedSources(), 0, 'the source stopped with its last subscriber');
});

test('a subscriber that never reads is dropped with FEED_BEHIND; the others keep receiving', {
  timeout: 90_000,
}, async (t) => {
  const store = open();
  await store.create({ subject: 'the task every entry updates' });
  const two = readers(t, store, 2);
  // The slow one takes one change, then never reads again.
  const slow = store.watch()[Symbol.asyncIterator]();
  t.after(() => slow.return?.());
  await journalUpdates(store, 1);
  const first = await slow.next();
  assert.equal(first.value?.taskId, '1');
  const firstSeq = first.value?.seq ?? 0;
  // Another process journals the updates in batches, each read by the two readers before the next;
  // one drain of the journal hands a whole batch to every queue at once, so a batch is kept small.
  const batch = 1000;
  const count = MAX_QUEUED_CHANGES + batch;
  for (let done = 0; done < count; done += batch) {
    await journalUpdates(store, batch);
    const last = firstSeq + done + batch;
    for (const r of two) await r.until(`seq ${last}`, (cs) => cs.some((c) => c.seq === last));
  }
  await assert.rejects(slow.next(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'FEED_BEHIND');
    assert.match(err.message, new RegExp(`since: ${firstSeq} `));
    return true;
  });
  assert.equal((await slow.next()).done, true, 'the slow subscriber has ended');
  // The others go on: a later change from another process reaches them.
  await runNode(`
    import { openStore } from ${storeModule};
    const store = openStore({ dir: ${JSON.stringify(rootOf(store))}, list: ${JSON.stringify(LIST)} });
    await store.create({ subject: 'after the drop' });
  `);
  for (const r of two) await r.until('the create after the drop', (cs) => cs.some((c) => c.kind === 'created'));
  for (const r of two) {
    const updates = r.changes.filter((c) => c.kind === 'updated').map((c) => c.seq);
    assert.deepEqual(
      updates,
      Array.from({ length: count + 1 }, (_, i) => firstSeq + i),
      'every update, in order',
    );
    assert.equal(r.error, undefined);
  }
  assert.equal(liveFeedSources(), 1);
  for (const r of two) await r.stop();
  assert.equal(liveFeedSources(), 0);
});

test('a subscriber that leaves does not stop the others', { timeout: 90_000 }, async (t) => {
  const store = open();
  await store.create({ subject: 'x' });
  const three = readers(t, store, 3);
  await writeTasks(store, 1); // creates #2, updates #1
  for (const r of three) await r.until('two changes', (cs) => cs.length >= 2);
  await three[0]?.stop();
  assert.equal(liveFeedSources(), 1, 'the source goes on for the two left');
  await runNode(`
    import { openStore } from ${storeModule};
    const store = openStore({ dir: ${JSON.stringify(rootOf(store))}, list: ${JSON.stringify(LIST)} });
    await store.update('2', { subject: 'after one left' });
    await store.complete('2', { result: 'done' });
  `);
  for (const r of three.slice(1)) await r.until('the two later changes', (cs) => cs.length >= 4);
  assert.deepEqual(
    three.slice(1).map((r) => summary(r.changes).map((s) => s.split(' ').slice(1, 3).join(' '))),
    [0, 1].map(() => ['created #2', 'updated #1', 'updated #2', 'completed #2']),
  );
  assert.equal(three[0]?.changes.length, 2, 'the one that left got nothing more');
  for (const r of three.slice(1)) await r.stop();
  assert.equal(liveFeedSources(), 0);
  // The next watch() makes the source again, with initial: true from what is there now.
  const controller = new AbortController();
  t.after(() => controller.abort());
  const again = store.watch({ initial: true, signal: controller.signal })[Symbol.asyncIterator]();
  const initial = [(await again.next()).value, (await again.next()).value] as Change[];
  assert.deepEqual(
    initial.map((c) => `${c.kind} #${c.taskId} ${c.task.status}`),
    ['created #1 pending', 'created #2 completed'],
  );
  assert.equal(liveFeedSources(), 1, 'a new source');
  await runNode(`
    import { openStore } from ${storeModule};
    const store = openStore({ dir: ${JSON.stringify(rootOf(store))}, list: ${JSON.stringify(LIST)} });
    await store.delete('1');
  `);
  assert.equal((await again.next()).value?.kind, 'deleted');
  await again.return?.();
  assert.equal(liveFeedSources(), 0);
});

test('initial: true joining a running source gives the tasks as of the call, then what follows', {
  timeout: 90_000,
}, async (t) => {
  const store = open();
  const [live] = readers(t, store, 1) as [Reader];
  await writeTasks(store, 3); // seqs 1-6
  await live.until('seq 6', (cs) => cs.some((c) => c.seq === 6));
  await store.update('2', { subject: 'changed just before the call' }); // seq 7, maybe not read by the source yet
  const controller = new AbortController();
  t.after(() => controller.abort());
  const late = store.watch({ initial: true, signal: controller.signal })[Symbol.asyncIterator]();
  const first: Change[] = [];
  for (let i = 0; i < 3; i++) first.push((await late.next()).value as Change);
  assert.deepEqual(
    first.map((c) => `${c.kind} #${c.taskId} ${c.task.subject}`),
    ['created #1 task 1, again', 'created #2 changed just before the call', 'created #3 task 3, again'],
  );
  await writeTasks(store, 1); // seq 8 creates #4, seq 9 updates #1
  const next = [(await late.next()).value, (await late.next()).value] as Change[];
  assert.deepEqual(
    next.map((c) => `${c.seq} ${c.kind} #${c.taskId}`),
    ['8 created #4', '9 updated #1'],
  );
  assert.equal(liveFeedSources(), 1);
  await late.return?.();
  await live.stop();
});

test('a subscriber with since joining a running source: replay, then live, no gap and no repeat', {
  timeout: 90_000,
}, async (t) => {
  const store = open();
  await writeTasks(store, 5); // seqs 1-10
  const [live] = readers(t, store, 1) as [Reader];
  const controller = new AbortController();
  const safety = setTimeout(() => controller.abort(), 30_000);
  t.after(() => {
    clearTimeout(safety);
    controller.abort();
  });
  const feed = store.watch({ since: 3, signal: controller.signal });
  // Changes after it joined, found by the source before its replay runs: the replay reads them
  // too, and each must come once.
  await writeTasks(store, 3); // seqs 11-16
  await live.until('seq 16', (cs) => cs.some((c) => c.seq === 16));
  const seqs: number[] = [];
  let more: Promise<string> | undefined;
  for await (const c of feed) {
    seqs.push(c.seq);
    if (c.seq === 16) more = writeTasks(store, 1); // seqs 17-18, live
    if (c.seq >= 18) break;
  }
  await more;
  assert.equal(liveFeedSources(), 1);
  assert.deepEqual(
    seqs,
    Array.from({ length: 15 }, (_, i) => i + 4),
  );
  await live.stop();
  assert.equal(liveFeedSources(), 0);
});

test('after every subscriber leaves, no watcher or timer keeps the process alive', { timeout: 90_000 }, async () => {
  const store = open();
  await store.create({ subject: 'x' });
  // A child with five subscribers that each see one change and leave, then does nothing: it must exit.
  const out = await runNode(
    `
    import { openStore } from ${storeModule};
    import { liveFeedSources } from ${watchModule};
    const store = openStore({ dir: ${JSON.stringify(rootOf(store))}, list: ${JSON.stringify(LIST)} });
    const loops = Array.from({ length: 5 }, async () => {
      for await (const c of store.watch()) return c.kind + ' ' + c.taskId;
    });
    setTimeout(() => store.update('1', { subject: 'y' }), 50);
    const seen = await Promise.all(loops);
    console.log(seen.join(','));
    console.log('live sources', liveFeedSources());
  `,
    20_000,
  );
  assert.equal(out, `${Array(5).fill('updated 1').join(',')}\nlive sources 0\n`);
});
