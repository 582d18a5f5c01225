import { compareIds } from './ids.js';
import { checkStoredTask } from './limits.js';
import { nextRevisionOf, sealRevision } from './revision.js';
import {
  type Failure,
  META_KEY,
  orderTask,
  orderTasklaneFields,
  type Status,
  setOwnKey,
  TASK_KEYS,
  type Task,
  type TasklaneFields,
  tasklaneFields,
  unknownKeys,
  withTasklaneFields,
} from './task.js';
import { changedAt, isTombstone, type Tombstone } from './tombstone.js';

// How two versions of one task file, changed in two clones since their common version, become
// one (the rule behind `tasklane git merge-driver`, docs/git.md). Pure, total and symmetric:
// merging A into B gives the same task as B into A, so merging in either direction, or
// rebasing, ends in the same list. Field by field, three-way: what only one side changed is
// taken; what both changed is settled by the field's rule:
//   status       by progress, completed over in_progress over pending, unless the lower side
//                retried the task (a failure recorded or cleared since the base) after the other
//                side's last change; the claim (owner, lease, failure, timestamps) is taken whole
//                from the side whose status stands, whenever the two claims differ;
//   blocks, blockedBy, labels
//                as sets: an element added on either side is in, one removed on either side is
//                out (a plain union would bring back what a side removed);
//   subject, activeForm, description
//                both versions kept, visibly, earlier change first;
//   metadata     key by key (and metadata.tasklane's keys too), the later change (updatedAt)
//                winning; attempts the larger, failures the union, rev above both;
//   top-level keys Tasklane does not model (a newer Claude Code's)
//                as metadata's: key by key, the later change winning, kept in their place.
// A deletion (tombstone) wins over any edit; a task restored on one side while the other left
// the tombstone comes back. What the merge cannot settle (two different tasks under one id)
// comes back as a failure, and git leaves that file in conflict.

export type TaskFile = Task | Tombstone;

export type TaskMerge = { ok: true; value: TaskFile; notes: string[] } | { ok: false; reason: string };

/** Marks the place where a text field keeps both versions. */
export const BOTH_KEPT = '---- tasklane merge: both clones changed this text; the other version follows ----';

/** Merges `ours` and `theirs` against `base` (undefined: both sides added the file). */
export function mergeTaskFiles(base: TaskFile | undefined, ours: TaskFile, theirs: TaskFile): TaskMerge {
  if (ours.id !== theirs.id) {
    return { ok: false, reason: `the two versions hold different task ids (${ours.id} and ${theirs.id})` };
  }
  const oursGone = isTombstone(ours);
  const theirsGone = isTombstone(theirs);
  if (oursGone && theirsGone) return { ok: true, value: earlier(ours, theirs), notes: [] };
  if (oursGone || theirsGone) {
    const gone = (oursGone ? ours : theirs) as Tombstone;
    const kept = (oursGone ? theirs : ours) as Task;
    // A task restored on one side while the other left it deleted: the restore is the only change.
    if (base !== undefined && isTombstone(base) && same(base, gone)) return { ok: true, value: kept, notes: [] };
    return {
      ok: true,
      value: gone,
      notes: sameTask(base, kept) ? [] : [`task ${gone.id} was deleted on one side and changed on the other: deleted`],
    };
  }
  const a = ours as Task;
  const b = theirs as Task;
  const from = base !== undefined && !isTombstone(base) ? base : undefined;
  if (from === undefined) {
    const ca = tasklaneFields(a).createdAt;
    const cb = tasklaneFields(b).createdAt;
    if (ca !== cb && !same(a, b)) {
      return {
        ok: false,
        reason: `two different tasks were created with the id ${a.id} (created ${ca ?? 'at an unknown time'} and ${cb ?? 'at an unknown time'}); rename one by hand`,
      };
    }
  }
  const merged = mergeTasks(from, a, b);
  try {
    checkStoredTask(merged.value);
  } catch (err) {
    return { ok: false, reason: `the merged task would be too large: ${(err as Error).message}` };
  }
  return merged;
}

/** Three-way merge of two versions of a task (base undefined: no common version). */
export function mergeTasks(
  base: Task | undefined,
  ours: Task,
  theirs: Task,
): { ok: true; value: Task; notes: string[] } {
  if (same(ours, theirs)) return { ok: true, value: ours, notes: [] };
  if (base !== undefined && same(base, ours)) return { ok: true, value: theirs, notes: [] };
  if (base !== undefined && same(base, theirs)) return { ok: true, value: ours, notes: [] };
  const notes: string[] = [];
  // Earlier change first, so both directions of a merge order things alike.
  const [x, y] = order(ours, theirs);
  const fx = tasklaneFields(x);
  const fy = tasklaneFields(y);
  const fb = base === undefined ? {} : tasklaneFields(base);

  const text = (field: 'subject' | 'description', sep: string): string => {
    const r = pick3(base?.[field], x[field], y[field]);
    if (!r.both) return r.value as string;
    notes.push(`task ${x.id}: both sides changed its ${field}; both versions kept`);
    return `${x[field]}${sep}${y[field]}`;
  };
  const subject = text('subject', ' | ');
  const description = text('description', `\n\n${BOTH_KEPT}\n\n`);
  const form = pick3(base?.activeForm, x.activeForm, y.activeForm);
  const activeForm = form.both ? [x.activeForm, y.activeForm].filter((s) => s !== undefined).join(' | ') : form.value;

  // Status, and the claim that goes with it: status, owner, lease, failure and the timestamps
  // are one claim, taken whole from one side whenever the two sides' claims differ (a status
  // from one side and a lease from the other would be a claim nobody holds).
  const claimKeys = ['lease', 'failure', 'startedAt', 'completedAt'] as const;
  const cx = claimOf(x);
  const cy = claimOf(y);
  const cb = base === undefined ? undefined : claimOf(base);
  let claimFrom: Task | undefined;
  if (!same(cx, cy)) {
    if (cb !== undefined && same(cb, cx)) claimFrom = y;
    else if (cb !== undefined && same(cb, cy)) claimFrom = x;
    else {
      claimFrom = statusWinner(base, x, y);
      if (x.status !== y.status) {
        notes.push(`task ${x.id}: status ${x.status} on one side and ${y.status} on the other: ${claimFrom.status}`);
      }
    }
  }
  const status = (claimFrom ?? x).status;
  const owner = (claimFrom ?? x).owner;

  // metadata.tasklane, key by key.
  const fields: Record<string, unknown> = {};
  for (const key of keysOf(fb, fx, fy)) {
    const r = pick3(
      (fb as Record<string, unknown>)[key],
      (fx as Record<string, unknown>)[key],
      (fy as Record<string, unknown>)[key],
      true,
    );
    fields[key] = r.value;
  }
  if (claimFrom !== undefined) {
    const fw = tasklaneFields(claimFrom) as Record<string, unknown>;
    for (const key of claimKeys) fields[key] = fw[key];
  }
  const tf = fields as TasklaneFields;
  tf.rev = Math.max(nextRevisionOf(ours), nextRevisionOf(theirs));
  delete tf.fp;
  tf.createdAt = fb.createdAt ?? minDefined(fx.createdAt, fy.createdAt);
  tf.updatedAt = maxDefined(fx.updatedAt, fy.updatedAt);
  const attempts = Math.max(fx.attempts ?? 0, fy.attempts ?? 0);
  tf.attempts = attempts > 0 ? attempts : undefined;
  tf.failures = unionFailures(fx.failures, fy.failures);
  tf.labels = mergeSet(fb.labels, fx.labels, fy.labels, (p, q) => (p < q ? -1 : p > q ? 1 : 0));
  if (tf.labels?.length === 0 && fx.labels === undefined && fy.labels === undefined) tf.labels = undefined;
  // A completed task holds no claim; an open one no completion time.
  if (status === 'completed') {
    tf.lease = undefined;
    if (tf.failure !== undefined) tf.failures = unionFailures(tf.failures, [tf.failure]);
    tf.failure = undefined;
  } else {
    tf.completedAt = undefined;
  }

  // The rest of metadata, key by key.
  const metadata: Record<string, unknown> = {};
  const mb = base?.metadata ?? {};
  const mx = x.metadata ?? {};
  const my = y.metadata ?? {};
  for (const key of keysOf(mb, mx, my)) {
    if (key === META_KEY) continue;
    const r = pick3(mb[key], mx[key], my[key], true);
    if (r.value !== undefined) metadata[key] = r.value;
  }
  const hasMeta = x.metadata !== undefined || y.metadata !== undefined;
  const hasFields = META_KEY in mx || META_KEY in my;

  const blocks = mergeSet(base?.blocks, x.blocks, y.blocks, compareIds).filter((id) => id !== x.id);
  const blockedBy = mergeSet(base?.blockedBy, x.blockedBy, y.blockedBy, compareIds).filter((id) => id !== x.id);

  let task: Task = orderTask({
    id: x.id,
    subject,
    description,
    ...(activeForm === undefined ? {} : { activeForm }),
    status,
    blocks,
    blockedBy,
    ...(owner === undefined ? {} : { owner }),
    ...(hasMeta ? { metadata } : {}),
  } as Task);
  if (hasFields) task = withTasklaneFields(task, tf);
  task = withUnknownKeys(task, base, x, y);
  return { ok: true, value: sealRevision(orderMetadata(task, x, y)), notes };
}

// ---- the rules ----

/** Which side's status stands when both changed it (see the rule above). */
function statusWinner(base: Task | undefined, x: Task, y: Task): Task {
  const rank = (s: Status): number => (s === 'completed' ? 2 : s === 'in_progress' ? 1 : 0);
  // One status on both sides (two claims of one task): the later claim (y is the later: see order).
  const [hi, lo] = rank(x.status) > rank(y.status) ? [x, y] : [y, x];
  if (hi.status !== 'completed' && retried(base, lo) && changedAt(lo) > changedAt(hi)) return lo;
  return hi;
}

/** The claim of a version: its status, owner, and the claim's fields in metadata.tasklane. */
function claimOf(task: Task): Record<string, unknown> {
  const f = tasklaneFields(task);
  return {
    status: task.status,
    owner: task.owner,
    lease: f.lease,
    failure: f.failure,
    startedAt: f.startedAt,
    completedAt: f.completedAt,
  };
}

/** Whether `task` was retried since `base`: a failure recorded among its failures, or its failure cleared. */
function retried(base: Task | undefined, task: Task): boolean {
  const fb = base === undefined ? {} : tasklaneFields(base);
  const ft = tasklaneFields(task);
  return (
    (ft.failures?.length ?? 0) > (fb.failures?.length ?? 0) || (fb.failure !== undefined && ft.failure === undefined)
  );
}

interface Picked<T> {
  value: T | undefined;
  /** Both sides changed it, to different values. */
  both: boolean;
}

/**
 * Three-way choice of one value: the side that changed it, or (`laterWins`) when both did, the
 * later side's (x is the earlier: see order).
 */
function pick3<T>(base: T | undefined, x: T | undefined, y: T | undefined, laterWins = false): Picked<T> {
  if (same(x, y)) return { value: x, both: false };
  if (same(base, x)) return { value: y, both: false };
  if (same(base, y)) return { value: x, both: false };
  return { value: laterWins ? y : x, both: true };
}

/** An element is in when both sides have it, or one side added it; out when either removed it. */
function mergeSet<T>(base: T[] | undefined, x: T[] | undefined, y: T[] | undefined, cmp: (p: T, q: T) => number): T[] {
  const b = new Set(base ?? []);
  const sx = new Set(x ?? []);
  const sy = new Set(y ?? []);
  const out = new Set<T>();
  for (const v of sx) if (sy.has(v) || !b.has(v)) out.add(v);
  for (const v of sy) if (sx.has(v) || !b.has(v)) out.add(v);
  return [...out].sort(cmp);
}

function unionFailures(x: Failure[] | undefined, y: Failure[] | undefined): Failure[] | undefined {
  if (x === undefined && y === undefined) return undefined;
  const seen = new Map<string, Failure>();
  for (const f of [...(x ?? []), ...(y ?? [])]) seen.set(JSON.stringify(f), f);
  const all = [...seen.values()].sort((p, q) => (p.at < q.at ? -1 : p.at > q.at ? 1 : 0));
  return all.slice(-20);
}

/** The two versions, the earlier change first (ties broken by content, so the order never depends on the side). */
function order(p: Task, q: Task): [Task, Task] {
  const ap = changedAt(p);
  const aq = changedAt(q);
  if (ap !== aq) return ap < aq ? [p, q] : [q, p];
  return JSON.stringify(p) <= JSON.stringify(q) ? [p, q] : [q, p];
}

function earlier(p: Tombstone, q: Tombstone): Tombstone {
  if (p.deletedAt !== q.deletedAt) return p.deletedAt < q.deletedAt ? p : q;
  return JSON.stringify(p) <= JSON.stringify(q) ? p : q;
}

/** Metadata keys in a stable order: the earlier version's, then keys only the later one has. */
function orderMetadata(task: Task, x: Task, y: Task): Task {
  if (task.metadata === undefined) return task;
  const out: Record<string, unknown> = {};
  for (const key of [...Object.keys(x.metadata ?? {}), ...Object.keys(y.metadata ?? {})]) {
    if (key in task.metadata && !(key in out)) out[key] = task.metadata[key];
  }
  for (const [k, v] of Object.entries(task.metadata)) if (!(k in out)) out[k] = v;
  return orderTasklaneFields({ ...task, metadata: out });
}

/**
 * The top-level keys Tasklane does not model, merged like user metadata: key by key, the side
 * that changed one wins, the later change when both did, removed when one side removed it and the
 * other left it. Each goes after the known key it follows in the earlier version that holds it.
 */
function withUnknownKeys(task: Task, base: Task | undefined, x: Task, y: Task): Task {
  const versions = [x, y, ...(base === undefined ? [] : [base])];
  const keys = [...new Set(versions.flatMap(unknownKeys))];
  if (keys.length === 0) return task;
  const valueIn = (t: Task | undefined, key: string): unknown =>
    t === undefined ? undefined : (t as unknown as Record<string, unknown>)[key];
  const byAnchor = new Map<string, [string, unknown][]>();
  for (const key of keys) {
    const r = pick3(valueIn(base, key), valueIn(x, key), valueIn(y, key), true);
    if (r.value === undefined) continue;
    const holder = versions.find((t) => Object.hasOwn(t, key)) as Task;
    let anchor = '';
    for (const k of Object.keys(holder)) {
      if (k === key) break;
      if ((TASK_KEYS as readonly string[]).includes(k)) anchor = k;
    }
    byAnchor.set(anchor, [...(byAnchor.get(anchor) ?? []), [key, r.value]]);
  }
  const src = task as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const anchor of ['', ...TASK_KEYS]) {
    if (anchor !== '' && src[anchor] !== undefined) out[anchor] = src[anchor];
    for (const [k, v] of byAnchor.get(anchor) ?? []) setOwnKey(out, k, v);
  }
  return out as unknown as Task;
}

function keysOf(...objects: object[]): string[] {
  const keys = new Set<string>();
  for (const o of objects) for (const k of Object.keys(o)) keys.add(k);
  return [...keys];
}

function minDefined(p: string | undefined, q: string | undefined): string | undefined {
  if (p === undefined) return q;
  if (q === undefined) return p;
  return p < q ? p : q;
}

function maxDefined(p: string | undefined, q: string | undefined): string | undefined {
  if (p === undefined) return q;
  if (q === undefined) return p;
  return p > q ? p : q;
}

/** Two task versions equal but for Tasklane's bookkeeping of who wrote them (rev, fp, updatedAt). */
function sameTask(base: TaskFile | undefined, task: Task): boolean {
  if (base === undefined || isTombstone(base)) return false;
  return same(strip(base), strip(task));
}

function strip(task: Task): Task {
  const { rev: _r, fp: _f, updatedAt: _u, ...rest } = tasklaneFields(task);
  return withTasklaneFields(task, rest);
}

/** Deep equality of JSON values, key order ignored. */
function same(p: unknown, q: unknown): boolean {
  if (p === q) return true;
  if (p === null || q === null || typeof p !== 'object' || typeof q !== 'object') return false;
  if (Array.isArray(p) !== Array.isArray(q)) return false;
  if (Array.isArray(p)) {
    const qa = q as unknown[];
    return p.length === qa.length && p.every((v, i) => same(v, qa[i]));
  }
  const pk = Object.keys(p).filter((k) => (p as Record<string, unknown>)[k] !== undefined);
  const qk = Object.keys(q).filter((k) => (q as Record<string, unknown>)[k] !== undefined);
  return (
    pk.length === qk.length &&
    pk.every((k) => same((p as Record<string, unknown>)[k], (q as Record<string, unknown>)[k]))
  );
}
