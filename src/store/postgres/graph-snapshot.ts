import type { Task } from '../../model/index.js';
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

/** FNV-1a, as a signed int4 (an advisory lock key). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
