import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import type { FileStore } from '../src/store/file/file-store.js';
import { openStore } from '../src/store/open.js';
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
    warnings.some((w) => w.includes(`blocker #${blocker.id} cannot be read`)),
    `warned: ${warnings.join(' | ')}`,
  );
  await assert.rejects(store.claim({ owner: 'w', taskId: waiting.id }), /blocked by #1/);
  assert.equal(await store.claim({ owner: 'w' }), null);
  assert.equal((await store.get(waiting.id)).status, 'pending');
});
