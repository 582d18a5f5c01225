import { TasklaneError } from './errors.js';
import { claimOrder, criticalPaths, openBlockers, stateOf, type TaskIndex } from './graph.js';
import { checkMergedMetadata } from './limits.js';
import {
  type Failure,
  type Lease,
  leaseExpired,
  type Status,
  type Task,
  type TasklaneFields,
  tasklaneFields,
  withTasklaneFields,
} from './task.js';

// The one state machine of a task: who may claim it now, in what order, and every move of a
// claim (claim, heartbeat, release, complete, fail, retry, reap) or of a plain edit (status,
// owner, fields). Pure: each takes the task as read under its lock and returns the next task, or
// throws a TasklaneError. Stores only lock, read, apply one of these, and write.

/**
 * Failures kept in metadata.tasklane.failures, the most recent. A task retried forever would
 * otherwise grow without bound (each failure carries a reason of up to the text limit); the
 * journal keeps the full story, and 20 is more than any reader of one task looks back over.
 */
export const FAILURE_HISTORY_LIMIT = 20;
/** And at most this much failure text in all (2 MiB), well inside the stored size limit of a task. */
export const FAILURE_HISTORY_BYTES = 2 * 1024 * 1024;

/** Who asks to move a claimed task: its owner, its claim's token, or both. */
export interface Holder {
  owner?: string;
  token?: string;
}

/** What a transition needs from outside the model: the time, and a fresh token when one is minted. */
export interface Moment {
  now: Date;
  /** A new unguessable token, used when a claim starts or moves to another owner. */
  token?: string;
}

/** A plain edit (Claude Code's TaskUpdate fields and Tasklane's own). Edges are the store's business. */
export interface TaskEdit {
  subject?: string;
  description?: string;
  activeForm?: string;
  status?: Status;
  /** null removes the owner. */
  owner?: string | null;
  /** Merged key by key; null deletes a key. */
  metadata?: Record<string, unknown>;
  priority?: number;
  labels?: string[];
  estimate?: number;
  /** The check command; null removes it. */
  verify?: string | null;
}

// ---- the claim rule ----

/**
 * Why `claimer` may not claim `task` at `now`, or undefined when it may. `byId` holds at least the
 * task's blockers; a blocker missing from it no longer exists and does not block. Tasks assigned
 * to someone are claimable only by that someone (anyone, when no claimer is named, may not).
 */
export function claimRefusal(task: Task, byId: TaskIndex, now: Date, claimer?: string): string | undefined {
  const state = stateOf(task, byId, now);
  switch (state) {
    case 'ready':
    case 'expired':
      return undefined;
    case 'assigned':
      return task.owner === claimer ? undefined : `it is assigned to ${JSON.stringify(task.owner)}`;
    case 'blocked':
      return `it is blocked by ${openBlockers(task, byId)
        .map((b) => `#${b}`)
        .join(', ')}`;
    case 'in_progress':
      return `it is held by ${task.owner === undefined ? 'someone' : JSON.stringify(task.owner)}`;
    case 'failed':
      return `it failed (${tasklaneFields(task).failure?.reason ?? 'no reason given'}); retry it first`;
    case 'completed':
      return 'it is completed';
  }
}

export function isClaimable(task: Task, byId: TaskIndex, now: Date, claimer?: string): boolean {
  return claimRefusal(task, byId, now, claimer) === undefined;
}

/**
 * The tasks `claimer` may claim now, in the order a claim takes them: those assigned to the
 * claimer first, then higher priority, longer critical path, smaller id. Without a claimer, the
 * tasks anyone may claim (what `ready` shows).
 */
export function claimQueue(byId: TaskIndex, now: Date, claimer?: string): Task[] {
  const mine: Task[] = [];
  const anyones: Task[] = [];
  for (const task of byId.values()) {
    if (!isClaimable(task, byId, now, claimer)) continue;
    if (claimer !== undefined && task.status === 'pending' && task.owner === claimer) mine.push(task);
    else anyones.push(task);
  }
  if (mine.length + anyones.length <= 1) return [...mine, ...anyones];
  const paths = criticalPaths(byId);
  return [...claimOrder(mine, paths), ...claimOrder(anyones, paths)];
}

// ---- claims ----

/** Claims `task` for `owner` with a lease of `leaseMs`; throws NOT_CLAIMABLE saying why not. */
export function claimTask(task: Task, byId: TaskIndex, owner: string, leaseMs: number, at: Moment): Task {
  const why = claimRefusal(task, byId, at.now, owner);
  if (why !== undefined) {
    throw new TasklaneError('NOT_CLAIMABLE', `task ${task.id} cannot be claimed: ${why}`, { task: task.id });
  }
  const fields = { ...tasklaneFields(task) };
  fields.lease = newLease(owner, mustToken(at), at.now, leaseMs);
  fields.attempts = (fields.attempts ?? 0) + 1;
  fields.startedAt = at.now.toISOString();
  return withTasklaneFields({ ...task, status: 'in_progress', owner }, fields);
}

/** Extends the holder's lease to `leaseMs` from now. */
export function heartbeatTask(task: Task, holder: Holder, leaseMs: number, at: Moment): Task {
  requireIdentity(task, holder);
  checkHolder(task, holder, at.now);
  const fields = tasklaneFields(task);
  if (task.status !== 'in_progress' || fields.lease === undefined || fields.failure !== undefined) {
    throw new TasklaneError(
      'NOT_OWNER',
      `task ${task.id} has no active claim to heartbeat (state ${stateOf(task, new Map(), at.now)})`,
      { task: task.id },
    );
  }
  const lease: Lease = {
    ...fields.lease,
    expiresAt: new Date(at.now.getTime() + leaseMs).toISOString(),
    heartbeatAt: at.now.toISOString(),
  };
  return withTasklaneFields(task, { ...fields, lease });
}

/** Gives the claim back: pending, unowned, no lease. */
export function releaseTask(task: Task, holder: Holder, at: Moment): Task {
  requireIdentity(task, holder);
  checkHolder(task, holder, at.now);
  if (task.status === 'completed') {
    throw new TasklaneError('CONFLICT', `task ${task.id} is completed; there is no claim to release`, {
      task: task.id,
    });
  }
  return unclaimed(task, { ...tasklaneFields(task) });
}

/** What finishing work records: the result, and metadata (e.g. the agent run) merged in the same write. */
export interface Outcome {
  result?: string;
  metadata?: Record<string, unknown>;
}

export function completeTask(task: Task, holder: Holder, outcome: Outcome, at: Moment): Task {
  checkHolder(task, holder, at.now);
  const fields = { ...tasklaneFields(task) };
  delete fields.lease;
  if (fields.failure !== undefined) {
    fields.failures = keepRecent([...(fields.failures ?? []), fields.failure]);
    delete fields.failure;
  }
  fields.completedAt = at.now.toISOString();
  if (outcome.result !== undefined) fields.result = outcome.result;
  return withTasklaneFields({ ...mergeMetadata(task, outcome.metadata), status: 'completed' }, fields);
}

export function failTask(
  task: Task,
  holder: Holder,
  reason: string,
  at: Moment,
  metadata?: Record<string, unknown>,
): Task {
  checkHolder(task, holder, at.now);
  if (task.status === 'completed') {
    throw new TasklaneError('CONFLICT', `task ${task.id} is already completed; it cannot fail`, { task: task.id });
  }
  const fields = { ...tasklaneFields(task) };
  delete fields.lease;
  fields.failure = { reason, at: at.now.toISOString(), attempt: fields.attempts ?? 0 };
  // Stays in_progress so Claude Code sessions do not pick it up; Tasklane shows it as failed.
  return withTasklaneFields({ ...mergeMetadata(task, metadata), status: 'in_progress' }, fields);
}

/** A failed task, or one held on an expired lease, back to pending and unowned. */
export function retryTask(task: Task, at: Moment): Task {
  const fields = { ...tasklaneFields(task) };
  if (task.status === 'completed') {
    throw new TasklaneError('CONFLICT', `task ${task.id} is completed; reopen it with update --status pending`, {
      task: task.id,
    });
  }
  if (fields.failure === undefined && fields.lease !== undefined && !leaseExpired(fields.lease, at.now)) {
    throw new TasklaneError(
      'CONFLICT',
      `task ${task.id} is held by ${task.owner ?? fields.lease.owner} until ${fields.lease.expiresAt}; it has not failed`,
      { task: task.id },
    );
  }
  if (fields.failure !== undefined) fields.failures = keepRecent([...(fields.failures ?? []), fields.failure]);
  delete fields.failure;
  return unclaimed(task, fields);
}

/** The task released from an expired lease, or undefined when its lease is live, absent or it failed. */
export function reapTask(task: Task, at: Moment): Task | undefined {
  const fields = { ...tasklaneFields(task) };
  if (task.status !== 'in_progress' || fields.lease === undefined || fields.failure !== undefined) return undefined;
  if (!leaseExpired(fields.lease, at.now)) return undefined;
  return unclaimed(task, fields);
}

// ---- plain edits ----

/**
 * Applies an edit. A status change ends any claim (the lease goes; completing stamps completedAt).
 * An owner change on a task held on a live lease moves the lease to the new owner with a new
 * token, so the old holder's heartbeat, done and fail are refused from then on; removing the
 * owner ends the claim (the lease goes). A status edit of a failed task completes it as `done`
 * does or reopens it as `retry` does. `kind` is `completed` when the edit completes the task,
 * `retried` when it reopens a failed one.
 */
export function editTask(
  task: Task,
  edit: TaskEdit,
  at: Moment,
): { task: Task; kind: 'updated' | 'completed' | 'retried' } {
  let next: Task = { ...task };
  if (edit.subject !== undefined) next.subject = edit.subject;
  if (edit.description !== undefined) next.description = edit.description;
  if (edit.activeForm !== undefined) next.activeForm = edit.activeForm;
  if (edit.owner === null) delete next.owner;
  else if (edit.owner !== undefined) next.owner = edit.owner;
  next = mergeMetadata(next, edit.metadata);
  const fields: TasklaneFields = { ...tasklaneFields(task) };
  if (edit.priority !== undefined) fields.priority = edit.priority;
  if (edit.labels !== undefined) fields.labels = edit.labels;
  if (edit.estimate !== undefined) fields.estimate = edit.estimate;
  if (edit.verify === null) delete fields.verify;
  else if (edit.verify !== undefined) fields.verify = edit.verify;
  const lease = fields.lease;
  if (lease !== undefined && edit.owner !== undefined && (edit.owner ?? undefined) !== task.owner) {
    if (edit.owner === null || leaseExpired(lease, at.now)) {
      // No owner, or a claim that already ran out: the claim ends, and the task waits again
      // (assigned to the new owner, if any), instead of staying in_progress with nobody holding it.
      delete fields.lease;
      if (next.status === 'in_progress' && fields.failure === undefined) next.status = 'pending';
    } else {
      // The claim moves with the owner and keeps its token: whoever holds the token (an executor
      // whose agent set its own task's owner, as Claude Code does) still finishes it.
      fields.lease = { ...lease, owner: edit.owner };
    }
  }
  let kind: 'updated' | 'completed' | 'retried' = 'updated';
  // A failed task is stored in_progress with its failure; a status edit must not leave that
  // failure behind, or the task stays failed (pending) or carries it into a reopening (completed).
  // Completing it moves the failure to the history as `done` does; setting it pending reopens it
  // as `retry` does: the failure to the history, and unowned unless the edit names an owner.
  if (fields.failure !== undefined && (edit.status === 'completed' || edit.status === 'pending')) {
    fields.failures = keepRecent([...(fields.failures ?? []), fields.failure]);
    delete fields.failure;
    if (edit.status === 'pending') {
      if (edit.owner === undefined) delete next.owner;
      kind = 'retried';
    }
  }
  if (edit.status !== undefined && edit.status !== task.status) {
    next.status = edit.status;
    delete fields.lease;
    if (edit.status === 'completed') {
      fields.completedAt = at.now.toISOString();
      kind = 'completed';
    } else {
      delete fields.completedAt;
    }
  }
  return { task: withTasklaneFields(next, fields), kind };
}

// ---- restore ----

/**
 * A deleted task's last state as `restore` brings it back, never holding a claim: its lease
 * cannot be renewed by a holder that saw the task go, so a task held on one comes back released
 * (pending and unowned, as `release` leaves it) instead of in_progress on a lease nobody has,
 * which would never expire. A failure is kept (the task comes back failed); an in_progress task
 * that had no lease (Claude Code's own way of taking a task) comes back as it was.
 */
export function restoredTask(snapshot: Task, at: Moment): Task {
  const fields: TasklaneFields = { ...tasklaneFields(snapshot), updatedAt: at.now.toISOString() };
  const held = fields.lease !== undefined && snapshot.status === 'in_progress' && fields.failure === undefined;
  delete fields.lease;
  return held ? unclaimed(snapshot, fields) : withTasklaneFields(snapshot, fields);
}

// ---- who holds a claim ----

/** Throws NOT_OWNER unless `holder` may move the task: its owner and token match, or nobody holds a live lease. */
export function checkHolder(task: Task, holder: Holder, now: Date): void {
  const lease = tasklaneFields(task).lease;
  if (holder.owner !== undefined && task.owner !== holder.owner) {
    const who = task.owner === undefined ? 'nobody' : JSON.stringify(task.owner);
    throw new TasklaneError(
      'NOT_OWNER',
      task.status === 'completed'
        ? `task ${task.id} is completed (its owner: ${who}); ${JSON.stringify(holder.owner)} does not hold it`
        : `task ${task.id} is held by ${who}, not ${JSON.stringify(holder.owner)}`,
      { task: task.id },
    );
  }
  if (holder.token !== undefined && lease?.token !== holder.token) {
    throw new TasklaneError(
      'NOT_OWNER',
      `task ${task.id}: the claim token does not match (the lease was lost or taken over)`,
      { task: task.id },
    );
  }
  if (holder.owner === undefined && holder.token === undefined && lease !== undefined && !leaseExpired(lease, now)) {
    throw new TasklaneError(
      'NOT_OWNER',
      `task ${task.id} is claimed by ${JSON.stringify(lease.owner)} until ${lease.expiresAt}; pass its owner to change it`,
      { task: task.id },
    );
  }
}

function requireIdentity(task: Task, holder: Holder): void {
  if (holder.owner === undefined && holder.token === undefined) {
    throw new TasklaneError('INVALID_INPUT', `task ${task.id}: give the owner (or claim token) that holds it`, {
      task: task.id,
      field: 'owner',
    });
  }
}

function newLease(owner: string, token: string, now: Date, leaseMs: number): Lease {
  return {
    owner,
    token,
    expiresAt: new Date(now.getTime() + leaseMs).toISOString(),
    heartbeatAt: now.toISOString(),
  };
}

function mustToken(at: Moment): string {
  if (at.token === undefined) throw new Error('a transition that starts or moves a claim needs a token');
  return at.token;
}

/** Pending, unowned, no lease. */
function unclaimed(task: Task, fields: TasklaneFields): Task {
  const rest = { ...fields };
  delete rest.lease;
  const { owner: _owner, ...task_ } = task;
  return withTasklaneFields({ ...task_, status: 'pending' }, rest);
}

/**
 * The most recent failures, at most FAILURE_HISTORY_LIMIT of them and FAILURE_HISTORY_BYTES of
 * reasons in all: each reason may be up to the text limit, and a history of large ones must never
 * push the task past its stored size, or the holder could no longer record the next failure.
 */
function keepRecent(failures: Failure[]): Failure[] {
  const kept: Failure[] = [];
  let bytes = 0;
  for (let i = failures.length - 1; i >= 0 && kept.length < FAILURE_HISTORY_LIMIT; i--) {
    const failure = failures[i] as Failure;
    bytes += utf8Length(failure.reason);
    if (bytes > FAILURE_HISTORY_BYTES && kept.length > 0) break;
    kept.unshift(failure);
  }
  return kept;
}

/** UTF-8 length without Buffer (the model stays free of Node APIs). */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00) {
      n += 4; // a surrogate pair
      i++;
    } else n += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return n;
}

/** Claude Code's metadata merge: key by key, null deletes. */
function mergeMetadata(task: Task, patch: Record<string, unknown> | undefined): Task {
  if (patch === undefined) return task;
  const merged: Record<string, unknown> = { ...(task.metadata ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  // Each patch is within the limit; repeated patches must not grow the stored task past it.
  checkMergedMetadata(task.id, merged, task.metadata);
  return { ...task, metadata: merged };
}
