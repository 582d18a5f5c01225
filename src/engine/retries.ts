import type { TaskStore } from '../store/types.js';

// Retries of failed tasks: the failure is recorded in the store (so no one else picks the task up
// meanwhile and the history keeps it), and after a capped, jittered exponential backoff the task
// is put back to pending for whoever claims it next.

export interface BackoffOptions {
  /** Delay before the first retry; doubles each time. */
  baseMs: number;
  capMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 30_000 };

/**
 * Delay before retry `n` (1 for the first): min(cap, base * 2^(n-1)), of which half is fixed and
 * half random ("equal jitter"), so retries of many tasks spread out yet never fire at once.
 */
export function backoffMs(n: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, n - 1));
  const random = opts.random ?? Math.random;
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class Retrier {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Failures per task seen by this process: the retry budget is per run, not per task's whole history. */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly store: TaskStore,
    private readonly retries: number,
    private readonly backoff: BackoffOptions,
    private readonly onRetried: (taskId: string, error?: unknown) => void,
  ) {}

  /** Records a failure; returns the delay before the retry, or undefined when the budget is spent. */
  schedule(taskId: string): number | undefined {
    const n = (this.failures.get(taskId) ?? 0) + 1;
    this.failures.set(taskId, n);
    if (n > this.retries) return undefined;
    const delay = backoffMs(n, this.backoff);
    // The entry stays until the retry is written, so a caller counting pending retries never sees a gap.
    const timer = setTimeout(async () => {
      let error: unknown;
      try {
        await this.store.retry(taskId, { actor: 'tasklane-retry' });
      } catch (e) {
        error = e; // someone retried, deleted or completed it meanwhile
      }
      if (this.timers.get(taskId) !== timer) return; // cancelled meanwhile
      this.timers.delete(taskId);
      this.onRetried(taskId, error);
    }, delay);
    this.timers.set(taskId, timer);
    return delay;
  }

  get pending(): number {
    return this.timers.size;
  }

  has(taskId: string): boolean {
    return this.timers.has(taskId);
  }

  /** Drops every scheduled retry; those tasks stay failed. */
  cancelAll(): string[] {
    const ids = [...this.timers.keys()];
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    return ids;
  }
}
