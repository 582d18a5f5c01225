import dagre from '@dagrejs/dagre';
import {
  criticalPath,
  criticalPaths,
  dependencyEdges,
  stateOf,
  type TaskIndex,
  type TaskState,
} from '../model/index.js';

// The dependency graph laid out on the server (dagre), so the browser only draws boxes and lines.
// Edges run blocker -> blocked, left to right. The layout depends only on the ids and edges, so
// the last one per list is kept and reused while only states change.

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 56;

export interface GraphNode {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  state: TaskState;
  critical: boolean;
}

export interface GraphEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
  critical: boolean;
}

export interface GraphLayout {
  nodes: GraphNode[];
  edges: GraphEdge[];
  width: number;
  height: number;
  criticalPath: string[];
}

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
      geometry = place(key, ids, edges);
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
