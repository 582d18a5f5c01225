import { TasklaneError } from './errors.js';
import {
  checkEstimate,
  checkLabels,
  checkMetadata,
  checkOwner,
  checkPriority,
  checkSubject,
  checkText,
  checkVerify,
} from './limits.js';
import { revisionOf } from './revision.js';
import type { Task } from './task.js';

// What every store checks of a caller's input before it reads or writes anything: one place, so
// the file store and the PostgreSQL store refuse the same input with the same words.

/** The fields a new task may be given (the store's CreateInput), checked against the limits. */
export function checkNewTask(input: {
  subject: unknown;
  description?: unknown;
  activeForm?: unknown;
  owner?: unknown;
  priority?: unknown;
  labels?: unknown;
  estimate?: unknown;
  verify?: unknown;
  metadata?: unknown;
}): void {
  checkSubject(input.subject);
  checkText('description', input.description);
  checkText('activeForm', input.activeForm);
  if (input.owner !== undefined) checkOwner(input.owner);
  checkPriority(input.priority);
  checkLabels(input.labels);
  checkEstimate(input.estimate);
  checkVerify(input.verify);
  checkMetadata(input.metadata);
}

/** The fields an update may change (the store's UpdateInput); null removes owner and verify. */
export function checkTaskPatch(
  taskId: string,
  patch: {
    subject?: unknown;
    description?: unknown;
    activeForm?: unknown;
    status?: unknown;
    owner?: unknown;
    priority?: unknown;
    labels?: unknown;
    estimate?: unknown;
    verify?: unknown;
    metadata?: unknown;
  },
): void {
  if (patch.subject !== undefined) checkSubject(patch.subject);
  checkText('description', patch.description);
  checkText('activeForm', patch.activeForm);
  if (patch.owner !== undefined && patch.owner !== null) checkOwner(patch.owner);
  if (patch.status !== undefined && !['pending', 'in_progress', 'completed'].includes(patch.status as string)) {
    throw new TasklaneError(
      'INVALID_INPUT',
      `status must be one of pending, in_progress, completed; got ${JSON.stringify(patch.status)}`,
      { field: 'status', task: taskId },
    );
  }
  checkPriority(patch.priority);
  checkLabels(patch.labels);
  checkEstimate(patch.estimate);
  if (patch.verify !== null) checkVerify(patch.verify);
  if (patch.metadata !== undefined) checkMetadata(patch.metadata);
}

/** Compare-and-swap: CONFLICT unless the task is still at the revision the caller read. */
export function checkExpectedRevision(task: Task, expectedRev: number | undefined, list: string): void {
  if (expectedRev !== undefined && revisionOf(task) !== expectedRev) {
    throw new TasklaneError(
      'CONFLICT',
      `task ${task.id} changed: it is at revision ${revisionOf(task)}, the update expected ${expectedRev}`,
      { task: task.id, list },
    );
  }
}
