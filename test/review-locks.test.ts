import assert from 'node:assert/strict';
import fs, { readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
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

/**
 * symlink() as on a file system without symbolic links (vfat, exFAT): the kernel finds an existing
 * name first (EEXIST), a missing directory (ENOENT), else the file system refuses (EPERM).
 */
function withoutSymlinks(): void {
  fs.symlinkSync = ((_target: string, path: string) => {
    const parent = path.slice(0, path.lastIndexOf('/'));
    const code = !fs.existsSync(parent) ? 'ENOENT' : lexists(path) ? 'EEXIST' : 'EPERM';
    const err = new Error(`${code}: symlink '${path}'`) as NodeJS.ErrnoException;
    err.code = code;
    throw err;
  }) as typeof fs.symlinkSync;
  syncBuiltinESMExports();
}

function lexists(path: string): boolean {
  try {
    fs.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function restoreSymlinks(real: typeof fs.symlinkSync): void {
  fs.symlinkSync = real;
  syncBuiltinESMExports();
}

describe('review: a file system without symbolic links', () => {
  it('changes still commit when symlink() is refused (EPERM, as on vfat, exFAT or Windows without the privilege)', async () => {
    const dir = tempDir();
    const real = fs.symlinkSync;
    withoutSymlinks();
    try {
      const store = openStore({ dir, list: 'nolinks' });
      const a = await store.create({ subject: 'a' });
      const b = await store.create({ subject: 'b', blockedBy: [a.id] });
      const claim = await store.claim({ owner: 'w' });
      assert.equal(claim?.task.id, a.id);
      await store.complete(a.id, { owner: 'w', token: claim.token });
      assert.equal((await store.claim({ owner: 'w' }))?.task.id, b.id);
    } finally {
      restoreSymlinks(real);
    }
  });
});

describe('review: holder records without symbolic links', () => {
  it("a task lock taken where a killed holder's record file was left still records its holder", async () => {
    const { tryLock, lockDirFor } = await import('../src/store/file/lock.js');
    const { readHolder, holderPath } = await import('../src/store/file/lock-holder.js');
    const dir = tempDir();
    const target = join(dir, '1.json');
    writeFileSync(target, '{}');
    writeFileSync(holderPath(lockDirFor(target)), '{"pid":1}'); // an earlier holder's record, left by a kill
    const real = fs.symlinkSync;
    withoutSymlinks();
    try {
      const handle = tryLock(target);
      assert.ok(handle !== undefined);
      assert.equal(readHolder(lockDirFor(target))?.pid, process.pid, 'the record names this holder');
      handle.release();
    } finally {
      restoreSymlinks(real);
    }
  });
});

describe('review: the journal lock where the file system keeps no birth time', () => {
  it("a killed holder's link is taken at once, not after the staleness age (the link is its own record)", async () => {
    const { start } = await import('./fixtures/store/procs.js');
    const { tryLockJournal, journalLockPath } = await import('../src/store/file/journal-lock.js');
    const dir = tempDir();
    const journal = join(dir, 'journal.jsonl');
    writeFileSync(journal, '');
    const holder = start('journal-lock-holder', [journal]);
    await holder.line((l) => l === 'locked');
    holder.child.kill('SIGKILL');
    await holder.exit;
    const real = fs.lstatSync;
    // As NFS or an older kernel's tmpfs report it: no birth time.
    (fs as { lstatSync: unknown }).lstatSync = ((path: string, opts?: fs.StatOptions) => {
      const st = real(path, opts as fs.StatOptions & { bigint?: false });
      if (st !== undefined && String(path) === journalLockPath(journal)) st.birthtimeMs = 0;
      return st;
    }) as typeof fs.lstatSync;
    syncBuiltinESMExports();
    let handle: ReturnType<typeof tryLockJournal>;
    try {
      for (let i = 0; i < 5 && handle === undefined; i++) handle = tryLockJournal(journal, true);
    } finally {
      (fs as { lstatSync: unknown }).lstatSync = real;
      syncBuiltinESMExports();
    }
    assert.ok(handle !== undefined, 'the dead holder lost the lock at once');
    handle.release();
  });
});

describe('review: doctor on leftovers', () => {
  it('finds and removes the previous version a killed commit kept (.<file>.tmp-<pid>-prev<n>)', async () => {
    const { linkSync, readdirSync } = await import('node:fs');
    const dir = tempDir();
    const store = openStore({ dir, list: 'doc' }) as FileStore;
    await store.create({ subject: 'one' });
    const kept = join(store.listDir, '.1.json.tmp-999999-prev3'); // pid 999999: gone
    linkSync(join(store.listDir, '1.json'), kept);
    const report = await store.doctor();
    assert.ok(
      report.problems.some((p) => p.kind === 'temp-file' && p.file === kept),
      JSON.stringify(report.problems),
    );
    await store.doctor({ fix: true });
    assert.ok(!readdirSync(store.listDir).includes('.1.json.tmp-999999-prev3'), 'removed by --fix');
    assert.ok(readdirSync(store.listDir).includes('1.json'), 'the task itself stays');
  });
});

describe('review: journal seqs across rotations', () => {
  it('a writer that appended before two rotations numbers on from the journal, not from its own last append, when the new live file reuses its inode', async () => {
    const { readFileSync: read, statSync } = await import('node:fs');
    const { Journal } = await import('../src/store/file/journal.js');
    const task = { id: '1', subject: 's', description: '', status: 'pending' as const, blocks: [], blockedBy: [] };
    let reused = 0;
    for (let trial = 0; trial < 30 && reused < 3; trial++) {
      const dir = tempDir();
      const idle = new Journal(dir, { rotateBytes: 1e9, keepSealed: 1 }); // appends rarely
      const busy = new Journal(dir, { rotateBytes: 1, keepSealed: 1 }); // rotates after every append
      const other = new Journal(dir, { rotateBytes: 1e9, keepSealed: 1 });
      const append = (j: InstanceType<typeof Journal>): void => {
        j.append(j.prepare([{ kind: 'updated', task }]));
      };
      append(idle); // seq 1, in the live file X
      const x = statSync(join(dir, 'journal.jsonl')).ino;
      append(busy); // seq 2; X sealed
      append(busy); // seq 3; sealed, X deleted (only one sealed file is kept)
      append(other); // seq 4 in a new live file, as long as seq 1's line: on ext4 often X's inode again
      if (statSync(join(dir, 'journal.jsonl')).ino === x) reused++;
      append(idle);
      const seqs = read(join(dir, 'journal.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq);
      assert.deepEqual(seqs, [4, 5], `trial ${trial}`);
    }
  });
});

describe('review: claim and a killed claimer', () => {
  it('the only ready task is claimed at once after the claimer holding its lock was killed, not 10 s later', async () => {
    const { start } = await import('./fixtures/store/procs.js');
    const dir = tempDir();
    const store = openStore({ dir, list: 'killed' }) as FileStore;
    await store.create({ subject: 'only' });
    const holder = start('lock-holder', [join(store.listDir, '1.json')]); // a claimer between its lock and its write
    await holder.line((l) => l === 'locked');
    holder.child.kill('SIGKILL');
    await holder.exit;
    const began = Date.now();
    const claim = await openStore({ dir, list: 'killed' }).claim({ owner: 'w' });
    assert.equal(
      claim?.task.id,
      '1',
      `claim gave ${claim === null ? 'null' : claim.task.id} after ${Date.now() - began} ms`,
    );
  });
});
