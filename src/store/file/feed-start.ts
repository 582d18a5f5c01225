import { type FSWatcher, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Task } from '../../model/index.js';
import type { Change } from '../types.js';

// Where a list's change feed starts, and the registry that gives every subscriber in a process
// one shared source per list. Small and loaded with the store; the source's own (larger) module
// (watch.ts) loads only when a feed is first iterated, yet a subscriber joins at its watch() call.

export interface FeedStart {
  journal: { offset: number; ino: number | undefined };
  snapshot: Map<string, Task>;
}

/** The journal position, then the snapshot: a change between the two is in both, and is still
 * reported from the journal (it came after the start). */
export function takeFeedStart(journalPath: string, scan: () => Map<string, Task>): FeedStart {
  let journal: FeedStart['journal'] = { offset: 0, ino: undefined };
  try {
    const st = statSync(journalPath);
    journal = { offset: st.size, ino: st.ino };
  } catch {
    // No journal yet: start from its beginning.
  }
  let snapshot: Map<string, Task>;
  try {
    snapshot = scan();
  } catch {
    snapshot = new Map();
  }
  return { journal, snapshot };
}

/** What a list's source watches and how. Subscribers whose options agree share one source. */
export interface FeedSourceOptions {
  listDir: string;
  journalPath: string;
  list: string;
  /** Reads every valid task in the list directory, now. The first subscriber's is used. */
  scan: () => Map<string, Task>;
  /** Full rescan period, the correctness floor. Default 1000 ms. */
  rescanMs?: number;
  /** Coalescing delay after a file-system event. Default 5 ms. */
  debounceMs?: number;
  /** Use fs.watch for low latency. Default true; false polls only (tests, file systems without events). */
  useFsEvents?: boolean;
  /** How long a Tasklane-looking file change (rev ahead, or a vanished file) waits for its journal line. Default 1000 ms. */
  journalGraceMs?: number;
  /** Where the source's warnings go. The first subscriber's is used. */
  onWarning?: (message: string) => void;
  /** Fault knob for tests: stands in for fs.watch. A feed with it gets a source of its own. */
  watchDir?: (dir: string, listener: (event: string, name: string | null) => void) => FSWatcher;
}

export const FEED_DEFAULTS = { rescanMs: 1000, debounceMs: 5, useFsEvents: true, journalGraceMs: 1000 } as const;

/** One subscriber, as its source sees it. */
export interface FeedMember {
  /** A change the source found; `journaled` when it is a journal entry's (its seq is its own). */
  deliver(change: Change, journaled: boolean): void;
}

/** A running source (watch.ts). */
export interface LiveSource {
  /** The tasks it knows now, in id order, after reading the journal's new lines; and its last seq. */
  present(): { tasks: Task[]; seq: number };
  /** The journal's changes after `since`, oldest first; returns the last seq it read. */
  replay(since: number): Iterator<Change, number>;
  stop(): void;
}

export interface FeedSlot {
  /** The registry key; undefined for a private source. */
  readonly key: string | undefined;
  readonly options: FeedSourceOptions;
  /** Where the source starts: taken at the first subscriber's watch() call, dropped once it runs. */
  start: FeedStart | undefined;
  /** Set once a subscriber iterates (the source's module is loaded); until then the slot is dormant. */
  source: LiveSource | undefined;
  /** Every attached subscriber; the source stops when the last one leaves. */
  readonly members: Set<FeedMember>;
}

const slots = new Map<string, FeedSlot>();

/** The slot of the list's shared source, made (taking its start now) when there is none. */
export function feedSlot(options: FeedSourceOptions): FeedSlot {
  const key =
    options.watchDir === undefined
      ? JSON.stringify([
          resolve(options.listDir),
          resolve(options.journalPath),
          options.list,
          options.rescanMs ?? FEED_DEFAULTS.rescanMs,
          options.debounceMs ?? FEED_DEFAULTS.debounceMs,
          options.useFsEvents ?? FEED_DEFAULTS.useFsEvents,
          options.journalGraceMs ?? FEED_DEFAULTS.journalGraceMs,
        ])
      : undefined;
  const existing = key === undefined ? undefined : slots.get(key);
  if (existing !== undefined) return existing;
  const slot: FeedSlot = {
    key,
    options,
    start: takeFeedStart(options.journalPath, options.scan),
    source: undefined,
    members: new Set(),
  };
  if (key !== undefined) slots.set(key, slot);
  return slot;
}

/** Detaches a subscriber; the last one out stops the source and frees the slot. */
export function leaveFeedSlot(slot: FeedSlot, member: FeedMember): void {
  if (!slot.members.delete(member) || slot.members.size > 0) return;
  if (slot.key !== undefined && slots.get(slot.key) === slot) slots.delete(slot.key);
  const source = slot.source;
  slot.source = undefined;
  slot.start = undefined;
  source?.stop();
}
