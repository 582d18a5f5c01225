import { TasklaneError } from './errors.js';
import { stateOf, type TaskIndex } from './graph.js';
import { revisionOf } from './revision.js';
import { leaseExpired, type Task, tasklaneFields } from './task.js';
import { claimRefusal, type Holder } from './transitions.js';

// A card dragged between the board's columns, as one of the store's existing transitions. The
// rule: a task another holder has claimed (a live lease) moves only with an explicit override,
// and then as its holder (by the claim's token), so the store's own holder check still guards it.

export const MOVE_TARGETS = ['pending', 'in_progress', 'completed', 'failed'] as const;
export type MoveTarget = (typeof MOVE_TARGETS)[number];

export interface MoveRequest {
  to: MoveTarget;
  /** Who moves it (the board's owner name): its own claims need no override. */
  actor: string;
  /** Move a task someone else holds on a live lease. */
  override?: boolean;
  /** Why, for a move to failed. */
  reason?: string;
}

/** The store call a move makes; `none` when the task is already there. */
export type MovePlan =
  | { op: 'none' }
  | { op: 'complete'; holder: Holder }
  | { op: 'fail'; holder: Holder; reason: string }
  | { op: 'release'; holder: Holder }
  | { op: 'retry' }
  /** A claim for the actor: only for a task whose lease ran out (an edit would not revive it). */
  | { op: 'claim'; owner: string }
  /** A plain edit, made only if the task is still at `expectedRev` (compare-and-swap). */
  | { op: 'edit'; status: 'pending' | 'in_progress'; owner: string | null; expectedRev: number };

export const DEFAULT_MOVE_REASON = 'moved to failed on the board';

/**
 * Which transition a move to `req.to` is. Throws NOT_CLAIMABLE when another holder has the task
 * on a live lease and no override was given, or when the task cannot start (blocked, failed,
 * completed). `byId` holds at least the task's blockers.
 */
export function planMove(task: Task, byId: TaskIndex, req: MoveRequest, now: Date): MovePlan {
  const state = stateOf(task, byId, now);
  const lease = tasklaneFields(task).lease;
  const live = lease !== undefined && !leaseExpired(lease, now) && task.status === 'in_progress';
  const already =
    (req.to === 'completed' && state === 'completed') ||
    (req.to === 'failed' && state === 'failed') ||
    (req.to === 'in_progress' && state === 'in_progress') ||
    (req.to === 'pending' && task.status === 'pending' && state !== 'failed');
  if (already) return { op: 'none' };

  // Whose name the transition is made in: the holder's token on an override, the actor on its own claim.
  let holder: Holder = {};
  if (live && lease !== undefined) {
    if (lease.owner === req.actor && task.owner === req.actor) holder = { owner: req.actor };
    else if (req.override === true) holder = { token: lease.token };
    else {
      throw new TasklaneError(
        'NOT_CLAIMABLE',
        `task ${task.id} is held by ${JSON.stringify(lease.owner)} until ${lease.expiresAt}; move it with override to take it from them`,
        { task: task.id },
      );
    }
  }

  switch (req.to) {
    case 'completed':
      return { op: 'complete', holder };
    case 'failed':
      return { op: 'fail', holder, reason: req.reason ?? DEFAULT_MOVE_REASON };
    case 'pending':
      if (live) return { op: 'release', holder };
      if (state === 'failed' || state === 'expired') return { op: 'retry' };
      // Completed, or in_progress without a lease (Claude Code's own way of taking a task): back
      // to waiting for anyone, as a release leaves it (pending and unowned).
      return { op: 'edit', status: 'pending', owner: null, expectedRev: revisionOf(task) };
    case 'in_progress': {
      // Starting work is a plain edit, not a claim: the board sends no heartbeats, so a lease would
      // run out in a minute and hand the task to any worker. Claude Code marks its work this way.
      const why = claimRefusal(task, byId, now, task.owner ?? req.actor);
      if (why !== undefined && state !== 'assigned') {
        throw new TasklaneError('NOT_CLAIMABLE', `task ${task.id} cannot start: ${why}`, { task: task.id });
      }
      if (state === 'expired') return { op: 'claim', owner: req.actor };
      const owner = state === 'assigned' && task.owner !== undefined ? task.owner : req.actor;
      return { op: 'edit', status: 'in_progress', owner, expectedRev: revisionOf(task) };
    }
  }
}
