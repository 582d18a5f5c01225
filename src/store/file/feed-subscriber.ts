import { compareIds, revisionOf, TasklaneError } from '../../model/index.js';
import type { Change, WatchOptions } from '../types.js';
import { type FeedMember, type FeedSlot, type FeedSourceOptions, feedSlot, leaveFeedSlot } from './feed-start.js';

// One subscriber to a list's shared change feed: its own bounded queue, its own cursor, its own
// end. The source (watch.ts) finds each change once and hands it to every subscriber; a change
// object is shared by all of them, so readers must not modify it.
//
// When a subscriber starts: it joins at its watch() call. Joining a running source, it gets every
// change the source finds from then on; the source may still find a change made just before the
// call (a journal line it had not read yet, or a foreign file write before its next look), and
// delivers it too. Joining a dormant source (no subscriber has iterated yet), it starts where the
// source will: at the first subscriber's watch() call, so changes made between that call and its
// own are delivered as well. `initial` reports the tasks the source knows at the call (the journal
// read up to the call; a foreign write not yet seen arrives as a change), or its starting snapshot
// while dormant.

/**
 * Changes held for a reader that does not keep up. Past it the subscriber is dropped with
 * FEED_BEHIND, naming the last seq delivered, instead of growing without bound (the others go
 * on); the reader resumes with watch({ since }), which replays from the journal as fast as it reads.
 */
export const MAX_QUEUED_CHANGES = 10_000;

/** The source's module, loaded on first iteration. */
export interface FeedSourceModule {
  /** Runs the slot's source if it is dormant; undefined when the slot has no subscriber left. */
  runSource(slot: FeedSlot): { replay(since: number): Iterator<Change, number> } | undefined;
}

export type SubscribeOptions = FeedSourceOptions & WatchOptions;

/** A subscriber to the list's shared feed, joined now. */
export function subscribeFeed(options: SubscribeOptions, load: () => Promise<FeedSourceModule>): AsyncIterable<Change> {
  if (options.signal?.aborted === true) return { [Symbol.asyncIterator]: () => ended() };
  return new FeedSubscriber(feedSlot(options), options, load);
}

function ended(): AsyncIterator<Change> {
  const done = async (): Promise<IteratorResult<Change>> => ({ done: true, value: undefined });
  return { next: done, return: done };
}

class FeedSubscriber implements AsyncIterable<Change>, FeedMember {
  private readonly queue: Change[] = [];
  /** With `since`: live changes found while the journal replays, sorted out when it ends. */
  private held: { change: Change; journaled: boolean }[] | undefined;
  /** Journaled changes at or below this seq are the reader's already (`since`) or were replayed. */
  private floor = 0;
  /** The highest journal seq queued: a later foreign change never carries a lower one. */
  private lastSeq = 0;
  /** The seq of the last change handed to the reader. */
  private delivered = 0;
  private replay: Iterator<Change, number> | undefined;
  private behind: TasklaneError | undefined;
  /** Pending next() calls waiting for a change (usually one). */
  private wakers: (() => void)[] = [];
  private started = false;
  private activation: Promise<void> | undefined;
  private closed = false;
  private readonly onAbort = () => this.close();

  constructor(
    private readonly slot: FeedSlot,
    private readonly opts: WatchOptions,
    private readonly load: () => Promise<FeedSourceModule>,
  ) {
    if (opts.since !== undefined) {
      this.held = [];
      this.floor = opts.since;
    }
    if (opts.initial === true) {
      const now = new Date().toISOString();
      const { tasks, seq } = slot.source?.present() ?? {
        tasks: [...(slot.start?.snapshot.values() ?? [])].sort((a, b) => compareIds(a.id, b.id)),
        seq: 0,
      };
      const list = slot.options.list;
      for (const task of tasks) {
        this.queue.push({ kind: 'created', list, taskId: task.id, task, rev: revisionOf(task), at: now, seq });
      }
    }
    slot.members.add(this);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<Change> {
    if (this.started) throw new Error('a change feed can be iterated only once; call watch() again');
    this.started = true;
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }

  deliver(change: Change, journaled: boolean): void {
    if (this.closed) return;
    if (this.held !== undefined) {
      if (this.held.length >= MAX_QUEUED_CHANGES) this.fallBehind();
      else this.held.push({ change, journaled });
      return;
    }
    this.accept(change, journaled);
  }

  private accept(change: Change, journaled: boolean): void {
    if (journaled) {
      if (change.seq <= this.floor) return; // replayed already, or before the reader's cursor
      this.lastSeq = Math.max(this.lastSeq, change.seq);
    } else if (change.seq < this.lastSeq) {
      change = { ...change, seq: this.lastSeq };
    }
    if (this.queue.length >= MAX_QUEUED_CHANGES) {
      this.fallBehind();
      return;
    }
    this.queue.push(change);
    this.wakeAll();
  }

  private fallBehind(): void {
    this.queue.length = 0;
    this.held = undefined;
    this.behind = new TasklaneError(
      'FEED_BEHIND',
      `the change feed of list ${this.slot.options.list} held ${MAX_QUEUED_CHANGES} changes its reader had not taken; resume with watch({ since: ${this.delivered} })`,
      { list: this.slot.options.list },
    );
    this.close();
  }

  /** Loads the source's module and runs the source; with `since`, opens the journal's replay. */
  private async activate(): Promise<void> {
    const mod = await this.load();
    if (this.closed) return;
    const source = mod.runSource(this.slot);
    if (this.opts.since !== undefined && source !== undefined) this.replay = source.replay(this.opts.since);
  }

  private async next(): Promise<IteratorResult<Change>> {
    this.activation ??= this.activate();
    await this.activation;
    for (;;) {
      const change = this.queue.shift();
      if (change !== undefined) {
        this.delivered = change.seq;
        return { done: false, value: change };
      }
      if (this.replay !== undefined && !this.closed) {
        const r = this.replay.next();
        if (r.done === true) this.endReplay(r.value);
        else {
          this.lastSeq = Math.max(this.lastSeq, r.value.seq);
          this.queue.push(r.value);
        }
        continue;
      }
      if (this.behind !== undefined) {
        const err = this.behind;
        this.behind = undefined;
        throw err;
      }
      if (this.closed) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.wakers.push(resolve);
      });
    }
  }

  /** The replay read the journal up to `lastRead`: what the source found meanwhile follows, minus repeats. */
  private endReplay(lastRead: number): void {
    this.replay = undefined;
    this.floor = Math.max(this.floor, lastRead);
    this.lastSeq = Math.max(this.lastSeq, lastRead);
    const held = this.held ?? [];
    this.held = undefined;
    for (const { change, journaled } of held) this.accept(change, journaled);
  }

  private wakeAll(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.replay = undefined;
    this.held = undefined;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    leaveFeedSlot(this.slot, this);
    this.wakeAll();
  }
}
