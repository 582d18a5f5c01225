import { META_KEY, serializeTask, type Task, type TasklaneFields, tasklaneFields } from './task.js';

// A task's revision, for compare-and-swap (`update --if-rev N`) and for telling changes apart.
// Tasklane bumps metadata.tasklane.rev on every write, but Claude Code (and a person with an
// editor) changes a task without touching it, so the counter alone let an update guarded by a
// revision succeed over a change it never saw. Every Tasklane write therefore also records a
// fingerprint of the task it wrote (metadata.tasklane.fp); a task whose content no longer matches
// its fingerprint was changed by someone else since, and its revision reads one higher than the
// counter. The next Tasklane write continues from there (the store normalizes what it reads).
// A task with no fingerprint (made by Claude Code, or by Tasklane before this) is at its counter.

/** The fingerprint covers everything but itself. */
const FP = 'fp';

const revisions = new WeakMap<Task, number>();

/** The counter as stored in metadata.tasklane.rev (0 if absent), whatever the content. */
export function storedRevisionOf(task: Task): number {
  const rev = tasklaneFields(task).rev;
  return typeof rev === 'number' && Number.isInteger(rev) ? rev : 0;
}

/** The task's revision: the counter, plus one if someone else changed the task since Tasklane wrote it. */
export function revisionOf(task: Task): number {
  let rev = revisions.get(task);
  if (rev === undefined) {
    rev = storedRevisionOf(task) + (changedOutsideTasklane(task) ? 1 : 0);
    // Computed once per task read: tasks are values, never changed in place once read.
    revisions.set(task, rev);
  }
  return rev;
}

/** Whether the task was changed by another program since Tasklane last wrote it (its fingerprint no longer matches). */
export function changedOutsideTasklane(task: Task): boolean {
  const recorded = tasklaneFields(task).fp;
  return typeof recorded === 'string' && recorded !== fingerprintOf(task);
}

/** The task with its fingerprint recorded: what Tasklane writes. */
export function sealRevision(task: Task): Task {
  const fields = tasklaneFields(task);
  return withFields(task, { ...fields, fp: fingerprintOf(task) });
}

/**
 * The task with its counter made equal to its revision: a task changed by someone else comes
 * back with rev one higher and no fingerprint (so that a write built from it continues from the
 * higher number); any other task comes back as it is.
 */
export function normalizeRevision(task: Task): Task {
  if (!changedOutsideTasklane(task)) return task;
  const { fp: _fp, ...fields } = tasklaneFields(task);
  const normalized = withFields(task, { ...fields, rev: storedRevisionOf(task) + 1 });
  revisions.set(normalized, storedRevisionOf(task) + 1);
  return normalized;
}

/** A short fingerprint of the task's content, its recorded fingerprint left out. */
export function fingerprintOf(task: Task): string {
  const fields = tasklaneFields(task);
  let content = task;
  if (FP in fields) {
    const { fp: _fp, ...rest } = fields;
    content = withFields(task, rest);
  }
  return cyrb53(serializeTask(content)).toString(36);
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
