import { TasklaneError } from './errors.js';
import { compareIds, isNumericId } from './ids.js';

export { revisionOf } from './revision.js';

// The task exactly as Claude Code defines it (its read schema). Tasklane's own fields live under
// metadata.tasklane because Claude Code drops unknown top-level keys when it rewrites a file.
// Tasklane itself keeps them: a top-level key it does not model (one a newer Claude Code adds)
// stays on the Task object as read, in its place, through every read and write (orderTask).

export const STATUSES = ['pending', 'in_progress', 'completed'] as const;
export type Status = (typeof STATUSES)[number];

export interface Task {
  id: string;
  subject: string;
  description: string;
  activeForm?: string;
  status: Status;
  blocks: string[];
  blockedBy: string[];
  owner?: string;
  metadata?: Record<string, unknown>;
}

export interface Lease {
  owner: string;
  /** Fencing token: every later transition of the claim must present it (or the owner). */
  token: string;
  expiresAt: string;
  heartbeatAt: string;
}

export interface Failure {
  reason: string;
  at: string;
  attempt: number;
}

/** Tasklane's fields, stored as metadata.tasklane. All optional on read: Claude Code creates tasks without them. */
export interface TasklaneFields {
  /** Revision counter for compare-and-swap; bumped by every Tasklane write. Read it with revisionOf (revision.ts). */
  rev?: number;
  /** Fingerprint of the task as Tasklane last wrote it: tells a change by another program (revision.ts). */
  fp?: string;
  createdAt?: string;
  updatedAt?: string;
  startedAt?: string;
  completedAt?: string;
  /** Higher runs first. Default 0. */
  priority?: number;
  labels?: string[];
  /** Expected duration in seconds, used as the weight of the critical path. */
  estimate?: number;
  lease?: Lease;
  attempts?: number;
  result?: string;
  failure?: Failure;
  /** Earlier failures, oldest first, kept across retries. */
  failures?: Failure[];
  /**
   * The check the executor runs after the agent exits 0 (`sh -c` in the task's working directory):
   * the command of whoever wrote the task, never built from task text. Non-zero fails the attempt.
   */
  verify?: string;
}

export const META_KEY = 'tasklane';

/**
 * The state a person cares about, derived from status, owner, failure, lease and blockers.
 * `expired`: in_progress on a lease that ran out; its holder is presumed gone and any claimer may take it.
 */
export type TaskState = 'ready' | 'expired' | 'blocked' | 'assigned' | 'in_progress' | 'failed' | 'completed';

/** Every derived state, in the order listings count them. */
export const TASK_STATES: readonly TaskState[] = [
  'ready',
  'expired',
  'blocked',
  'assigned',
  'in_progress',
  'failed',
  'completed',
];

export function tasklaneFields(task: Task): TasklaneFields {
  const value = task.metadata?.[META_KEY];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as TasklaneFields) : {};
}

export function priorityOf(task: Task): number {
  const p = tasklaneFields(task).priority;
  return typeof p === 'number' && Number.isFinite(p) ? p : 0;
}

export function labelsOf(task: Task): string[] {
  const labels = tasklaneFields(task).labels;
  return Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [];
}

export function estimateOf(task: Task): number {
  const e = tasklaneFields(task).estimate;
  return typeof e === 'number' && Number.isFinite(e) && e > 0 ? e : 1;
}

/** The task's own check command (metadata.tasklane.verify), when it has a usable one. */
export function verifyOf(task: Task): string | undefined {
  const v = tasklaneFields(task).verify;
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

export function isFailed(task: Task): boolean {
  return task.status !== 'completed' && tasklaneFields(task).failure !== undefined;
}

/** Whether a lease has run out at `now`. An unparsable expiry counts as run out: nobody can hold it. */
export function leaseExpired(lease: Lease, now: Date): boolean {
  const at = Date.parse(lease.expiresAt);
  return !(at > now.getTime());
}

/** Returns a copy of the task with metadata.tasklane replaced by `fields` (undefined keys dropped). */
export function withTasklaneFields(task: Task, fields: TasklaneFields): Task {
  const clean: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) clean[k] = v;
  return { ...task, metadata: { ...(task.metadata ?? {}), [META_KEY]: clean } };
}

/**
 * Validates a value against Claude Code's read schema and returns it as a Task with Claude Code's
 * key order, top-level keys it does not model kept in their place (orderTask). Refuses nothing
 * Claude Code would read; the caller bounds depth and size (task-files.ts, limits.ts) over the
 * whole value, unknown keys included. `where` names the file or input in the error.
 */
export function parseTask(value: unknown, where: { file?: string; task?: string } = {}): Task {
  const fail = (field: string, message: string): never => {
    const at = where.file ?? (where.task !== undefined ? `task ${where.task}` : 'task');
    throw new TasklaneError('INVALID_TASK', `${at}: ${field} ${message}`, { ...where, field });
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('(root)', 'is not a JSON object');
  }
  const v = value as Record<string, unknown>;
  const str = (key: string, optional: boolean): string | undefined => {
    const x = v[key];
    if (x === undefined && optional) return undefined;
    if (typeof x !== 'string')
      return fail(key, x === undefined ? 'is missing' : `must be a string, got ${typeName(x)}`);
    return x;
  };
  const ids = (key: string): string[] => {
    const x = v[key];
    if (!Array.isArray(x))
      return fail(key, x === undefined ? 'is missing' : `must be an array of ids, got ${typeName(x)}`);
    for (const item of x) if (typeof item !== 'string') fail(key, `must hold only string ids, found ${typeName(item)}`);
    return x as string[];
  };
  str('id', false);
  str('subject', false);
  str('description', false);
  str('activeForm', true);
  const status = v.status;
  if (typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status)) {
    fail('status', `must be one of pending, in_progress, completed; got ${JSON.stringify(status)}`);
  }
  ids('blocks');
  ids('blockedBy');
  str('owner', true);
  const metadata = v.metadata;
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    fail('metadata', `must be an object, got ${typeName(metadata)}`);
  }
  // Validated above, so the value itself is the task; keys Tasklane does not model come along.
  return orderTask(v as unknown as Task);
}

/** The top-level keys Tasklane models, in Claude Code's order. */
export const TASK_KEYS = [
  'id',
  'subject',
  'description',
  'activeForm',
  'status',
  'blocks',
  'blockedBy',
  'owner',
  'metadata',
] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set(TASK_KEYS);

/** The task's top-level keys Tasklane does not model (kept as stored), in the task's order. */
export function unknownKeys(task: Task): string[] {
  return Object.keys(task).filter((k) => !KNOWN_KEYS.has(k));
}

/**
 * Sets an own enumerable key, as JSON.parse and object spread do: plain assignment of a key named
 * `__proto__` would set the prototype and lose the key.
 */
export function setOwnKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Claude Code's key order with undefined keys left out, as JSON.stringify would. A key Tasklane
 * does not model keeps its place: it follows the known key it followed in `t` (first when none
 * did), so a file whose known keys are in Claude Code's order is written back byte for byte.
 */
export function orderTask(t: Task): Task {
  const src = t as unknown as Record<string, unknown>;
  // Unknown keys by the known key they follow ('' for those before any).
  const after = new Map<string, string[]>();
  let anchor = '';
  for (const key of Object.keys(src)) {
    if (KNOWN_KEYS.has(key)) anchor = key;
    else if (src[key] !== undefined) after.set(anchor, [...(after.get(anchor) ?? []), key]);
  }
  const ordered: Record<string, unknown> = {};
  const unknownAfter = (key: string): void => {
    for (const k of after.get(key) ?? []) setOwnKey(ordered, k, src[k]);
  };
  unknownAfter('');
  for (const key of TASK_KEYS) {
    // Required keys always, optional ones when present, as Claude Code writes them.
    const optional = key === 'activeForm' || key === 'owner' || key === 'metadata';
    if (!optional || src[key] !== undefined) ordered[key] = src[key];
    unknownAfter(key);
  }
  return ordered as unknown as Task;
}

/** The exact bytes Claude Code writes: two-space indent, no trailing newline. */
export function serializeTask(task: Task): string {
  return JSON.stringify(orderTask(task), null, 2);
}

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

/**
 * The order lists show tasks in: numeric ids by number (Claude Code's counter, so creation order),
 * then the others (project lists' random ids) by creation time, then id.
 */
export function taskOrder(a: Task, b: Task): number {
  const an = isNumericId(a.id);
  const bn = isNumericId(b.id);
  if (an || bn) return compareIds(a.id, b.id);
  const ca = String(tasklaneFields(a).createdAt ?? '');
  const cb = String(tasklaneFields(b).createdAt ?? '');
  return ca < cb ? -1 : ca > cb ? 1 : compareIds(a.id, b.id);
}

/**
 * metadata.tasklane's keys in one fixed order (unknown keys after, as found), so that two clones
 * holding the same fields write the same lines, whatever order the changes added them in.
 */
const TASKLANE_FIELD_ORDER = [
  'rev',
  'fp',
  'createdAt',
  'updatedAt',
  'startedAt',
  'completedAt',
  'priority',
  'labels',
  'estimate',
  'verify',
  'lease',
  'attempts',
  'result',
  'failure',
  'failures',
];

/** The task with metadata.tasklane's keys in TASKLANE_FIELD_ORDER (the same object when already so). */
export function orderTasklaneFields(task: Task): Task {
  const value = task.metadata?.[META_KEY];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return task;
  const fields = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of TASKLANE_FIELD_ORDER) if (fields[key] !== undefined) out[key] = fields[key];
  for (const [k, v] of Object.entries(fields)) if (!(k in out) && v !== undefined) out[k] = v;
  const before = Object.keys(fields).filter((k) => fields[k] !== undefined);
  if (before.join('\n') === Object.keys(out).join('\n')) return task;
  return { ...task, metadata: { ...(task.metadata ?? {}), [META_KEY]: out } };
}
