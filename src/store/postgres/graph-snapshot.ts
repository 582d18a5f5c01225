import { type Task, TasklaneError } from '../../model/index.js';
import type { UpdateInput } from '../types.js';
import type { Queryable } from './db.js';

// The list's dependency graph as the model's cycle check reads it, from the edges table alone:
// a stand-in task per id with its blocks and blockedBy (the model's cycleFor looks at nothing else).
// Read under the list's edge lock (edgeLockKey), so no other edge can be added meanwhile.

/** The advisory-lock key (two int4s) that serializes edge additions in `list`: a cycle check and its insert are one step. */
export function edgeLockKey(list: string): [number, number] {
  return [0x7a5c1a2e | 0, hash32(list)];
}

export async function lockEdges(q: Queryable, list: string): Promise<void> {
  const [a, b] = edgeLockKey(list);
  await q.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [a, b]);
}

/** Stand-ins for every task with an edge, enough for cycleFor and applyEdges. */
export async function graphOf(q: Queryable, list: string): Promise<Map<string, Task>> {
  const rows = await q.query<{ blocker: string; blocked: string }>(
    'SELECT blocker, blocked FROM tasklane_edges WHERE list = $1',
    [list],
  );
  const byId = new Map<string, Task>();
  const stub = (id: string): Task => {
    let t = byId.get(id);
    if (t === undefined) {
      t = { id, subject: '', description: '', status: 'pending', blocks: [], blockedBy: [] };
      byId.set(id, t);
    }
    return t;
  };
  for (const r of rows) {
    stub(r.blocker).blocks.push(r.blocked);
    stub(r.blocked).blockedBy.push(r.blocker);
  }
  return byId;
}

export type EdgeField = 'addBlocks' | 'addBlockedBy' | 'removeBlocks' | 'removeBlockedBy';
export interface EdgeChange {
  field: EdgeField;
  other: string;
}

/** The edge changes of an update, ids checked; a task never blocks itself. (As the file store reads them.) */
export function edgeChanges(taskId: string, patch: UpdateInput, assertId: (id: unknown, field: string) => string) {
  const out: EdgeChange[] = [];
  for (const field of ['removeBlocks', 'removeBlockedBy', 'addBlocks', 'addBlockedBy'] as const) {
    const ids = patch[field];
    if (ids === undefined) continue;
    if (!Array.isArray(ids)) {
      throw new TasklaneError('INVALID_INPUT', `${field} must be an array of task ids`, { field, task: taskId });
    }
    for (const other of [...new Set(ids.map((x) => assertId(x, field)))]) {
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

/** A copy of `byId` with the edge changes applied on both sides (removals first, then additions). */
export function applyEdges(byId: ReadonlyMap<string, Task>, taskId: string, edges: EdgeChange[]): Map<string, Task> {
  const out = new Map(byId);
  const edit = (id: string, field: 'blocks' | 'blockedBy', other: string, add: boolean): void => {
    const t =
      out.get(id) ??
      (add ? { id, subject: '', description: '', status: 'pending', blocks: [], blockedBy: [] } : undefined);
    if (t === undefined) return;
    const has = t[field].includes(other);
    if (add && !has) out.set(id, { ...t, [field]: [...t[field], other] });
    if (!add && has) out.set(id, { ...t, [field]: t[field].filter((x) => x !== other) });
  };
  for (const { field, other } of edges) {
    const add = field.startsWith('add');
    const [blocker, blocked] = field.endsWith('BlockedBy') ? [other, taskId] : [taskId, other];
    edit(blocker, 'blocks', blocked, add);
    edit(blocked, 'blockedBy', blocker, add);
  }
  return out;
}

/** FNV-1a, as a signed int4 (an advisory lock key). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
