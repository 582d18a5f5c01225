import { mkdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { TasklaneError } from '../../model/index.js';

// Claude Code's lock protocol (proper-lockfile): a lock is a directory `<target>.lock` made with
// mkdir; the holder refreshes its mtime every 5 s; it is stale after 10 s. We keep the protocol
// and fix its stale takeover, where stat+rmdir+mkdir lets two waiters both win: a waiter must
// first make a guard directory *inside* the stale lock, then confirm (by inode and birth time)
// that the lock it guarded is the stale one it saw, and only then move it aside. Only one mkdir of
// the guard can succeed, and a fresh lock made meanwhile is recognised and left alone.

export const STALE_MS = 10_000;
const REFRESH_MS = 5_000;
const GUARD = '.takeover';

export interface LockOptions {
  /** Give up after this long. Default 30 s: far longer than a critical section, so only a wedged holder (whose lock goes stale after 10 s and is taken over) or extreme contention ends in LOCK_TIMEOUT; 16 processes creating at once were seen to wait 3.3 s. */
  timeoutMs?: number;
  /** Make one attempt only (no waiting, no takeover of a fresh lock). */
  tryOnly?: boolean;
  staleMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

export interface LockHandle {
  readonly path: string;
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
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // A waiter may put its guard in our lock for a moment (it takes it out on seeing our inode),
      // so the rmdir can find the directory not empty: then move it aside, which frees the name at once.
      try {
        rmSync(path, { recursive: true, force: true });
      } catch (err) {
        if (errno(err) !== 'ENOTEMPTY') throw err;
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
export function tryLock(target: string, staleMs = STALE_MS): LockHandle | undefined {
  const path = lockDirFor(target);
  try {
    mkdirSync(path);
    return held(path);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
  try {
    const st = statSync(path);
    if (Date.now() - st.mtimeMs > staleMs && takeOver(path, st, staleMs)) return held(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
  return undefined;
}

/** Takes the lock, waiting with capped, jittered backoff. */
export async function lock(target: string, options: LockOptions = {}): Promise<LockHandle> {
  const staleMs = options.staleMs ?? STALE_MS;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let delay = 1;
  for (;;) {
    const handle = tryLock(target, staleMs);
    if (handle !== undefined) return handle;
    if (options.tryOnly === true) {
      throw new TasklaneError('LOCK_TIMEOUT', `${options.what ?? target} is locked by another process`, {
        file: lockDirFor(target),
      });
    }
    if (Date.now() >= deadline) {
      throw new TasklaneError(
        'LOCK_TIMEOUT',
        `timed out waiting for the lock on ${options.what ?? target} (${lockDirFor(target)}); if no other process is using the list, it is taken over once it is ${staleMs / 1000} s old`,
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
