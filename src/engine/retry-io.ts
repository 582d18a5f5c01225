import { isTasklaneError } from '../model/index.js';

// An agent's outcome is recorded once its work is done; a store out of reach at that moment (a
// database across a network that dropped, a disk full for a while) must not throw the work away
// nor end the process. The write is tried again while it fails in a way that may pass by itself
// (`isTransient`), with backoff, until it is made or refused, until the deadline (the caller's:
// one lease period), or until stopped; then the last error is thrown. A refusal (NOT_OWNER,
// CONFLICT, ...) or a permanent failure (bad data, permissions) is never retried: it is an answer.
// A write whose connection was lost while committing may have been made: the caller, refused on
// the next try, must look whether the store already holds its outcome.

/** Errnos of a local write that may pass by itself: a full disk or quota, a busy or exhausted system. */
const TRANSIENT_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE']);

/** Whether `e` (or what caused it) is a failure worth trying the same write again for. */
export function isTransient(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (isTasklaneError(cur) && cur.transient === true) return true;
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_ERRNOS.has(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export interface RetryIoOptions {
  /** Epoch ms after which no retry is started. */
  deadline: number;
  /** Stops retrying (a hard stop of the run). */
  stop?: AbortSignal;
  /** Told of each failure that is retried, with the attempt number (1 = the first failure). */
  onRetry?: (error: Error, attempt: number) => void;
  /** Backoff bounds, ms (tests shorten them). */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

export async function retryWhileIo<T>(write: () => Promise<T>, opts: RetryIoOptions): Promise<T> {
  const first = opts.firstDelayMs ?? 100;
  const most = opts.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (e) {
      if (!isTransient(e) || opts.stop?.aborted === true) throw e;
      const delay = Math.min(most, first * 2 ** (attempt - 1));
      if (Date.now() + delay > opts.deadline) throw e;
      opts.onRetry?.(e as Error, attempt);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          opts.stop?.removeEventListener('abort', done);
          resolve();
        }
        opts.stop?.addEventListener('abort', done, { once: true });
      });
      if ((opts.stop as AbortSignal | undefined)?.aborted) throw e; // stopped while waiting
    }
  }
}
