import type { Change, TaskStore } from '../store/types.js';

// One subscription to the store's change feed, shared by everything in a process that needs to
// wake up on a change: the coordinator reacts to each change, idle worker slots sleep until one.

export interface ChangeFeedOptions {
  onChange?: (change: Change) => void;
  /** The feed ended with an error (or is not supported by the store). */
  onError?: (error: unknown) => void;
}

export class ChangeFeed {
  /** Number of changes seen; a waiter that read it before acting sleeps only if it is still the same. */
  seq = 0;
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private closed = false;
  private failed = false;

  /** Subscribes at once (the store takes its starting point now), then delivers changes as they come. */
  constructor(
    store: TaskStore,
    private readonly opts: ChangeFeedOptions = {},
  ) {
    let feed: AsyncIterable<Change>;
    try {
      feed = store.watch({ signal: this.abort.signal });
    } catch (e) {
      this.fail(e);
      return;
    }
    void this.consume(feed);
  }

  /** Whether the feed broke: callers then fall back to their safety floor. */
  get broken(): boolean {
    return this.failed;
  }

  /** Resolves on the first change after `since` (at once if one already came), on close, or after `timeoutMs`. */
  wait(since: number, timeoutMs?: number): Promise<void> {
    if (this.seq !== since || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.waiters.push(wake);
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => {
            this.waiters = this.waiters.filter((w) => w !== wake);
            resolve();
          },
          Math.max(0, timeoutMs),
        );
      }
    });
  }

  /** Wakes every waiter without a change (shutdown, a timer of the caller's own). */
  poke(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.poke();
  }

  private async consume(feed: AsyncIterable<Change>): Promise<void> {
    try {
      for await (const change of feed) {
        this.seq++;
        try {
          this.opts.onChange?.(change);
        } catch {}
        this.poke();
      }
    } catch (e) {
      if (!this.closed) this.fail(e);
    }
  }

  private fail(e: unknown): void {
    this.failed = true;
    this.opts.onError?.(e);
    this.poke();
  }
}
