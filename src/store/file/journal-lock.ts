import { lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatDuration } from '../../model/duration.js';
import { type LockHandle, STALE_MS, tryLock } from './lock.js';
import {
  compactFields,
  compactHolder,
  compactRecord,
  compactSelf,
  type HolderRecord,
  holderAlive,
  judgeLock,
  thisProcess,
  thisProcessRecord,
} from './lock-holder.js';

// The journal's lock. Every change of a list takes it, so it is the one lock all writers share,
// and the time it is held bounds how many changes a list takes per second. Only Tasklane knows
// the journal (Claude Code never reads it), so its lock need not be proper-lockfile's directory:
// it is a symbolic link whose target is the holder record, made in one system call. Taking it is
// one symlink(), releasing it a readlink() and an unlink(); the directory lock with its record
// beside it took nine calls, most of them directory updates that contend for the same directory.
// (Figures in BENCHMARKS.md, Issue 7: claims after the cheaper claim path.)
//
// A waiter judges the holder from the link's target as task locks are judged (lock-holder.ts):
// a live Tasklane holder on this boot keeps it however long it is paused; a dead one loses it at
// once; a record it cannot probe (another host, another pid namespace) is judged by the link's
// age. An older Tasklane's directory lock under the same name still excludes (symlink and mkdir
// both fail on an existing name) and is judged by the directory protocol.
//
// Taking over a dead holder's link is guarded by a directory lock (lock.ts) beside it, so two
// waiters never both remove a link, and a waiter never removes a fresh link made meanwhile (it
// re-reads the target, which names the holder uniquely, under the guard).

interface LinkRecord extends Omit<HolderRecord, 'ino' | 'birth'> {
  /** Tells two holders with the same pid apart (a pid reused after a crash). */
  nonce: string;
}

/** The lock path for the journal file `target`. */
export function journalLockPath(target: string): string {
  return `${target}.lock`;
}

let nonceCounter = 0;

/** What symlink() fails with where the file system has no symbolic links. */
const NO_LINKS = new Set(['EPERM', 'EOPNOTSUPP', 'ENOSYS']);

/** One attempt at the journal lock on `target`. `probe`: judge a busy lock's holder (else just report it busy). */
export function tryLockJournal(target: string, probe: boolean): LockHandle | undefined {
  const path = journalLockPath(target);
  const me = thisProcess();
  const nonce = `${(nonceCounter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const self = compactSelf();
  // Compact (a "fast" link, no block to free): see lock-holder.ts.
  const mine =
    self === undefined
      ? JSON.stringify({ ...thisProcessRecord(), since: Date.now(), nonce } satisfies LinkRecord)
      : compactRecord([...self, nonce]);
  try {
    symlinkSync(mine, path);
    return handleFor(path, mine);
  } catch (err) {
    if (errno(err) === 'ENOENT') {
      // The journal's directory does not exist yet (a new list, or one removed meanwhile).
      mkdirSync(dirname(path), { recursive: true });
      return tryLockJournal(target, probe);
    }
    if (NO_LINKS.has(errno(err) ?? '')) {
      // A file system without symbolic links (vfat, exFAT, some network mounts; Windows without
      // the privilege): the directory lock older versions took, at the same name, so it excludes
      // and is excluded by a link there.
      mkdirSync(dirname(path), { recursive: true });
      return tryLock(target, STALE_MS, { skipFresh: !probe });
    }
    if (errno(err) !== 'EEXIST') throw err;
  }
  if (!probe) return undefined;
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined; // released meanwhile: the next attempt gets it
    throw err;
  }
  // An older Tasklane's directory lock: its own protocol (lock.ts) decides.
  if (st.isDirectory()) return tryLock(target, STALE_MS);
  let seen: string;
  try {
    seen = readlinkSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'EINVAL') return undefined;
    throw err;
  }
  const holder = parseRecord(seen, st.mtimeMs);
  // The link is its own record, so it can never be mistaken for an earlier lock's record: the
  // birth time that tells lock directories apart is not needed, and where the file system keeps
  // none (0: NFS, older tmpfs) a dead holder's link must still be taken at once, not after STALE_MS.
  const birth = st.birthtimeMs === 0 ? 1 : st.birthtimeMs;
  const instance = { ino: st.ino, birthtimeMs: birth, mtimeMs: st.mtimeMs };
  const verdict = judgeLock(
    instance,
    holder === undefined ? undefined : { ...holder, ino: st.ino, birth },
    me,
    Date.now(),
    STALE_MS,
    (r) => holderAlive(r),
  );
  if (!verdict.take) return undefined;
  // Only one waiter at a time may remove a link it judged free, and only that very link.
  const guard = tryLock(`${path}.takeover`, STALE_MS);
  if (guard === undefined) return undefined;
  try {
    let now: string;
    try {
      now = readlinkSync(path);
    } catch {
      return undefined;
    }
    if (now === seen) unlinkSync(path);
  } finally {
    guard.release();
  }
  return undefined; // the next attempt takes the freed name like any other
}

/** Who holds the journal lock on `target`, for an error message. */
export function describeJournalHolder(target: string): string {
  try {
    const path = journalLockPath(target);
    const r = parseRecord(readlinkSync(path), lstatSync(path).mtimeMs);
    if (r === undefined) return 'held by a program that left no readable record';
    return `held by Tasklane process pid ${r.pid} on ${r.host} for ${formatDuration(Date.now() - r.since)}`;
  } catch {
    return 'held by another Tasklane version (a directory lock) or released just now';
  }
}

function handleFor(path: string, mine: string): LockHandle {
  const ours = (): boolean => {
    try {
      return readlinkSync(path) === mine;
    } catch {
      return false;
    }
  };
  let released = false;
  return {
    path,
    isHeld: ours,
    release() {
      if (released) return;
      released = true;
      // Only a holder judged by age (another host or pid namespace sharing these files, paused
      // past STALE_MS) can have lost it; then the link is someone else's and stays.
      if (ours()) {
        try {
          unlinkSync(path);
        } catch {}
      }
    },
  };
}

/** The holder a link names; `since` (a compact record keeps none) is the link's mtime. */
function parseRecord(text: string, since: number): LinkRecord | undefined {
  const fields = compactFields(text);
  if (fields !== undefined) {
    const holder = compactHolder(fields, since);
    return holder === undefined || fields[3] === undefined ? undefined : { ...holder, nonce: fields[3] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = value as Partial<LinkRecord> | null;
  if (r === null || typeof r !== 'object' || typeof r.pid !== 'number' || typeof r.host !== 'string') return undefined;
  if (typeof r.since !== 'number' || typeof r.nonce !== 'string') return undefined;
  return r as LinkRecord;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}
