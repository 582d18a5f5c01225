import type { TaskState } from '../model/task.js';
import type { TaskJson } from '../model/task-json.js';
import type { ChangeKind } from '../store/types.js';

// The shapes the board's API and stream send, in one file that imports only the model's and the
// store's types, so the web app (src/board, in the browser) type-checks against the server's own
// declarations without loading any of the server.

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

export interface ChangeEventData {
  kind: ChangeKind;
  list: string;
  taskId: string;
  rev: number;
  seq: number;
  at: string;
  task: TaskJson;
  /** Tasks this one blocks, with their states now (a completion can make them ready). */
  dependents: TaskJson[];
}

/** The latest of one task's run, as GET .../run/live gives it. */
export interface LiveTask {
  taskId: string;
  subject?: string;
  owner?: string;
  attempt?: number;
  /** The agent's log file (the executor's own path). */
  log?: string;
  pid?: number;
  startedAt?: number;
  running: boolean;
  activity?: { line: string; at: number };
  finish?: {
    outcome: 'completed' | 'failed' | 'cancelled' | 'lost';
    durationMs: number;
    reason?: string;
    at: number;
    costUsd?: number;
  };
}

export interface LiveRun {
  list: string;
  /** Until the executor says it is stopping (or the source ends). */
  active: boolean;
  stopping?: string;
  tasks: LiveTask[];
}
