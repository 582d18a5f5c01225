import { mkdirSync, renameSync, rmdirSync, rmSync, type Stats, statSync, utimesSync, writeFileSync } from 'node:fs';
import { formatDuration, TasklaneError } from '../../model/index.js';
import {
  describeHolder,
  type HolderRecord,
  holderAlive,
  judgeLock,
  type LockInstance,
  readHolder,
  recordIsFor,
  removeHolder,
  thisProcess,
  writeHolder,
} from './lock-holder.js';

// Claude Code's lock protocol (proper-lockfile): a lock is a directory `<target>.lock` made with
// mkdir; the holder refreshes its mtime every 5 s; it is stale after 10 s. We keep the protocol
// and fix its stale takeover, where stat+rmdir+mkdir lets two waiters both win: a waiter must
// first make a guard directory *inside* the stale lock, then confirm (by inode and birth time)
// that the lock it guarded is the stale one it saw, and only then move it aside. Only one mkdir of
// the guard can succeed, and a fresh lock made meanwhile is recognised and left alone.
//
// A Tasklane holder also records itself beside the lock (lock-holder.ts): our waiters judge its
// lock by whether it lives, not by age, so a paused holder keeps its lock and a dead one loses it
// at once. Claude Code still judges our locks by age and may take one from a holder paused past
// 10 s: the writer's fence (fence.ts) then refuses the write.

export const STALE_MS = 10_000;
const REFRESH_MS = 5_000;
const GUARD = '.takeover';

export interface LockOptions {
  /** Give up after this long. Default 30 s: far longer than a critical section, so only a Tasklane holder paused that long (kept while its process lives), a foreign holder that keeps refreshing, or extreme contention ends in LOCK_TIMEOUT, whose message names the holder; 16 processes creating at once were seen to wait 3.3 s. */
  timeoutMs?: number;
  /** Make one attempt only (no waiting, no takeover of a fresh lock). */
  tryOnly?: boolean;
  staleMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

export interface LockHandle {
  readonly path: string;
  /** Whether the lock directory is still the one this handle made (false once taken over). */
  isHeld(): boolean;
  release(): void;
}

/** The lock directory for a target file, as proper-lockfile names it. */
export function lockDirFor(target: string): string {
  return `${target}.lock`;
}

/** Claude Code locks the list through an empty `.lock` file; make it once with flag wx. */
export function ensureLockTarget(target: string): void {
  try {
    writeFileSync(target, '', { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function held(path: string): LockHandle {
  let instance: LockInstance | undefined;
  try {
    const st = statSync(path);
    instance = { ino: st.ino, birthtimeMs: st.birthtimeMs };
    writeHolder(path, instance);
  } catch {
    // Unreadable right after our mkdir: leave it to the age rule; isHeld() says false.
  }
  const ours = (): boolean => {
    if (instance === undefined) return false;
    try {
      return sameInstance(statSync(path), instance);
    } catch {
      return false;
    }
  };
  // Our critical sections take milliseconds; the refresh only matters if one ever stalls.
  const timer = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // Lost or removed: nothing to refresh.
    }
  }, REFRESH_MS);
  timer.unref();
  let released = false;
  return {
    path,
    isHeld: ours,
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      let st: Stats;
      try {
        st = statSync(path);
      } catch {
        return; // removed by someone who took it over
      }
      // Taken over while we were paused (Claude Code judges by age): the lock is someone else's now.
      // (Without our instance, unreadable when taken, it is removed as before: better than blocking others.)
      if (instance !== undefined && !sameInstance(st, instance)) return;
      // Once our record is gone a waiter judges the lock by age: a holder resumed after a long
      // pause refreshes it first, so it does not look stale for the moment before the rmdir.
      if (Date.now() - st.mtimeMs > REFRESH_MS) {
        try {
          const now = new Date();
          utimesSync(path, now, now);
        } catch {}
      }
      removeHolder(path);
      // A waiter may put its guard in our lock for a moment (it takes it out on seeing our inode),
      // so the rmdir can find the directory not empty: then move it aside, which frees the name at once.
      try {
        rmdirSync(path);
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        if (errno(err) !== 'ENOTEMPTY' && errno(err) !== 'EEXIST') throw err;
        const aside = asideName(path);
        try {
          renameSync(path, aside);
        } catch (renameErr) {
          if (errno(renameErr) === 'ENOENT') return;
          throw renameErr;
        }
        discard(aside);
      }
    },
  };
}

function sameInstance(st: Stats, instance: LockInstance): boolean {
  return st.ino === instance.ino && st.birthtimeMs === instance.birthtimeMs;
}

function asideName(path: string): string {
  return `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Removes a lock directory already moved aside under a unique name. A waiter whose mkdir of a
 * guard raced the move may have put it inside; a leftover of that race is harmless, so ignore it.
 */
function discard(aside: string): void {
  try {
    rmSync(aside, { recursive: true, force: true });
  } catch {}
}

/**
 * One attempt at taking a stale lock. True when we now hold `path`. `guard` is ours to make: the
 * lock's guard, or, when the waiter that made that guard died mid-takeover, a guard inside its guard.
 */
function takeOver(
  path: string,
  seen: { ino: number; birthtimeMs: number },
  staleMs: number,
  guard = `${path}/${GUARD}`,
): boolean {
  try {
    mkdirSync(guard);
  } catch (err) {
    const code = errno(err);
    if (code === 'EEXIST') {
      // Another waiter is taking it over. If that waiter died mid-takeover (its guard is stale),
      // take over from it the same way one level down, so that again only one waiter can win:
      // moving the lock aside on a stale guard alone let two waiters each move a different lock.
      let guardStale: boolean;
      try {
        guardStale = Date.now() - statSync(guard).mtimeMs > staleMs;
      } catch {
        return false; // someone else cleaned it up
      }
      return guardStale && takeOver(path, seen, staleMs, `${guard}/${GUARD}`);
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw err;
  }
  let now: { ino: number; birthtimeMs: number };
  try {
    now = statSync(path);
  } catch {
    return false;
  }
  if (now.ino !== seen.ino || now.birthtimeMs !== seen.birthtimeMs) {
    // Not the stale lock we saw: a fresh holder's. Take our guard back out.
    rmSync(guard, { recursive: true, force: true });
    return false;
  }
  const aside = asideName(path);
  renameSync(path, aside);
  discard(aside);
  try {
    mkdirSync(path);
    return true;
  } catch (err) {
    if (errno(err) === 'EEXIST') return false; // a plain mkdir got in first: it holds the lock
    throw err;
  }
}

/** Tries once to take the lock. Undefined when someone else holds it. */
export function tryLock(
  target: string,
  staleMs = STALE_MS,
  options: { skipFresh?: boolean } = {},
): LockHandle | undefined {
  const path = lockDirFor(target);
  try {
    mkdirSync(path);
    return held(path);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
  try {
    const st = statSync(path);
    // A claimer passing over a task another is taking (SKIP LOCKED) needs no verdict on a lock
    // refreshed within the staleness age: reading its holder record and /proc for each skip was
    // most of the cost of contended claims. A dead holder's lock is still taken at once by any
    // waiter (lock()), and by a skipping claimer once it is stale.
    if (options.skipFresh === true && Date.now() - st.mtimeMs <= staleMs) return undefined;
    const probe = probeOf(path, st);
    const now = Date.now();
    const verdict = judgeLock(st, probe.record, thisProcess(), now, staleMs, (record) => {
      const checkStart = now - probe.startCheckedAt >= START_RECHECK_MS;
      const alive = holderAlive(record, checkStart);
      if (checkStart) probe.startCheckedAt = now;
      return alive;
    });
    if (verdict.take && takeOver(path, st, staleMs)) {
      probes.delete(path);
      return held(path);
    }
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
  return undefined;
}

/**
 * What a waiter learnt of the lock it waits on, so that a retry costs a stat and a signal 0, not
 * a read of the record and of /proc: the record is read once per lock directory instance (again
 * while absent: its holder writes it just after its mkdir), the holder's start time once a second.
 */
interface Probe extends LockInstance {
  record: HolderRecord | undefined;
  /** When the holder's start time (and that it is no zombie) was last checked. */
  startCheckedAt: number;
}

const START_RECHECK_MS = 1_000;

const probes = new Map<string, Probe>();

function probeOf(path: string, st: Stats): Probe {
  const known = probes.get(path);
  if (known !== undefined && sameInstance(st, known) && known.record !== undefined) return known;
  // Only the few locks this process waits on at once are remembered.
  if (probes.size >= 64) probes.clear();
  const probe: Probe = { ino: st.ino, birthtimeMs: st.birthtimeMs, record: readHolder(path), startCheckedAt: 0 };
  probes.set(path, probe);
  return probe;
}

/** Who holds the lock on `target`, for an error message. */
function holderOf(target: string): string {
  const path = lockDirFor(target);
  try {
    const st = statSync(path);
    const record = readHolder(path);
    return describeHolder(record !== undefined && recordIsFor(record, st) ? record : undefined, st.mtimeMs, Date.now());
  } catch {
    return 'released just now';
  }
}

/** Takes the lock, waiting with capped, jittered backoff. */
export async function lock(target: string, options: LockOptions = {}): Promise<LockHandle> {
  const staleMs = options.staleMs ?? STALE_MS;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    const handle = tryLock(target, staleMs);
    if (handle !== undefined) return handle;
    if (options.tryOnly === true) {
      throw new TasklaneError('LOCK_TIMEOUT', `${options.what ?? target} is locked: ${holderOf(target)}`, {
        file: lockDirFor(target),
      });
    }
    if (Date.now() >= deadline) {
      throw new TasklaneError(
        'LOCK_TIMEOUT',
        `timed out after ${formatDuration(timeoutMs)} waiting for the lock on ${options.what ?? target} (${lockDirFor(target)}): ${holderOf(target)}. A Tasklane holder keeps it while its process lives; any other lock is taken over once ${formatDuration(staleMs)} old`,
        { file: lockDirFor(target) },
      );
    }
    await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    delay = Math.min(delay * 2, 50);
  }
}

export async function withLock<T>(target: string, fn: () => T | Promise<T>, options: LockOptions = {}): Promise<T> {
  const handle = await lock(target, options);
  try {
    return await fn();
  } finally {
    handle.release();
  }
}
