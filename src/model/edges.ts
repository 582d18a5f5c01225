import { compareIds } from './ids.js';
import type { Task } from './task.js';

// Dependency edges as the files hold them. Claude Code keeps each edge on both tasks (A.blocks has
// B exactly when B.blockedBy has A); a crash between the two writes, or another program, can leave
// only one side. Cycle checks and `doctor` take an edge present on either side as an edge, so a
// half-written edge can never let a real cycle in. Readiness reads the blocked task's blockedBy
// alone, as Claude Code does (see readiness in docs/cli.md, "tasklane doctor").

type Index = ReadonlyMap<string, Task>;

/** Successors of every task: `blocks`, plus every task whose `blockedBy` names it. Ids may be missing tasks. */
export function dependencyEdges(byId: Index): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (from: string, to: string): void => {
    let set = out.get(from);
    if (set === undefined) {
      set = new Set();
      out.set(from, set);
    }
    set.add(to);
  };
  for (const t of byId.values()) {
    for (const b of t.blocks) add(t.id, b);
    for (const b of t.blockedBy) add(b, t.id);
  }
  return out;
}

/** An edge `blocker blocks blocked` written on one task only. */
export interface OneSidedEdge {
  blocker: string;
  blocked: string;
  /** The task whose file holds the edge. */
  heldBy: 'blocker' | 'blocked';
}

/** Edges between two existing tasks that only one of them records. */
export function oneSidedEdges(byId: Index): OneSidedEdge[] {
  const out: OneSidedEdge[] = [];
  for (const t of byId.values()) {
    for (const b of t.blocks) {
      const other = byId.get(b);
      if (other !== undefined && !other.blockedBy.includes(t.id))
        out.push({ blocker: t.id, blocked: b, heldBy: 'blocker' });
    }
    for (const b of t.blockedBy) {
      const other = byId.get(b);
      if (other !== undefined && !other.blocks.includes(t.id))
        out.push({ blocker: b, blocked: t.id, heldBy: 'blocked' });
    }
  }
  return out.sort((x, y) => compareIds(x.blocker, y.blocker) || compareIds(x.blocked, y.blocked));
}

/** A task's reference to a task that does not exist. */
export interface MissingReference {
  task: string;
  field: 'blocks' | 'blockedBy';
  missing: string;
}

/** References to absent tasks. `exists` may say more than byId (a file that exists but is invalid). */
export function missingReferences(
  byId: Index,
  exists: (id: string) => boolean = (id) => byId.has(id),
): MissingReference[] {
  const out: MissingReference[] = [];
  for (const t of [...byId.values()].sort((a, b) => compareIds(a.id, b.id))) {
    for (const field of ['blocks', 'blockedBy'] as const) {
      for (const id of t[field]) if (!exists(id)) out.push({ task: t.id, field, missing: id });
    }
  }
  return out;
}

/**
 * Every cycle of the graph (edges on either side), one path per strongly connected component,
 * first id repeated at the end, e.g. ["2","5","2"]. Iterative (Tarjan), so a long chain cannot
 * overflow the stack.
 */
export function findCycles(byId: Index): string[][] {
  const edges = dependencyEdges(byId);
  const succ = (id: string): string[] => [...(edges.get(id) ?? [])].filter((x) => byId.has(x)).sort(compareIds);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const root of [...byId.keys()].sort(compareIds)) {
    if (index.has(root)) continue;
    const work: { id: string; next: string[]; i: number }[] = [];
    const enter = (id: string): void => {
      index.set(id, counter);
      low.set(id, counter);
      counter++;
      stack.push(id);
      onStack.add(id);
      work.push({ id, next: succ(id), i: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { id: string; next: string[]; i: number };
      if (frame.i < frame.next.length) {
        const w = frame.next[frame.i++] as string;
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(frame.id, Math.min(low.get(frame.id) as number, index.get(w) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.id, Math.min(low.get(parent.id) as number, low.get(frame.id) as number));
      if (low.get(frame.id) !== index.get(frame.id)) continue;
      const component: string[] = [];
      for (;;) {
        const x = stack.pop() as string;
        onStack.delete(x);
        component.push(x);
        if (x === frame.id) break;
      }
      const selfLoop = component.length === 1 && (edges.get(frame.id)?.has(frame.id) ?? false);
      if (component.length > 1 || selfLoop) cycles.push(cyclePath(component, edges));
    }
  }
  return cycles.sort((a, b) => compareIds(a[0] as string, b[0] as string));
}

/** A cycle through the smallest id of a strongly connected component, by breadth-first search inside it. */
function cyclePath(component: string[], edges: Map<string, Set<string>>): string[] {
  const members = new Set(component);
  const start = [...component].sort(compareIds)[0] as string;
  if (edges.get(start)?.has(start)) return [start, start];
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    for (const next of [...(edges.get(id) ?? [])].sort(compareIds)) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [id];
        for (let at = id; at !== start; ) {
          at = parent.get(at) as string;
          path.push(at);
        }
        return [...path.reverse(), start];
      }
      if (parent.has(next)) continue;
      parent.set(next, id);
      queue.push(next);
    }
  }
  return [start, start]; // unreachable for a strongly connected component
}
