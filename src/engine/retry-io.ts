import { isTasklaneError } from '../model/index.js';

// An agent's outcome is recorded once its work is done; a store out of reach at that moment (a
// database across a network that dropped, a disk full for a while) must not throw the work away
// nor end the process. The write is tried again while it fails with an IO error, with backoff,
// until it is made or refused, or until the claim's lease would have run out anyway (then another
// holder may take the task: the write would be refused by its token, and the last error is
// thrown). A refusal (NOT_OWNER, CONFLICT, ...) is never retried here: it is an answer.

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
      if (!isTasklaneError(e, 'IO') || opts.stop?.aborted === true) throw e;
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
    }
  }
}
