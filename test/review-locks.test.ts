import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ClaimIndex } from '../src/store/file/claim-index.js';
import type { FileStore } from '../src/store/file/file-store.js';
import { readTaskFileStamped } from '../src/store/file/task-files.js';
import { openStore } from '../src/store/open.js';
import { tempDir } from './helpers.js';

// Review of the contended-claims commits (journal lock link, holder links, fence bytes, claim
// index stamps): each test here failed before its fix.

describe('review: claim index stamps', () => {
  it('a file found unreadable and then finished by its writer before the stamp is taken is read again', async () => {
    const dir = tempDir();
    const store = openStore({ dir, list: 'race' }) as FileStore;
    const blocker = await store.create({ subject: 'blocker' });
    const waiting = await store.create({ subject: 'waits', blockedBy: [blocker.id] });
    const file = join(store.listDir, `${blocker.id}.json`);
    const good = readFileSync(file, 'utf8');
    // Another program (Claude Code <= 2.1.112) rewrites #1 in place and completes it; the rescan
    // reads the file while it is torn, and the writer finishes right after that read.
    const done = good.replace('"status": "pending"', '"status": "completed"');
    writeFileSync(file, done.slice(0, 20));
    let finished = false;
    const index = new ClaimIndex(store.listDir, store.journalPath, undefined, (path, _retries) => {
      try {
        return readTaskFileStamped(path, 0);
      } finally {
        if (path === file && !finished) {
          finished = true;
          writeFileSync(file, done); // the writer's last bytes land between our read and any later stat
        }
      }
    });
    index.refresh(true);
    index.refresh(true);
    assert.equal(readFileSync(file, 'utf8'), done);
    assert.equal(
      index.next(new Date(), 'w'),
      waiting.id,
      '#1 is completed and valid on disk: #2 is ready and must be offered',
    );
  });
});
