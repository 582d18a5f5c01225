import { META_KEY, serializeTask, type Task, type TasklaneFields, tasklaneFields } from './task.js';

// A task's revision, for compare-and-swap (`update --if-rev N`) and for telling changes apart.
// Tasklane bumps metadata.tasklane.rev on every write, but Claude Code (and a person with an
// editor) changes a task without touching it. Every Tasklane write therefore also records a
// fingerprint of the task it wrote (metadata.tasklane.fp), and:
// - a task as Tasklane wrote it (its fingerprint matches) is at its counter N, exactly;
// - a task changed since by another program (fingerprint mismatch), or one Tasklane never wrote
//   (no fingerprint: made by Claude Code, or by a Tasklane older than fingerprints), is at a
//   revision derived from its content: N + 1 + (hash of the content mod OUTSIDE_BAND), N being
//   0 when the counter is absent. Two different contents that no Tasklane write separates thus
//   read as different revisions: a guard taken after Claude Code's first edit fails after its
//   second, but for a 1-in-65,536 chance (the former rule, one above the counter, read every
//   outside edit of one Tasklane write as the same number). The band, rather than the whole
//   53-bit hash, keeps what the next write must clear small: 2^16 a write, so 2^37 of them fit
//   in a safe integer;
// - the next Tasklane write from such a task takes N + OUTSIDE_BAND + 1, above every revision
//   any reader could have seen for the contents it replaces, so revisions stay monotonic across
//   Tasklane writes. Only two outside contents of one Tasklane write have no order (nothing in
//   the file says which came first): revisionBefore says so, and readers take the later one read.
// The stores normalize what they read (normalizeRevision): an outside content comes back at its
// revision as its counter (what `show --json` gives and `--if-rev` accepts), its fingerprint
// marked with the floor its next write must clear (`<hash>+<floor>`, never written: sealRevision
// lifts the counter to the floor and records a plain fingerprint). The PostgreSQL store has no
// outside edits (its commit seals every document), so its tasks read at their counters; a
// document without a fingerprint would follow the same rule as a file.

/** The fingerprint covers everything but itself. */
const FP = 'fp';

/** How far above its counter an outside content's revision may read (a power of two, 2^16). */
export const OUTSIDE_BAND = 0x10000;

/** A task's revision as read, and for an outside content the revision its next write takes. */
interface Reading {
  rev: number;
  /** Set for an outside content (or one normalized from it): the least revision its next write takes. */
  floor?: number;
}

const readings = new WeakMap<Task, Reading>();

/** The counter as stored in metadata.tasklane.rev (0 if absent), whatever the content. */
export function storedRevisionOf(task: Task): number {
  const rev = tasklaneFields(task).rev;
  return typeof rev === 'number' && Number.isInteger(rev) ? rev : 0;
}

/** The task's revision: its counter as Tasklane wrote it, or one derived from its content if someone else changed it (or wrote it). */
export function revisionOf(task: Task): number {
  return readingOf(task).rev;
}

/** The revision the next Tasklane write of this task takes: one above its counter, or above every outside revision of it. */
export function nextRevisionOf(task: Task): number {
  const r = readingOf(task);
  return Math.max(storedRevisionOf(task) + 1, r.floor ?? 0);
}

/**
 * Whether `a` is certainly an earlier state of a task than `b`: a lower revision, unless both are
 * outside contents of the same Tasklane write (their revisions differ but say nothing of order).
 */
export function revisionBefore(a: Task, b: Task): boolean {
  const ra = readingOf(a);
  const rb = readingOf(b);
  if (ra.rev >= rb.rev) return false;
  return ra.floor === undefined || ra.floor !== rb.floor;
}

/** Whether the task was changed (or written) by another program since Tasklane last wrote it: no fingerprint, or one that no longer matches. */
export function changedOutsideTasklane(task: Task): boolean {
  const recorded = recordedOf(task);
  return recorded === undefined || recorded.hash !== fingerprintOf(task);
}

/** The task with its fingerprint recorded: what Tasklane writes. A normalized task's counter is lifted to its floor first. */
export function sealRevision(task: Task): Task {
  const fields = tasklaneFields(task);
  const floor = recordedOf(task)?.floor;
  const lifted = floor === undefined || storedRevisionOf(task) >= floor ? fields : { ...fields, rev: floor };
  const { fp: _fp, ...rest } = lifted;
  const unsealed = withFields(task, rest);
  return withFields(task, { ...lifted, fp: fingerprintOf(unsealed) });
}

/**
 * The task with its counter made equal to its revision: a task changed (or written) by someone
 * else comes back with rev at its content's revision and its fingerprint marked with its floor
 * (so that a write built from it continues above every outside revision); any other task comes
 * back as it is.
 */
export function normalizeRevision(task: Task): Task {
  const r = readingOf(task);
  if (r.floor === undefined || !changedOutsideTasklane(task)) return task;
  const { fp: _fp, ...fields } = tasklaneFields(task);
  const counted = withFields(task, { ...fields, rev: r.rev });
  const normalized = withFields(task, { ...fields, rev: r.rev, fp: `${fingerprintOf(counted)}+${r.floor}` });
  readings.set(normalized, r);
  return normalized;
}

function readingOf(task: Task): Reading {
  let r = readings.get(task);
  if (r === undefined) {
    const counter = storedRevisionOf(task);
    const recorded = recordedOf(task);
    const hash = fingerprintHash(task);
    if (recorded !== undefined && recorded.hash === hash.toString(36)) {
      r = recorded.floor === undefined ? { rev: counter } : { rev: counter, floor: recorded.floor };
    } else {
      r = { rev: counter + 1 + (hash % OUTSIDE_BAND), floor: counter + OUTSIDE_BAND + 1 };
    }
    // Computed once per task read: tasks are values, never changed in place once read.
    readings.set(task, r);
  }
  return r;
}

/** The recorded fingerprint: its hash, and the floor a normalized task carries after a `+`. */
function recordedOf(task: Task): { hash: string; floor?: number } | undefined {
  const fp = tasklaneFields(task).fp;
  if (typeof fp !== 'string') return undefined;
  const plus = fp.indexOf('+');
  if (plus < 0) return { hash: fp };
  const floor = Number(fp.slice(plus + 1));
  return Number.isSafeInteger(floor) ? { hash: fp.slice(0, plus), floor } : { hash: fp };
}

/** A short fingerprint of the task's content, its recorded fingerprint left out. */
export function fingerprintOf(task: Task): string {
  return fingerprintHash(task).toString(36);
}

function fingerprintHash(task: Task): number {
  const fields = tasklaneFields(task);
  let content = task;
  if (FP in fields) {
    const { fp: _fp, ...rest } = fields;
    content = withFields(task, rest);
  }
  return cyrb53(serializeTask(content));
}

/** Replaces metadata.tasklane in place of the old key, so the key order (and the bytes) stay Claude Code's. */
function withFields(task: Task, fields: TasklaneFields): Task {
  return { ...task, metadata: { ...(task.metadata ?? {}), [META_KEY]: fields } };
}

/**
 * cyrb53 (bryc, public domain): a fast 53-bit non-cryptographic string hash. It guards against
 * accidental lost updates, not an adversary (anyone who can write task files can change
 * anything), so a cryptographic hash would buy nothing and node:crypto would make the model
 * impure. 53 bits: a missed edit is a 1-in-2^53 chance; it reads 16 bits a step over the string
 * without encoding it, about 1 ms per MiB.
 */
function cyrb53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
