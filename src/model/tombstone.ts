import type { Task } from './task.js';
import { tasklaneFields } from './task.js';

// What a deleted task leaves in a project list (one kept in git): a small file in its place, so
// that a deletion in one clone and an edit of the same task in another reach git's merge as two
// changes of one file, which the merge driver settles (the deletion wins), instead of a
// modify/delete conflict that git stops on and no driver is ever asked about. It is not a valid
// task for Claude Code's schema (no status, no blocks), so Claude Code skips it as absent, and so
// does every Tasklane read. Lists outside a project (Claude Code's own root) delete the file, as
// Claude Code does.

export interface Tombstone {
  id: string;
  /** Always true: what tells a tombstone from a task. */
  deleted: true;
  deletedAt: string;
  /** The deleted task's subject, for whoever reads the file or its diff. */
  subject: string;
}

/** Whether a parsed task file is a tombstone. */
export function isTombstone(value: unknown): value is Tombstone {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v.deleted === true && typeof v.id === 'string' && !('status' in v) && !('blocks' in v);
}

export function tombstoneOf(task: Task, at: Date): Tombstone {
  return { id: task.id, deleted: true, deletedAt: at.toISOString(), subject: task.subject };
}

/** Its bytes, in the task files' format (two-space indent, no trailing newline). */
export function serializeTombstone(t: Tombstone): string {
  return JSON.stringify({ id: t.id, deleted: true, deletedAt: t.deletedAt, subject: t.subject }, null, 2);
}

/** When the task was last changed, as Tasklane recorded it ('' when unknown): the later change wins a merge. */
export function changedAt(value: Task | Tombstone): string {
  if (isTombstone(value)) return value.deletedAt;
  const at = tasklaneFields(value).updatedAt;
  return typeof at === 'string' ? at : '';
}
