import { formatDuration, isTasklaneError, TasklaneError, timerDelay } from '../model/index.js';

// An agent's outcome is recorded once its work is done; a store out of reach at that moment (a
// database across a network that dropped, a disk full for a while) must not throw the work away
// nor end the process. The write is tried again while it fails in a way that may pass by itself
// (`isTransient`), with backoff, until it is made or refused, until the deadline (the caller's:
// one lease period), or until stopped; then the last error is thrown. A refusal (NOT_OWNER,
// CONFLICT, ...) or a permanent failure (bad data, permissions) is never retried: it is an answer.
// A write whose connection was lost while committing may have been made: the caller, refused on
// the next try, must look whether the store already holds its outcome. An attempt still waiting
// at the deadline is abandoned (`answerBy`): a query on a connection whose network went away
// (link down, pulled cable) gets no answer until the kernel's TCP retransmissions give up, about
// 15 minutes (tcp_retries2), so awaiting it would never reach the deadline.

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
  const within = Math.max(0, opts.deadline - Date.now());
  for (let attempt = 1; ; attempt++) {
    try {
      // A stop that came before this attempt does not cut it short (the write may well be made):
      // it only ends the trying after it, as before; a stop while it hangs abandons it.
      const stop = opts.stop?.aborted === true ? {} : { stop: opts.stop };
      return await answerBy(write(), { deadline: opts.deadline, within, ...stop });
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

export interface AnswerByOptions {
  /** Epoch ms: still pending then, the answer is given up on. */
  deadline: number;
  /** Gives up on the answer at once. */
  stop?: AbortSignal;
  /** The wait the error names (default: from now to the deadline). */
  within?: number;
}

/**
 * `answer`, or an IO error (transient: the store may answer again later) once `deadline` passes
 * or `stop` fires with it still pending. The abandoned promise's own later rejection is handled
 * here, so it never becomes an unhandled rejection.
 */
export function answerBy<T>(answer: Promise<T>, opts: AnswerByOptions): Promise<T> {
  const within = opts.within ?? Math.max(0, opts.deadline - Date.now());
  return new Promise<T>((resolve, reject) => {
    const stop = opts.stop;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const left = opts.deadline - Date.now();
      // A delay past what a timer holds is waited for in steps (timerDelay clamps it).
      timer =
        left > timerDelay(left)
          ? setTimeout(arm, timerDelay(left))
          : setTimeout(() => giveUp(`the store gave no answer within ${formatDuration(within)}`), Math.max(0, left));
    };
    arm();
    const onStop = () => giveUp('stopped while waiting for the store to answer');
    function settle() {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
    }
    function giveUp(message: string) {
      settle();
      reject(new TasklaneError('IO', message, { transient: true }));
    }
    answer.then(
      (value) => {
        settle();
        resolve(value);
      },
      (e: unknown) => {
        settle();
        reject(e);
      },
    );
    // Stopped already (within the attempt itself): an answer already there still wins, as its
    // reaction runs first.
    if (stop?.aborted === true) queueMicrotask(onStop);
    else stop?.addEventListener('abort', onStop, { once: true });
  });
}
