import type { Task, TaskState } from '../model/task.js';

// The shapes of the board's HTTP API as the browser receives them (docs/board.md has the contract).

export type { Task, TaskState };

/** A task as the API sends it: the stored task plus its derived state. */
export type TaskJson = Task & { state: TaskState };

export interface ListSummary {
  id: string;
  total: number;
  byState: Record<TaskState, number>;
  lastChange?: string;
}

export interface Info {
  version: string;
  store: { location: string };
  list: string;
}

export interface TaskDetail {
  task: TaskJson;
  /** Ids that become ready when this task completes. */
  unblocks: string[];
}

export interface JournalEntry {
  seq: number;
  at: string;
  kind: string;
  taskId: string;
  actor?: string;
  pid?: number;
  task?: Task;
  fields?: Record<string, unknown>;
}

export interface HistoryPage {
  entries: JournalEntry[];
  next?: number;
}

export interface LogTail {
  text: string;
  size: number;
  truncated: boolean;
}

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

export interface Snapshot {
  list: string;
  seq: number;
  tasks: TaskJson[];
}

export interface ChangeEvent {
  kind: string;
  list: string;
  taskId: string;
  rev: number;
  seq: number;
  at: string;
  task: TaskJson;
}

/** Where the board can drop a card: the `to` of POST .../move. */
export type MoveTarget = 'pending' | 'in_progress' | 'completed' | 'failed';

export interface TaskPatch {
  subject?: string;
  description?: string;
  priority?: number;
  labels?: string[];
  addBlockedBy?: string[];
  removeBlockedBy?: string[];
  ifRev?: number;
}

export interface NewTask {
  subject: string;
  description?: string;
  priority?: number;
  labels?: string[];
  blockedBy?: string[];
}

/** GET .../run/live: the run `tasklane run --board` is driving, task by task. */
export interface LiveTask {
  taskId: string;
  subject?: string;
  owner?: string;
  attempt?: number;
  startedAt?: number;
  running: boolean;
  activity?: { line: string; at: number };
  finish?: { outcome: string; durationMs: number; reason?: string; at: number; costUsd?: number };
}

export interface LiveRun {
  list: string;
  active: boolean;
  stopping?: string;
  tasks: LiveTask[];
}

/** GET .../run: the last run's aggregated result (`tasklane results --json`). */
export interface LastRun {
  list: string;
  ok: boolean;
  durationMs: number;
  counts: {
    total: number;
    completed: number;
    failed: number;
    blocked: number;
    cancelled: number;
    in_progress: number;
    not_run: number;
  };
  stopped?: string;
  totals: { inputTokens?: number; outputTokens?: number; costUsd?: number };
  tasks: { id: string; subject: string; status: string; result?: string; failure?: string; durationMs?: number }[];
}
