import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listDirName, revisionOf, serializeTask, tasklaneFields, withTasklaneFields } from '../src/model/index.js';
import { scanList } from '../src/store/file/task-files.js';
import { openStore } from '../src/store/open.js';
import { allExited, type Fixture, goAll, startReady } from './fixtures/store/procs.js';
import { tempDir } from './helpers.js';

// Issue 2's concurrency acceptance with real processes: each fixture process opens the file store
// on the same list, waits until all are loaded, then they start together (a `go` line on stdin).

/** The lines of a fixture's report that start with `word `, split into fields. */
function reports(f: Fixture, word: string): string[][] {
  return f.lines.filter((l) => l.startsWith(`${word} `)).map((l) => l.split(' ').slice(1));
}

describe('file store under many processes', () => {
  it('16 processes each creating 200 tasks at once get 3,200 unique ids and lose none', async (t) => {
    const dir = tempDir();
    const list = 'creates';
    const procs = 16;
    const each = 200;
    const all = await startReady(procs, 'creator', (n) => [dir, list, String(each), `p${n}`]);
    goAll(all);
    await allExited(all);

    const owner = new Map<string, string>(); // id -> subject reported by the process that got it
    let slowest = 0;
    for (const f of all) {
      const got = reports(f, 'id');
      assert.equal(got.length, each, `process ${f.pid} reported ${got.length} ids, expected ${each}`);
      for (const [id, ms, ...subject] of got) {
        slowest = Math.max(slowest, Number(ms));
        assert.ok(!owner.has(id!), `id ${id} was handed out twice (${owner.get(id!)} and ${subject.join(' ')})`);
        owner.set(id!, subject.join(' '));
      }
    }
    const expected = Array.from({ length: procs * each }, (_, i) => String(i + 1));
    assert.deepEqual(
      [...owner.keys()].sort((a, b) => Number(a) - Number(b)),
      expected,
      'ids are exactly 1..3200',
    );

    t.diagnostic(`slowest single create: ${slowest} ms (the lock wait gives up at 10 s)`);
    const { tasks, invalid } = scanList(join(dir, listDirName(list)));
    assert.deepEqual(
      invalid.map((e) => e.message),
      [],
      'every task file is valid',
    );
    assert.equal(tasks.size, procs * each, 'one file per task');
    for (const [id, subject] of owner) {
      assert.equal(
        tasks.get(id)?.subject,
        subject,
        `task ${id}'s file holds the subject of the process that created it`,
      );
    }
  });

  it('16 processes claiming from 2,000 ready tasks claim each exactly once', async (t) => {
    const dir = tempDir();
    const list = 'claims';
    const listDir = join(dir, listDirName(list));
    const total = 2000;
    // Written directly (the store's own create is covered above): valid, ready, unowned tasks.
    mkdirSync(listDir, { recursive: true });
    const now = new Date().toISOString();
    for (let i = 1; i <= total; i++) {
      const task = withTasklaneFields(
        { id: String(i), subject: `task ${i}`, description: '', status: 'pending', blocks: [], blockedBy: [] },
        { rev: 1, createdAt: now, updatedAt: now },
      );
      writeFileSync(join(listDir, `${i}.json`), serializeTask(task));
    }

    const procs = 16;
    const all = await startReady(procs, 'claimer', (n) => [dir, list, `claimer-${n}`]);
    goAll(all);
    await allExited(all);

    const claimedBy = new Map<string, string>();
    all.forEach((f, n) => {
      for (const [id] of reports(f, 'claimed')) {
        assert.ok(!claimedBy.has(id!), `task ${id} was claimed twice (by ${claimedBy.get(id!)} and claimer-${n})`);
        claimedBy.set(id!, `claimer-${n}`);
      }
    });
    assert.equal(claimedBy.size, total, 'every task was claimed');
    t.diagnostic(`claims per process: ${all.map((f) => reports(f, 'claimed').length).join(' ')}`);

    const { tasks, invalid } = scanList(listDir);
    assert.deepEqual(
      invalid.map((e) => e.message),
      [],
      'every task file is valid',
    );
    for (const [id, claimer] of claimedBy) {
      const task = tasks.get(id);
      assert.equal(task?.status, 'in_progress', `task ${id} is in progress`);
      assert.equal(task?.owner, claimer, `task ${id}'s owner is the one process that reported claiming it`);
      assert.equal(tasklaneFields(task).lease?.owner, claimer, `task ${id}'s lease is held by its claimer`);
      assert.equal(tasklaneFields(task).attempts, 1, `task ${id} was claimed once`);
    }
  });

  for (const mode of ['cas', 'blind'] as const) {
    const title =
      mode === 'cas'
        ? '8 processes updating one task with expectedRev: each update applies or gets CONFLICT, none is lost'
        : '8 processes updating one task without expectedRev: every update applies';
    it(title, async (t) => {
      const dir = tempDir();
      const list = `updates-${mode}`;
      const store = openStore({ dir, list });
      const { id } = await store.create({ subject: 'contended' });
      const procs = 8;
      const iterations = mode === 'cas' ? 60 : 40;
      const all = await startReady(procs, 'updater', (n) => [dir, list, id, `p${n}`, String(iterations), mode]);
      goAll(all);
      await allExited(all);

      const applied = new Map<string, number>(); // key -> revision the update produced
      const conflicted: string[] = [];
      for (const f of all) {
        assert.deepEqual(
          reports(f, 'error').map((e) => e.join(' ')),
          [],
          `process ${f.pid} got only CONFLICT errors`,
        );
        for (const [key, rev] of reports(f, 'applied')) applied.set(key!, Number(rev));
        for (const [key] of reports(f, 'conflict')) conflicted.push(key!);
      }
      assert.equal(applied.size + conflicted.length, procs * iterations, 'every update reported an outcome');
      t.diagnostic(`${applied.size} applied, ${conflicted.length} conflicts`);
      if (mode === 'blind') assert.deepEqual(conflicted, [], 'an update without expectedRev never conflicts');

      const final = await store.get(id);
      const metadata = final.metadata ?? {};
      for (const key of applied.keys()) assert.ok(key in metadata, `applied update ${key} is in the final task`);
      for (const key of conflicted) assert.ok(!(key in metadata), `conflicting update ${key} changed nothing`);
      assert.equal(revisionOf(final), 1 + applied.size, 'the revision counts exactly the applied updates');
      const revs = [...applied.values()].sort((a, b) => a - b);
      assert.deepEqual(
        revs,
        Array.from({ length: applied.size }, (_, i) => i + 2),
        'each applied update produced its own revision',
      );
    });
  }
});
