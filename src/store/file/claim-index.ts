import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { claimQueue, isClaimable, type Task } from '../../model/index.js';
import type { JournalEntry } from '../types.js';

// An in-memory view of one list for choosing claim candidates quickly. One full scan, then the
// journal's new lines (every Tasklane write) applied as they come; a full rescan every
// FULL_RESCAN_MS catches Claude Code's own writes, which are not journaled. The view only picks
// candidates, in the model's claim order: the claim itself re-reads the task and its blockers
// under the task's lock.
//
// Measured on 2 cores, 8 claiming processes, 3,000 tasks: rescanning every 250 ms instead held
// the total near 210 claims/s, nearly all of it spent re-reading files. So the rescan waits at
// least FULL_RESCAN_MS, and longer on a list whose scan is slow: a busy claimer spends at most
// RESCAN_SHARE of its time rescanning (every process does it, so 8 claimers on 2 cores spent
// about 15% of the machine on rescans every 2 s). A claimer that finds nothing rescans at once.

const FULL_RESCAN_MS = 2_000;
const RESCAN_SHARE = 0.02;

export class ClaimIndex {
  private tasks = new Map<string, Task>();
  private offset = 0;
  private scannedAt = Number.NEGATIVE_INFINITY;
  /** How long until the next periodic rescan: FULL_RESCAN_MS, or more when a scan is slow. */
  private rescanEveryMs = FULL_RESCAN_MS;
  private order: string[] = [];
  /** The claimer the order was computed for: tasks assigned to it come first. */
  private orderedFor: string | undefined;
  /** Entries before `head` were taken or skipped; only a change to the view brings them back. */
  private head = 0;
  private dirty = true;
  private readonly skipped = new Set<string>();

  constructor(
    private readonly journalPath: string,
    private readonly scan: () => Map<string, Task>,
  ) {}

  /** Brings the view up to date: journal tail, or a full rescan when forced or due. */
  refresh(force = false): void {
    const size = fileSize(this.journalPath);
    if (force || Date.now() - this.scannedAt > this.rescanEveryMs || size < this.offset) {
      // Size first: lines appended during the scan are applied next time (re-applying is harmless).
      this.offset = size;
      const began = Date.now();
      this.tasks = this.scan();
      this.scannedAt = Date.now();
      this.rescanEveryMs = Math.max(FULL_RESCAN_MS, (this.scannedAt - began) / RESCAN_SHARE);
      this.dirty = true;
      return;
    }
    if (size === this.offset) return;
    const buf = Buffer.allocUnsafe(size - this.offset);
    const fd = openSync(this.journalPath, 'r');
    let got: number;
    try {
      got = readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const end = buf.lastIndexOf(10, got - 1);
    if (end < 0) return; // only a partial line so far
    this.offset += end + 1;
    for (const line of buf.toString('utf8', 0, end).split('\n')) {
      let entry: Omit<JournalEntry, 'seq'>;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.kind === 'deleted') this.tasks.delete(entry.taskId);
      else if (entry.task !== undefined) this.tasks.set(entry.taskId, entry.task);
      // A heartbeat entry carries only its fields: the claim re-checks the lease under the lock anyway.
      // A claim or a heartbeat only takes a task away; anything else may change the ranking.
      if (entry.kind !== 'claimed' && entry.kind !== 'heartbeat') this.dirty = true;
    }
  }

  /** The next candidate for `claimer` to try (the first of the claim queue not yet skipped), or undefined. */
  next(now: Date, claimer?: string): string | undefined {
    if (this.dirty || claimer !== this.orderedFor) {
      this.order = claimQueue(this.tasks, now, claimer).map((t) => t.id);
      this.orderedFor = claimer;
      this.skipped.clear();
      this.head = 0;
      this.dirty = false;
    }
    for (; this.head < this.order.length; this.head++) {
      const id = this.order[this.head] as string;
      const task = this.tasks.get(id);
      if (!this.skipped.has(id) && task !== undefined && isClaimable(task, this.tasks, now, claimer)) return id;
    }
    return undefined;
  }

  /** Not claimable after all (taken, locked, changed): do not offer it again until the view changes. */
  skip(id: string): void {
    this.skipped.add(id);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
