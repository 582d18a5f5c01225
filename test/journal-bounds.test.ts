import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Task } from '../src/model/index.js';
import { JOURNAL_LINE_LIMIT, Journal, journalEntries, lastEntries } from '../src/store/file/journal.js';
import { MAX_QUEUED_CHANGES, watchList } from '../src/store/file/watch.js';
import type { Change } from '../src/store/types.js';
import { tempDir } from './helpers.js';

// The journal's bounds (issue 7, observation 8): rotation keeps seqs and bounds the size, readers
// stream it, a line too long to be ours is refused on write and skipped on read.

function task(id: string, rev: number, description = ''): Task {
  return {
    id,
    subject: `task ${id}`,
    description,
    status: 'pending',
    blocks: [],
    blockedBy: [],
    metadata: { tasklane: { rev } },
  };
}

test('rotation seals the live file under its last seq, keeps seqs, and drops the oldest sealed files', () => {
  const dir = tempDir();
  const journal = new Journal(dir, { rotateBytes: 4096, keepSealed: 2 });
  let written = 0;
  for (let i = 1; i <= 200; i++) {
    const [e] = journal.append(journal.prepare([{ kind: 'updated', task: task(String(i % 7), i, 'x'.repeat(100)) }]));
    assert.equal(e?.seq, i, 'seqs go on across rotations');
    written++;
  }
  const files = readdirSync(dir).filter((n) => n.startsWith('journal.'));
  const sealed = journal.sealed();
  assert.equal(sealed.length, 2, `only the newest sealed files are kept: ${files.join(' ')}`);
  for (const s of sealed) assert.ok(statSync(s.path).size < 4096 + 1024);
  const kept = [...journalEntries(journal)];
  assert.ok(kept.length < written, 'the oldest entries are gone');
  assert.equal(kept.at(-1)?.seq, 200);
  for (let i = 1; i < kept.length; i++)
    assert.equal(kept[i]?.seq, (kept[i - 1]?.seq ?? 0) + 1, 'no gap within what is kept');
  assert.deepEqual(
    lastEntries(journal, 30, () => true).map((e) => e.seq),
    kept.slice(-30).map((e) => e.seq),
    'read backwards across files, the same entries',
  );
});

test('a journal line over the limit is never written; a reader and the feed skip a foreign one', async () => {
  const dir = tempDir();
  const journal = new Journal(dir);
  assert.throws(
    () => journal.prepare([{ kind: 'updated', task: task('1', 1, 'x'.repeat(JOURNAL_LINE_LIMIT)) }]),
    /journal line is at most/,
  );
  const controller = new AbortController();
  const feed = watchList({
    listDir: join(dir, 'list'),
    journalPath: journal.path,
    list: 'l',
    scan: () => new Map(),
    signal: controller.signal,
    useFsEvents: false,
    rescanMs: 50,
  });
  const seen: Change[] = [];
  const done = (async () => {
    for await (const c of feed) {
      seen.push(c);
      if (c.taskId === '2') break;
    }
  })();
  journal.append(journal.prepare([{ kind: 'created', task: task('1', 1) }]));
  // Another program appends a 12 MiB line, then Tasklane goes on.
  appendFileSync(journal.path, `${'y'.repeat(12 * 1024 * 1024)}\n`);
  journal.append(journal.prepare([{ kind: 'created', task: task('2', 1) }]));
  const timer = setTimeout(() => controller.abort(), 15_000);
  await done;
  clearTimeout(timer);
  controller.abort();
  assert.deepEqual(
    seen.map((c) => `${c.seq} ${c.taskId}`),
    ['1 1', '2 2'],
    'the feed went past the long line',
  );
  assert.deepEqual(
    [...journalEntries(journal)].map((e) => e.seq),
    [1, 2],
  );
});

test('the feed follows the journal across a rotation without a gap', async () => {
  const dir = tempDir();
  const journal = new Journal(dir, { rotateBytes: 2048, keepSealed: 50 });
  const controller = new AbortController();
  const feed = watchList({
    listDir: join(dir, 'list'),
    journalPath: journal.path,
    list: 'l',
    scan: () => new Map(),
    signal: controller.signal,
    useFsEvents: false,
    rescanMs: 50,
  });
  const seqs: number[] = [];
  const done = (async () => {
    for await (const c of feed) {
      // (The list directory has no files: the feed also reports each task as deleted from it.)
      if (c.kind === 'updated') seqs.push(c.seq);
      if (c.seq === 120) break;
    }
  })();
  for (let i = 1; i <= 120; i++) {
    journal.append(journal.prepare([{ kind: 'updated', task: task(String(i), i, 'z'.repeat(200)) }]));
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 20));
  }
  const timer = setTimeout(() => controller.abort(), 15_000);
  await done;
  clearTimeout(timer);
  controller.abort();
  assert.ok(journal.sealed().length > 5, 'the journal rotated');
  assert.deepEqual(
    seqs,
    Array.from({ length: 120 }, (_, i) => i + 1),
  );
});

test('a reader that does not keep up is dropped with FEED_BEHIND, naming the seq to resume from', async () => {
  const dir = tempDir();
  const journal = new Journal(dir);
  const controller = new AbortController();
  const feed = watchList({
    listDir: join(dir, 'list'),
    journalPath: journal.path,
    list: 'l',
    scan: () => new Map(),
    signal: controller.signal,
    useFsEvents: false,
    rescanMs: 50,
  });
  const it = feed[Symbol.asyncIterator]();
  journal.append(journal.prepare([{ kind: 'updated', task: task('1', 1) }]));
  assert.equal((await it.next()).value?.seq, 1);
  const many = Array.from({ length: MAX_QUEUED_CHANGES + 10 }, (_, i) => ({
    kind: 'updated' as const,
    task: task(String(i + 2), 1),
  }));
  journal.append(journal.prepare(many));
  await new Promise((r) => setTimeout(r, 400));
  await assert.rejects(it.next(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'FEED_BEHIND');
    assert.match(err.message, /since: 1 /);
    return true;
  });
  assert.equal((await it.next()).done, true, 'and the feed has ended');
  controller.abort();
});
