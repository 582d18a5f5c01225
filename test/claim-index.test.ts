import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ClaimIndex } from '../src/store/file/claim-index.js';
import type { FileStore } from '../src/store/file/file-store.js';
import { readTaskFileStamped } from '../src/store/file/task-files.js';
import { openStore } from '../src/store/open.js';
import { tempDir } from './helpers.js';

// The claim index rescans the list directory by stamps: a file is read again only when it is not
// as last read or as the journal says Tasklane wrote it, so a claimer that runs dry (or rescans
// on its timer) pays a stat per file, not a read and a parse, and still sees other programs' writes.

it('a forced rescan reads only the files changed outside the journal', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'idx' }) as FileStore;
  for (let i = 0; i < 50; i++) await store.create({ subject: `task ${i}` });
  const reads: string[] = [];
  const index = new ClaimIndex(store.listDir, store.journalPath, undefined, (path, retries) => {
    reads.push(path);
    return readTaskFileStamped(path, retries);
  });

  index.refresh(true);
  assert.equal(reads.splice(0).length, 50, 'the first rescan reads every file');
  assert.equal(index.next(new Date(), 'w'), '1');

  // Tasklane's own writes, from this and (the same journal) any other process: explained by the journal.
  await store.claim({ owner: 'other', taskId: '1' });
  await store.update('2', { subject: 'renamed by Tasklane' });
  await store.delete('3');
  index.refresh(true);
  assert.deepEqual(reads.splice(0), [], 'journaled changes are not read again');
  assert.equal(index.next(new Date(), 'w'), '2', '#1 is taken, #3 gone');

  // Another program (Claude Code) completes #2 in place and writes a new task: both read, nothing else.
  const file2 = join(store.listDir, '2.json');
  writeFileSync(file2, readFileSync(file2, 'utf8').replace('"status": "pending"', '"status": "completed"'));
  writeFileSync(
    join(store.listDir, '99.json'),
    JSON.stringify({
      id: '99',
      subject: 'from Claude Code',
      description: '',
      status: 'pending',
      blocks: [],
      blockedBy: [],
    }),
  );
  index.refresh(true);
  assert.deepEqual(
    reads
      .splice(0)
      .map((p) => p.split('/').pop())
      .sort(),
    ['2.json', '99.json'],
  );
  assert.equal(index.next(new Date(), 'w'), '4', '#2 completed by the other program is no longer offered');
});

it('an unreadable file counts as an open blocker, is never offered, and is read again only once it changes', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'idx' }) as FileStore;
  const blocker = await store.create({ subject: 'blocker' });
  const waiting = await store.create({ subject: 'waits', blockedBy: [blocker.id], priority: 9 });
  const free = await store.create({ subject: 'free' });
  const file = join(store.listDir, `${blocker.id}.json`);
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, '{"id": "1", "subject": ');
  const reads: string[] = [];
  const invalid: string[] = [];
  const index = new ClaimIndex(
    store.listDir,
    store.journalPath,
    (err) => invalid.push(err.message),
    (path) => {
      reads.push(path);
      return readTaskFileStamped(path, 0);
    },
  );
  index.refresh(true);
  assert.equal(invalid.length, 1);
  assert.equal(index.next(new Date(), 'w'), free.id, 'neither the unreadable file nor the task it blocks');
  reads.length = 0;
  index.refresh(true);
  assert.deepEqual(reads.splice(0), [], 'an unchanged unreadable file is not read again');
  writeFileSync(file, good);
  index.refresh(true);
  assert.deepEqual(reads.splice(0), [file]);
  assert.equal(index.next(new Date(), 'w'), blocker.id, 'repaired, the blocker is offered first');
  assert.ok(waiting.blockedBy.includes(blocker.id));
});
