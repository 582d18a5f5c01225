import type { ChangeEventData, GraphLayout, LiveRun } from '../http/wire.js';
import type { Task, TaskState } from '../model/task.js';
import type { TaskJson } from '../model/task-json.js';
import type { JournalEntry, ListSummary } from '../store/types.js';

// The shapes of the board's HTTP API as the browser receives them (docs/board.md has the contract).
// Those the server declares are its own types, imported for their shape only (type imports, which
// the bundle erases: the browser loads none of the server); the rest are the API's request bodies
// and answers as the web app uses them.

export type {
  ChangeEventData as ChangeEvent,
  GraphLayout,
  JournalEntry,
  ListSummary,
  LiveRun,
  Task,
  TaskJson,
  TaskState,
};
export type GraphNode = GraphLayout['nodes'][number];
export type GraphEdge = GraphLayout['edges'][number];
export type LiveTask = LiveRun['tasks'][number];

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

export interface HistoryPage {
  entries: JournalEntry[];
  next?: number;
}

export interface LogTail {
  text: string;
  size: number;
  truncated: boolean;
}

export interface Snapshot {
  list: string;
  seq: number;
  tasks: TaskJson[];
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
