import { closeSync, openSync, readSync, statSync } from 'node:fs';
import {
  claimOrder,
  criticalPaths,
  openBlockers,
  priorityOf,
  type Task,
  type TaskIndex,
  tasklaneFields,
} from '../../model/index.js';
import type { JournalEntry } from '../types.js';

// An in-memory view of one list for choosing claim candidates quickly. One full scan, then the
// journal's new lines (every Tasklane write) applied as they come; a full rescan every
// FULL_RESCAN_MS catches Claude Code's own writes, which are not journaled. The view only picks
// candidates: the claim itself re-reads the task and its blockers under the task's lock.
//
// Measured on 2 cores, 8 claiming processes, 3,000 tasks: rescanning every 250 ms instead held
// the total near 210 claims/s, nearly all of it spent re-reading files.

const FULL_RESCAN_MS = 2_000;
/** Claimers racing for the same best task collide; picking among a few equally ranked ones spreads them. */
const SPREAD = 4;

export class ClaimIndex {
  private tasks = new Map<string, Task>();
  private offset = 0;
  private scannedAt = Number.NEGATIVE_INFINITY;
  private order: { id: string; rank: string }[] = [];
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
    if (force || Date.now() - this.scannedAt > FULL_RESCAN_MS || size < this.offset) {
      // Size first: lines appended during the scan are applied next time (re-applying is harmless).
      this.offset = size;
      this.tasks = this.scan();
      this.scannedAt = Date.now();
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

  /** The next candidate to try, or undefined. */
  next(now: Date): string | undefined {
    if (this.dirty) {
      const claimable = [...this.tasks.values()].filter((t) => claimableNow(t, this.tasks, now));
      const paths = criticalPaths(this.tasks);
      this.order = claimOrder(claimable, paths).map((t) => ({
        id: t.id,
        rank: `${priorityOf(t)}:${paths.get(t.id) ?? 0}`,
      }));
      this.skipped.clear();
      this.head = 0;
      this.dirty = false;
    }
    const usable = (id: string): boolean => {
      const task = this.tasks.get(id);
      return !this.skipped.has(id) && task !== undefined && claimableNow(task, this.tasks, now);
    };
    while (this.head < this.order.length && !usable((this.order[this.head] as { id: string }).id)) this.head++;
    const pool: string[] = [];
    let rank: string | undefined;
    for (let i = this.head; i < this.order.length; i++) {
      const c = this.order[i] as { id: string; rank: string };
      if (!usable(c.id)) continue;
      if (rank !== undefined && c.rank !== rank) break;
      rank = c.rank;
      pool.push(c.id);
      if (pool.length === SPREAD) break;
    }
    return pool[Math.floor(Math.random() * pool.length)];
  }

  /** Not claimable after all (taken, locked, changed): do not offer it again until the view changes. */
  skip(id: string): void {
    this.skipped.add(id);
  }
}

/** Cheap in-memory pre-check; the authoritative one runs under the task's lock. */
function claimableNow(task: Task, byId: TaskIndex, now: Date): boolean {
  const fields = tasklaneFields(task);
  if (task.status === 'completed' || fields.failure !== undefined) return false;
  if (task.status === 'in_progress') {
    return fields.lease !== undefined && Date.parse(fields.lease.expiresAt) <= now.getTime();
  }
  if (task.owner !== undefined && task.owner !== '') return false;
  return openBlockers(task, byId).length === 0;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
