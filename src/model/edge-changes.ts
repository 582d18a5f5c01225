import { TasklaneError } from './errors.js';
import { assertTaskId } from './ids.js';
import type { Task } from './task.js';

// An update's dependency edits (addBlocks, addBlockedBy, removeBlocks, removeBlockedBy), and how
// they change the graph: one rule for every store.

export type EdgeField = 'addBlocks' | 'addBlockedBy' | 'removeBlocks' | 'removeBlockedBy';

export interface EdgeChange {
  field: EdgeField;
  other: string;
}

/** The edge changes of an update, ids checked and each named once; a task never blocks itself. */
export function edgeChanges(taskId: string, patch: Partial<Record<EdgeField, unknown>>): EdgeChange[] {
  const out: EdgeChange[] = [];
  for (const field of ['removeBlocks', 'removeBlockedBy', 'addBlocks', 'addBlockedBy'] as const) {
    const ids = patch[field];
    if (ids === undefined) continue;
    if (!Array.isArray(ids)) {
      throw new TasklaneError('INVALID_INPUT', `${field} must be an array of task ids`, { field, task: taskId });
    }
    for (const other of new Set(ids.map((x) => assertTaskId(x, field)))) {
      if (other === taskId && field.startsWith('add')) {
        throw new TasklaneError('CYCLE', `task ${taskId} cannot block itself (${field} names its own id)`, {
          task: taskId,
          field,
          cycle: [taskId, taskId],
        });
      }
      out.push({ field, other });
    }
  }
  return out;
}

/**
 * A copy of `byId` with the edge changes applied on both sides (removals first, then additions).
 * A task absent from `byId` is left absent, unless `standIns` (a graph of edges only, as the
 * PostgreSQL store's cycle check holds) gives an added edge an empty pending task to stand on.
 */
export function applyEdges(
  byId: ReadonlyMap<string, Task>,
  taskId: string,
  edges: EdgeChange[],
  opts: { standIns?: boolean } = {},
): Map<string, Task> {
  const out = new Map(byId);
  const edit = (id: string, field: 'blocks' | 'blockedBy', other: string, add: boolean): void => {
    const t =
      out.get(id) ??
      (add && opts.standIns === true
        ? { id, subject: '', description: '', status: 'pending' as const, blocks: [], blockedBy: [] }
        : undefined);
    if (t === undefined) return;
    const has = t[field].includes(other);
    if (add && !has) out.set(id, { ...t, [field]: [...t[field], other] });
    if (!add && has) out.set(id, { ...t, [field]: t[field].filter((x) => x !== other) });
  };
  for (const { field, other } of edges) {
    const add = field.startsWith('add');
    // "taskId blocks other" for *Blocks, "other blocks taskId" for *BlockedBy.
    const [blocker, blocked] = field.endsWith('BlockedBy') ? [other, taskId] : [taskId, other];
    edit(blocker, 'blocks', blocked, add);
    edit(blocked, 'blockedBy', blocker, add);
  }
  return out;
}
