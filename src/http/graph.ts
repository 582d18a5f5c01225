import dagre from '@dagrejs/dagre';
import { criticalPath, criticalPaths, dependencyEdges, stateOf, type TaskIndex } from '../model/index.js';

// The dependency graph laid out on the server (dagre), so the browser only draws boxes and lines.
// Edges run blocker -> blocked, left to right. The layout depends only on the ids and edges, so
// the last one per list is kept and reused while only states change.

import type { GraphEdge, GraphLayout, GraphNode } from './wire.js';

export type { GraphEdge, GraphLayout, GraphNode };

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 56;

interface Geometry {
  key: string;
  nodes: Map<string, { x: number; y: number }>;
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

export class GraphLayouts {
  private readonly cache = new Map<string, Geometry>();

  /** The list's graph: every task (judged against `byId`) except `hidden` ones, laid out. */
  layout(list: string, byId: TaskIndex, hidden: ReadonlySet<string> = new Set()): GraphLayout {
    const ids = [...byId.keys()].filter((id) => !hidden.has(id)).sort();
    const edges: [string, string][] = [];
    for (const [from, tos] of dependencyEdges(byId)) {
      if (hidden.has(from) || !byId.has(from)) continue;
      for (const to of tos) if (byId.has(to) && !hidden.has(to) && to !== from) edges.push([from, to]);
    }
    edges.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
    const key = JSON.stringify([ids, edges]);
    let geometry = this.cache.get(list);
    if (geometry?.key !== key) {
      geometry = layout(key, ids, edges);
      this.cache.set(list, geometry);
    }
    const path = criticalPath(byId, criticalPaths(byId));
    const onPath = new Set(path);
    const criticalEdges = new Set(path.slice(1).map((id, i) => `${path[i]}\u0000${id}`));
    const now = new Date();
    return {
      nodes: ids.map((id) => {
        const at = geometry.nodes.get(id) ?? { x: 0, y: 0 };
        return {
          id,
          x: at.x,
          y: at.y,
          width: NODE_WIDTH,
          height: NODE_HEIGHT,
          state: stateOf(byId.get(id)!, byId, now),
          critical: onPath.has(id),
        };
      }),
      edges: geometry.edges.map((e) => ({ ...e, critical: criticalEdges.has(`${e.from}\u0000${e.to}`) })),
      width: geometry.width,
      height: geometry.height,
      criticalPath: path,
    };
  }
}

/**
 * dagre runs synchronously on the server's only thread, and it is slow: measured here (dagre
 * 3.1.3, a loaded 2-core machine) 0.3 s for 30 tasks, 1.3 s for 100, 4 s for 200, 16 s for 500
 * and over 10 minutes for 5,000, during which no stream or API request is answered. Its cost
 * grows with the tasks plus the dummy nodes it puts on every rank a long edge crosses: up to this
 * many it lays the graph out; above, the layered layout below does, in milliseconds.
 */
export const DAGRE_MAX_NODES = 60;

function layout(key: string, ids: string[], edges: [string, string][]): Geometry {
  const rank = ranks(ids, edges);
  let dummies = 0;
  for (const [from, to] of edges) dummies += Math.max(0, (rank.get(to) ?? 0) - (rank.get(from) ?? 0) - 1);
  return ids.length + dummies <= DAGRE_MAX_NODES ? place(key, ids, edges) : layered(key, ids, edges, rank);
}

/** Each task's column: the longest chain of blockers before it (tasks on a cycle after their placed blockers). */
function ranks(ids: string[], edges: [string, string][]): Map<string, number> {
  const blockers = new Map<string, string[]>(ids.map((id) => [id, []]));
  const blocked = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const [from, to] of edges) {
    blockers.get(to)?.push(from);
    blocked.get(from)?.push(to);
  }
  const waiting = new Map(ids.map((id) => [id, blockers.get(id)?.length ?? 0]));
  const rank = new Map<string, number>();
  const queue = ids.filter((id) => waiting.get(id) === 0);
  for (const id of queue) rank.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    for (const next of blocked.get(id) ?? []) {
      rank.set(next, Math.max(rank.get(next) ?? 0, (rank.get(id) ?? 0) + 1));
      const left = (waiting.get(next) ?? 0) - 1;
      waiting.set(next, left);
      if (left === 0) queue.push(next);
    }
  }
  // Claude Code has no cycle check: a task on a cycle goes one column past its placed blockers.
  for (const id of ids) {
    if (rank.has(id)) continue;
    let r = 0;
    for (const b of blockers.get(id) ?? []) {
      const rb = rank.get(b);
      if (rb !== undefined) r = Math.max(r, rb + 1);
    }
    rank.set(id, r);
  }
  return rank;
}

/** Columns by rank; in each, tasks ordered by where their blockers sit (one sweep); straight edges. */
function layered(key: string, ids: string[], edges: [string, string][], rank: Map<string, number>): Geometry {
  const columns: string[][] = [];
  for (const id of ids) {
    const r = rank.get(id) ?? 0;
    const column = columns[r] ?? [];
    columns[r] = column;
    column.push(id);
  }
  const blockers = new Map<string, string[]>();
  for (const [from, to] of edges) {
    const list = blockers.get(to) ?? [];
    blockers.set(to, list);
    list.push(from);
  }
  const row = new Map<string, number>();
  for (const column of columns) {
    if (column === undefined) continue;
    const weight = new Map<string, number>();
    for (const id of column) {
      const rows = (blockers.get(id) ?? []).map((b) => row.get(b)).filter((r): r is number => r !== undefined);
      weight.set(id, rows.length === 0 ? Number.MAX_SAFE_INTEGER : rows.reduce((a, b) => a + b, 0) / rows.length);
    }
    column.sort((a, b) => (weight.get(a) ?? 0) - (weight.get(b) ?? 0) || compareIds(a, b));
    for (const [i, id] of column.entries()) row.set(id, i);
  }
  const margin = 16;
  const colStep = NODE_WIDTH + 64;
  const rowStep = NODE_HEIGHT + 24;
  const nodes = new Map<string, { x: number; y: number }>();
  for (const id of ids) {
    nodes.set(id, {
      x: margin + (rank.get(id) ?? 0) * colStep + NODE_WIDTH / 2,
      y: margin + (row.get(id) ?? 0) * rowStep + NODE_HEIGHT / 2,
    });
  }
  const out = edges.map(([from, to]) => {
    const a = nodes.get(from) ?? { x: 0, y: 0 };
    const b = nodes.get(to) ?? { x: 0, y: 0 };
    return {
      from,
      to,
      points: [
        { x: a.x + NODE_WIDTH / 2, y: a.y },
        { x: b.x - NODE_WIDTH / 2, y: b.y },
      ],
    };
  });
  const tallest = Math.max(0, ...columns.map((c) => c?.length ?? 0));
  return {
    key,
    nodes,
    edges: out,
    width: 2 * margin + columns.length * colStep - (columns.length > 0 ? 64 : 0),
    height: 2 * margin + tallest * rowStep - (tallest > 0 ? 24 : 0),
  };
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function place(key: string, ids: string[], edges: [string, string][]): Geometry {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 64, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const id of ids) g.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const [from, to] of edges) g.setEdge(from, to);
  dagre.layout(g);
  const nodes = new Map<string, { x: number; y: number }>();
  for (const id of ids) {
    const n = g.node(id) as { x: number; y: number };
    nodes.set(id, { x: round(n.x), y: round(n.y) });
  }
  const out = edges.map(([from, to]) => {
    const e = g.edge(from, to) as { points?: { x: number; y: number }[] };
    return { from, to, points: (e.points ?? []).map((p) => ({ x: round(p.x), y: round(p.y) })) };
  });
  const label = g.graph() as { width?: number; height?: number };
  return { key, nodes, edges: out, width: round(label.width ?? 0), height: round(label.height ?? 0) };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
