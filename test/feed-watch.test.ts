import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { revisionOf, sealRevision, serializeTask, type Task } from '../src/model/index.js';
import type { FileStore } from '../src/store/file/file-store.js';
import { type WatchListOptions, watchList } from '../src/store/file/watch.js';
import { openStore } from '../src/store/open.js';
import type { Change, ChangeKind } from '../src/store/types.js';
import { repoRoot, tempDir } from './helpers.js';

// The file store's change feed: every change Tasklane journals and every change others write
// straight into the directory (as Claude Code does) arrives, with events or without them.

function open(list = 'feed'): FileStore {
  return openStore({ dir: tempDir(), list }) as FileStore;
}

/** Collects changes from a feed; `until` waits for a condition and fails naming what it saw. */
class Collector {
  readonly changes: Change[] = [];
  private readonly controller = new AbortController();
  private readonly loop: Promise<void>;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(feed: (signal: AbortSignal) => AsyncIterable<Change>) {
    const iterable = feed(this.controller.signal);
    this.loop = (async () => {
      for await (const c of iterable) {
        this.changes.push(c);
        this.waiters = this.waiters.filter((w) => {
          if (!w.check()) return true;
          w.resolve();
          return false;
        });
      }
    })();
  }

  async until(what: string, check: (changes: Change[]) => boolean, ms = 15_000): Promise<void> {
    if (check(this.changes)) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ check: () => check(this.changes), resolve })),
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; saw ${JSON.stringify(this.summary())}`)),
          ms,
        );
      }),
    ]);
    clearTimeout(timer);
  }

  summary(): string[] {
    return this.changes.map((c) => `${c.kind} #${c.taskId} r${c.rev}`);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }
}

const has = (kind: ChangeKind, id: string) => (cs: Change[]) => cs.some((c) => c.kind === kind && c.taskId === id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Claude Code's own write: in place, not atomic, two-space JSON. */
function claudeWrite(store: FileStore, task: Task): void {
  mkdirSync(store.listDir, { recursive: true });
  writeFileSync(join(store.listDir, `${task.id}.json`), serializeTask(task));
}

function readTask(store: FileStore, id: string): Task {
  return JSON.parse(readFileSync(join(store.listDir, `${id}.json`), 'utf8')) as Task;
}

/** A feed over the store's list, as `store.watch()` makes it, with `options` on top. */
function feedOf(store: FileStore, options: Partial<WatchListOptions> = {}) {
  return (signal: AbortSignal) =>
    watchList({
      listDir: store.listDir,
      journalPath: store.journalPath,
      list: store.listId,
      scan: () => store.scan(),
      signal,
      ...options,
    });
}

for (const useFsEvents of [true, false]) {
  const mode = useFsEvents ? 'with fs events' : 'polling only (no fs events)';

  test(`feed ${mode}: every Tasklane change arrives once, with its kind and revision, in order`, async () => {
    const store = open();
    const feed = new Collector(feedOf(store, { useFsEvents, rescanMs: useFsEvents ? 1000 : 150 }));
    const a = await store.create({ subject: 'A' });
    const b = await store.create({ subject: 'B', blockedBy: [a.id] });
    const claim = await store.claim({ owner: 'w1' });
    assert.equal(claim?.task.id, a.id);
    await store.complete(a.id, { owner: 'w1', result: 'done' });
    await store.claim({ owner: 'w2', taskId: b.id });
    await store.fail(b.id, { owner: 'w2', reason: 'broke' });
    await store.delete(b.id);
    await feed.until('the last change (A loses its edge to B)', (cs) => cs.length >= 9);
    await sleep(300); // nothing more may come
    await feed.stop();

    assert.deepEqual(
      feed.changes.map((c) => `${c.kind} #${c.taskId}`),
      [
        'created #1',
        'created #2',
        'dependency #1',
        'claimed #1',
        'completed #1',
        'claimed #2',
        'failed #2',
        'deleted #2',
        'dependency #1',
      ],
    );
    for (const id of [a.id, b.id]) {
      const revs = feed.changes.filter((c) => c.taskId === id && c.kind !== 'deleted').map((c) => c.rev);
      assert.deepEqual(
        revs,
        [...revs].sort((x, y) => x - y),
        `task ${id}: revisions only go up: ${revs}`,
      );
      assert.equal(new Set(revs).size, revs.length, `task ${id}: no revision reported twice: ${revs}`);
    }
    const completed = feed.changes.find((c) => c.kind === 'completed');
    assert.equal(completed?.task.status, 'completed', 'a change carries the task as it now is');
    assert.equal(completed?.list, 'feed');
  });

  test(`feed ${mode}: changes written straight into the directory (Claude Code) arrive too`, async () => {
    const store = open();
    const t1 = await store.create({ subject: 'Made by Tasklane' });
    const feed = new Collector(feedOf(store, { useFsEvents, rescanMs: useFsEvents ? 1000 : 150 }));
    // A task Claude Code creates: no Tasklane metadata at all.
    claudeWrite(store, {
      id: '2',
      subject: 'Made by Claude',
      description: '',
      status: 'pending',
      blocks: [],
      blockedBy: [],
    });
    await feed.until('the foreign create of #2', has('created', '2'));
    // Claude Code takes a task: status and owner; metadata kept as it was (rev unchanged).
    claudeWrite(store, { ...readTask(store, t1.id), status: 'in_progress', owner: 'claude' });
    await feed.until('the foreign claim of #1', has('claimed', t1.id));
    claudeWrite(store, { ...readTask(store, t1.id), status: 'completed' });
    await feed.until('the foreign completion of #1', has('completed', t1.id));
    claudeWrite(store, { ...readTask(store, '2'), subject: 'Renamed by Claude' });
    await feed.until('the foreign rename of #2', (cs) => cs.some((c) => c.task.subject === 'Renamed by Claude'));
    unlinkSync(join(store.listDir, '2.json'));
    await feed.until('the foreign delete of #2', has('deleted', '2'));
    // Tasklane again, after foreign writes: journaled, reported once.
    await store.update(t1.id, { subject: 'Back to Tasklane' });
    await feed.until('the Tasklane update', (cs) => cs.some((c) => c.task.subject === 'Back to Tasklane'));
    await sleep(300);
    await feed.stop();

    assert.deepEqual(
      feed.summary().map((s) => s.replace(/ r\d+$/, '')),
      ['created #2', 'claimed #1', 'completed #1', 'updated #2', 'deleted #2', 'updated #1'],
    );
  });
}

test('feed: a half-written file (non-atomic writer) is never reported, the finished one is', async () => {
  const store = open();
  const t = await store.create({ subject: 'Before' });
  const feed = new Collector((signal) => store.watch({ signal }));
  const full = serializeTask({ ...readTask(store, t.id), subject: 'After the torn write' });
  const path = join(store.listDir, `${t.id}.json`);
  writeFileSync(path, full.slice(0, Math.floor(full.length / 2)));
  await sleep(150);
  writeFileSync(path, full);
  await feed.until('the finished write', (cs) => cs.some((c) => c.task.subject === 'After the torn write'));
  await sleep(200);
  await feed.stop();
  // A foreign change moves the revision past the last Tasklane write, by its content (revision.ts).
  assert.deepEqual(feed.summary(), [`updated #${t.id} r${revisionOf(JSON.parse(full) as Task)}`]);
});

test('feed: the list directory deleted and recreated (Claude Code clears finished lists)', async () => {
  const store = open();
  const a = await store.create({ subject: 'A' });
  const b = await store.create({ subject: 'B' });
  const feed = new Collector((signal) => store.watch({ signal }));
  await sleep(50); // let the feed start watching the old directory
  rmSync(store.listDir, { recursive: true });
  await feed.until('both deletes', (cs) => has('deleted', a.id)(cs) && has('deleted', b.id)(cs));
  // A new directory under the same name, first by a foreign writer, then by Tasklane.
  claudeWrite(store, {
    id: '7',
    subject: 'After the wipe',
    description: '',
    status: 'pending',
    blocks: [],
    blockedBy: [],
  });
  await feed.until('the task in the new directory', has('created', '7'));
  const c = await store.create({ subject: 'Tasklane in the new directory' });
  await feed.until('the Tasklane create in the new directory', has('created', c.id));
  await sleep(200);
  await feed.stop();
  assert.equal(feed.changes.filter((x) => x.kind === 'created' && x.taskId === c.id).length, 1);
});

test('feed: a directory swapped in by rename is rescanned', async () => {
  const store = open();
  await store.create({ subject: 'Old' });
  const feed = new Collector((signal) => store.watch({ signal }));
  await sleep(50);
  const fresh = `${store.listDir}.new`;
  mkdirSync(fresh);
  writeFileSync(
    join(fresh, '5.json'),
    serializeTask({ id: '5', subject: 'Swapped in', description: '', status: 'pending', blocks: [], blockedBy: [] }),
  );
  rmSync(store.listDir, { recursive: true });
  renameSync(fresh, store.listDir);
  await feed.until(
    'the swapped-in task, and the old one gone',
    (cs) => has('created', '5')(cs) && has('deleted', '1')(cs),
  );
  await feed.stop();
});

test('feed: initial: true reports every existing task first, in id order', async () => {
  const store = open();
  for (const s of ['one', 'two', 'three']) await store.create({ subject: s });
  const feed = new Collector((signal) => store.watch({ signal, initial: true }));
  await feed.until('three created', (cs) => cs.length >= 3);
  await store.update('2', { subject: 'two, again' });
  await feed.until('the update', (cs) => cs.length >= 4);
  await feed.stop();
  assert.deepEqual(feed.summary(), ['created #1 r1', 'created #2 r1', 'created #3 r1', 'updated #2 r2']);
});

test('feed: a change made after watch() but before iterating is not lost', async () => {
  const store = open();
  const iterable = store.watch();
  await store.create({ subject: 'early' });
  const seen: Change[] = [];
  for await (const c of iterable) {
    seen.push(c);
    break; // return() releases the watchers
  }
  assert.deepEqual(
    seen.map((c) => `${c.kind} #${c.taskId}`),
    ['created #1'],
  );
});

test('feed: aborting ends the loop and releases every watcher and timer (the process exits by itself)', async () => {
  const store = open();
  await store.create({ subject: 'x' });
  // A child that watches, sees one change, aborts and then does nothing: it must exit on its own.
  const script = `
    import { openStore } from ${JSON.stringify(join(repoRoot, 'dist/src/store/open.js'))};
    const store = openStore({ dir: ${JSON.stringify(join(store.listDir, '..'))}, list: 'feed' });
    const controller = new AbortController();
    setTimeout(() => store.update('1', { subject: 'y' }), 50);
    for await (const c of store.watch({ signal: controller.signal })) {
      console.log(c.kind, c.taskId);
      controller.abort();
    }
    console.log('ended');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  assert.equal(code, 0, `the child exited by itself (code ${code}); output: ${out}`);
  assert.equal(out, 'updated 1\nended\n');
});

test('feed: when fs.watch fails mid-way, one warning, then polling delivers every change', async () => {
  const store = open();
  const warnings: string[] = [];
  const made: import('node:fs').FSWatcher[] = [];
  const { watch } = await import('node:fs');
  const feed = new Collector(
    feedOf(store, {
      rescanMs: 150,
      onWarning: (m) => warnings.push(m),
      // Real watchers that deliver nothing and then fail, as an overloaded inotify would.
      watchDir: (dir) => {
        const w = watch(dir, () => {});
        made.push(w);
        return w;
      },
    }),
  );
  await store.create({ subject: 'before the failure' });
  await feed.until('the first create', has('created', '1'));
  for (const w of made) w.emit('error', new Error('simulated ENOSPC'));
  for (let i = 2; i <= 6; i++) await store.create({ subject: `after the failure ${i}` });
  const completed: Task = { ...readTask(store, '1'), status: 'completed' };
  claudeWrite(store, completed);
  await feed.until('every later change', (cs) => has('created', '6')(cs) && has('completed', '1')(cs));
  await feed.stop();
  assert.deepEqual(feed.summary(), [
    'created #1 r1',
    'created #2 r1',
    'created #3 r1',
    'created #4 r1',
    'created #5 r1',
    'created #6 r1',
    `completed #1 r${revisionOf(completed)}`, // Claude Code's change: past Tasklane's r1, by its content
  ]);
  assert.equal(warnings.length, 1, `exactly one warning: ${JSON.stringify(warnings)}`);
  assert.match(warnings[0] ?? '', /polling/);
});

test('feed: a Tasklane write whose journal line never came (writer killed) is still reported', async () => {
  const store = open();
  await store.create({ subject: 'A' });
  const feed = new Collector(feedOf(store, { journalGraceMs: 200 }));
  // What a Tasklane writer leaves when killed between the rename and the journal append: a bumped rev, sealed.
  const t = readTask(store, '1');
  const meta = t.metadata as { tasklane: { rev: number } };
  claudeWrite(
    store,
    sealRevision({ ...t, status: 'completed', metadata: { ...meta, tasklane: { ...meta.tasklane, rev: 2 } } }),
  );
  await feed.until('the unjournaled completion', has('completed', '1'));
  await feed.stop();
  assert.deepEqual(feed.summary(), ['completed #1 r2']);
});

test('feed: watching a list that does not exist yet sees its first tasks', async () => {
  const store = open('not-yet');
  const feed = new Collector((signal) => store.watch({ signal }));
  await sleep(50);
  const first = await store.create({ subject: 'first' });
  await feed.until('the first create', has('created', first.id));
  await store.update(first.id, { subject: 'first, renamed' });
  await feed.until('the update', (cs) => cs.length >= 2);
  await sleep(200);
  await feed.stop();
  assert.deepEqual(feed.summary(), ['created #1 r1', 'updated #1 r2']);
});

test('feed: a change made while the feed takes its starting snapshot is reported', async () => {
  const store = open();
  await store.create({ subject: 'A' });
  const { Journal } = await import('../src/store/file/journal.js');
  const journal = new Journal(dirname(store.journalPath));
  let first = true;
  const feed = new Collector(
    feedOf(store, {
      // The first scan is the starting snapshot: a Tasklane write lands just before it reads.
      scan: () => {
        if (first) {
          first = false;
          const t = readTask(store, '1');
          const meta = t.metadata as { tasklane: { rev: number } };
          const next = sealRevision({
            ...t,
            subject: 'A, during the start',
            metadata: { ...meta, tasklane: { ...meta.tasklane, rev: 2 } },
          });
          claudeWrite(store, next);
          journal.append(journal.prepare([{ kind: 'updated', task: next }]));
        }
        return store.scan();
      },
    }),
  );
  await feed.until('the update made during the start', (cs) => cs.length >= 1);
  await sleep(200);
  await feed.stop();
  assert.deepEqual(feed.summary(), ['updated #1 r2']);
});

test('the periodic rescan reads only the task files that changed, and names a file that stays invalid', async () => {
  const store = open();
  for (let i = 1; i <= 40; i++) await store.create({ subject: `Task ${i}` });
  // Every open of a file in the list directory, counted through the real fs module.
  const fs = (await import('node:fs')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  const real = fs.openSync;
  const opened: string[] = [];
  fs.openSync = ((path: Parameters<typeof real>[0], ...rest: unknown[]) => {
    if (String(path).startsWith(store.listDir)) opened.push(String(path));
    return (real as (...a: unknown[]) => number)(path, ...rest);
  }) as typeof real;
  syncBuiltinESMExports();
  const warnings: string[] = [];
  const feed = new Collector(feedOf(store, { useFsEvents: false, rescanMs: 40, onWarning: (m) => warnings.push(m) }));
  try {
    await sleep(150); // the start, and the first rescans (which read and stamp every file)
    opened.length = 0;
    await sleep(600); // about 15 rescans of an unchanged list
    assert.ok(opened.length < 40, `an unchanged list is not read again: ${opened.length} opens`);

    // Claude Code rewrites one task in place: found by the rescan alone (no fs events here).
    const t = readTask(store, '7');
    claudeWrite(store, { ...t, subject: 'Task 7, edited by Claude Code' });
    await feed.until('the edit of #7', (cs) =>
      cs.some((c) => c.taskId === '7' && c.task.subject.endsWith('Claude Code')),
    );
    assert.ok(opened.some((p) => p.endsWith('/7.json')));
    assert.ok(!opened.some((p) => p.endsWith('/8.json')), 'an unchanged file is not read');

    // A file that is not a task: named once it has stayed so for a rescan, and only once.
    writeFileSync(join(store.listDir, '99.json'), '{"id": "99", "subject": ');
    await sleep(400);
    const named = warnings.filter((w) => w.includes('99.json'));
    assert.equal(named.length, 1, JSON.stringify(warnings));
  } finally {
    fs.openSync = real;
    syncBuiltinESMExports();
    await feed.stop();
  }
});

test('feed: a second Claude Code edit whose content reads at a lower revision than the first is still reported', async () => {
  // Two outside edits of one Tasklane write have revisions in no order (revision.ts): the later
  // one read must not be taken for a stale read of the earlier.
  const store = open();
  const t = await store.create({ subject: 'A' });
  const first: Task = { ...readTask(store, t.id), status: 'in_progress', owner: 'claude' };
  const candidates = Array.from({ length: 64 }, (_, i): Task => ({ ...first, status: 'completed', subject: `A${i}` }));
  const second = candidates.find((c) => revisionOf(c) < revisionOf(first));
  assert.ok(second !== undefined, 'an outside content reading lower than another of the same Tasklane write');
  const feed = new Collector((signal) => store.watch({ signal }));
  await sleep(50);
  claudeWrite(store, first);
  await feed.until('the first edit', (cs) => cs.some((c) => c.task.owner === 'claude'));
  claudeWrite(store, second);
  await feed.until('the second edit', (cs) => cs.some((c) => c.task.status === 'completed'));
  await feed.stop();
  assert.deepEqual(feed.summary(), [
    `claimed #${t.id} r${revisionOf(first)}`,
    `completed #${t.id} r${revisionOf(second)}`,
  ]);
});
