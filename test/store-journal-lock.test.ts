import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { lutimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listDirName } from '../src/model/index.js';
import { describeJournalHolder, journalLockPath, tryLockJournal } from '../src/store/file/journal-lock.js';
import { lockDirFor } from '../src/store/file/lock.js';
import { openStore } from '../src/store/open.js';
import { goAll, start, startReady } from './fixtures/store/procs.js';
import { tempDir } from './helpers.js';

// The journal's lock (journal-lock.ts): a symbolic link naming its holder, the one lock every
// change of a list takes. Exclusion with many real processes, a paused holder kept however old its
// link, a dead one's taken at once, and an older Tasklane's directory lock still respected.

/** Makes the lock link look `seconds` old (its own mtime, not its target's). */
async function ageLink(path: string, seconds: number): Promise<void> {
  const then = new Date(Date.now() - seconds * 1000);
  await lutimes(path, then, then);
}

/** Tries the lock (judging its holder) a few times; the handle if it was got. */
function tryHard(target: string, attempts = 5): ReturnType<typeof tryLockJournal> {
  for (let i = 0; i < attempts; i++) {
    const handle = tryLockJournal(target, true);
    if (handle !== undefined) return handle;
  }
  return undefined;
}

describe('the journal lock', () => {
  it('8 processes claiming at once number the journal 1..N with no seq twice and no line torn', async () => {
    const dir = tempDir();
    const list = 'jl';
    const store = openStore({ dir, list });
    for (let i = 0; i < 160; i++) await store.create({ subject: `t${i}` });
    const claimers = await startReady(8, 'claimer', (n) => [dir, list, `c${n}`]);
    goAll(claimers);
    const exits = await Promise.all(claimers.map((c) => c.exit));
    for (const [i, e] of exits.entries()) assert.equal(e.code, 0, `claimer ${i}: ${claimers[i]?.stderr()}`);
    const journal = join(dir, '.tasklane', listDirName(list), 'journal.jsonl');
    const lines = readFileSync(journal, 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'the journal ends with a newline');
    const seqs = lines.map((l, i) => {
      const e = JSON.parse(l) as { seq: number };
      assert.equal(e.seq, i + 1, `line ${i + 1} holds seq ${e.seq}`);
      return e.seq;
    });
    assert.equal(seqs.length, 320, '160 creates and 160 claims');
    assert.throws(() => lstatSync(journalLockPath(journal)), /ENOENT/, 'no lock is left behind');
  });

  it('a paused holder keeps the lock however old its link looks; once it is killed the lock is taken at once', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const journal = join(dir, 'journal.jsonl');
    const holder = start('journal-lock-holder', [journal]);
    await holder.line((l) => l === 'locked');
    const path = journalLockPath(journal);
    assert.ok(lstatSync(path).isSymbolicLink(), 'the lock is a symbolic link');
    const [tag, pid] = readlinkSync(path).split(' ');
    assert.equal(tag, 'tl1', 'a compact record');
    assert.equal(Number.parseInt(pid ?? '', 36), holder.pid, 'its target names the holder');
    assert.ok(readlinkSync(path).length < 60, 'short enough to live in the inode (no block to free)');

    holder.child.kill('SIGSTOP');
    await ageLink(path, 60);
    assert.equal(tryHard(journal), undefined, 'a live holder, stopped, with a link 60 s old, keeps the lock');
    assert.match(describeJournalHolder(journal), new RegExp(`pid ${holder.pid} `));

    holder.child.kill('SIGKILL');
    await holder.exit;
    const handle = tryHard(journal);
    assert.ok(handle !== undefined, 'the dead holder lost the lock at once');
    assert.ok(handle.isHeld());
    handle.release();
    assert.throws(() => lstatSync(path), /ENOENT/, 'released');
  });

  it("a Tasklane holder that is not alive on this machine's records is judged by age", async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const journal = join(dir, 'journal.jsonl');
    const first = tryLockJournal(journal, true);
    assert.ok(first !== undefined);
    // Make the link name a holder on another host: it cannot be probed.
    const path = journalLockPath(journal);
    const fields = readlinkSync(path).split(' ');
    fields[3] = 'elsewhere00'; // another machine's hash of boot, host and pid namespace
    const record = fields.join(' ');
    const { unlinkSync, symlinkSync } = await import('node:fs');
    unlinkSync(path);
    symlinkSync(record, path);
    assert.equal(tryHard(journal), undefined, 'fresh: kept');
    await ageLink(path, 60);
    assert.ok(tryHard(journal) !== undefined, 'older than the staleness age: taken');
    assert.equal(first.isHeld(), false, 'the first handle knows it lost the lock');
    first.release(); // must not remove the new holder's link
    assert.ok(lstatSync(path).isSymbolicLink(), "the old holder's release left the new holder's lock alone");
  });

  it("an older Tasklane's directory lock at the same name still excludes", async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const journal = join(dir, 'journal.jsonl');
    writeFileSync(journal, '');
    const holder = start('lock-holder', [journal]); // the directory protocol of lock.ts, as older versions took it
    await holder.line((l) => l === 'locked');
    assert.ok(lstatSync(lockDirFor(journal)).isDirectory());
    assert.equal(tryHard(journal), undefined, 'a live directory holder keeps it');
    holder.child.kill('SIGKILL');
    await holder.exit;
    const handle = tryHard(journal);
    assert.ok(handle !== undefined, "the dead directory holder's lock is taken");
    handle.release();
  });
});
