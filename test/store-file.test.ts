import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import type { FileStore } from '../src/store/file/file-store.js';
import { openStore } from '../src/store/open.js';
import { run as cli } from './cli-run.js';
import { start } from './fixtures/store/procs.js';
import { tempDir } from './helpers.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('file store', (list = 'contract', sameStoreAs) =>
  openStore(sameStoreAs === undefined ? tempDir() : sameStoreAs.descriptor, list),
);

it('a corrupt blocker file holds back only the tasks it blocks, not every claim (observation 6)', async () => {
  const dir = tempDir();
  const warnings: string[] = [];
  const store = openStore({ dir, list: 'c' }, { onWarning: (m) => warnings.push(m) }) as FileStore;
  const blocker = await store.create({ subject: 'blocker' });
  // Ranked first once its blocker file no longer parses (a scan skips the file, so the task looks free).
  const waiting = await store.create({ subject: 'waits on the blocker', blockedBy: [blocker.id], priority: 9 });
  const free = await store.create({ subject: 'free' });
  writeFileSync(join(store.listDir, `${blocker.id}.json`), '{"id": "1", "subject": ');

  const claim = await store.claim({ owner: 'w' });
  assert.equal(claim?.task.id, free.id);
  assert.ok(
    warnings.some((w) => w.includes(`${blocker.id}.json`) && w.includes('not valid JSON')),
    `warned, naming the file: ${warnings.join(' | ')}`,
  );
  await assert.rejects(store.claim({ owner: 'w', taskId: waiting.id }), /blocked by #1/);
  assert.equal(await store.claim({ owner: 'w' }), null);
  assert.equal((await store.get(waiting.id)).status, 'pending');
});

it('ready, list --state and stats judge a task waiting on an unreadable blocker as claim does: blocked', async () => {
  const store = openStore({ dir: tempDir(), list: 'c' }) as FileStore;
  const blocker = await store.create({ subject: 'blocker' });
  const waiting = await store.create({ subject: 'waits', blockedBy: [blocker.id], priority: 9 });
  const free = await store.create({ subject: 'free' });
  writeFileSync(join(store.listDir, `${blocker.id}.json`), '{"id": "1", "subject": ');
  assert.deepEqual(
    (await store.ready()).map((t) => t.id),
    [free.id],
  );
  assert.deepEqual(
    (await store.list({ state: ['blocked'] })).map((t) => t.id),
    [waiting.id],
  );
  const stats = await store.stats();
  assert.equal(stats.byState.ready, 1);
  assert.equal(stats.byState.blocked, 1);
  assert.equal(stats.total, 2, 'the unreadable file is not counted as a task');
});

it('list (its STATE column and --json) and show judge a task on an unreadable blocker as --state does: blocked', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'c' }) as FileStore;
  const blocker = await store.create({ subject: 'blocker' });
  const waiting = await store.create({ subject: 'waits', blockedBy: [blocker.id] });
  writeFileSync(join(store.listDir, `${blocker.id}.json`), '{"id": "1", "subject": ');
  const view = await store.listView();
  assert.deepEqual(
    view.tasks.map((t) => t.id),
    [waiting.id],
  );
  assert.equal(view.judgedBy.get(blocker.id)?.status, 'pending', 'the unreadable blocker stands in as open');

  const env = { TASKLANE_DIR: dir, TASKLANE_LIST: 'c' };
  const table = cli(['list'], { env });
  assert.equal(table.status, 0, table.stderr);
  const row = table.stdout.split('\n').find((l) => l.startsWith(`#${waiting.id} `));
  assert.match(row ?? '', /^#2\s+blocked\s/, `the table row: ${row}`);
  const json = cli(['list', '--json'], { env }).json();
  assert.equal(json.tasks.find((t: { id: string }) => t.id === waiting.id)?.state, 'blocked');
  const shown = cli(['show', waiting.id, '--json'], { env }).json();
  assert.equal(shown.task.state, 'blocked');
});

it('a claim skips a task whose lock another live process holds and takes the next, without waiting', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'skip' }) as FileStore;
  for (let i = 1; i <= 3; i++) await store.create({ subject: `task ${i}` });
  const holder = start('lock-holder', [join(store.listDir, '1.json')]);
  try {
    await holder.line((l) => l === 'locked');
    const claim = await store.claim({ owner: 'w' });
    assert.equal(claim?.task.id, '2', 'the first ready task is being taken by another process: skip it');
    assert.equal((await store.get('1')).status, 'pending');
  } finally {
    holder.child.kill('SIGKILL');
    await holder.exit;
  }
});
