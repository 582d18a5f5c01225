import { compareIds } from '../model/ids.js';
import { tasklaneFields } from '../model/task.js';
import type { MoveTarget, TaskJson, TaskState } from './types.js';

// The board's five columns and which derived states each holds.
//
// The model has seven states (src/model/graph.ts stateOf) and the board five columns:
// - `assigned` (pending, unblocked, with an owner, not yet started) goes in Ready: nothing stops
//   it but its owner picking it up; the card says whose it is.
// - `expired` (in_progress on a lease that ran out: its holder is presumed gone) goes in Ready
//   too: the model counts it ready (isReady, `tasklane ready` lists it) because any claimer may
//   take it now. The card says "lease expired" so a stuck run is not mistaken for fresh work.

export interface ColumnSpec {
  key: string;
  title: string;
  states: readonly TaskState[];
  /** What dropping a card here asks the server for; undefined: not a drop target (a task is blocked by its blockers, not by a drag). */
  drop: MoveTarget | undefined;
  /** Order within the column. */
  compare: (a: TaskJson, b: TaskJson) => number;
}

const byPriorityThenId = (a: TaskJson, b: TaskJson): number => priority(b) - priority(a) || compareIds(a.id, b.id);

/** Most recently finished first: a finished column is read from the top for what just happened. */
const byLatestThenId = (a: TaskJson, b: TaskJson): number =>
  finishedAt(b).localeCompare(finishedAt(a)) || compareIds(a.id, b.id);

export const COLUMNS: readonly ColumnSpec[] = [
  {
    key: 'ready',
    title: 'Ready',
    states: ['ready', 'assigned', 'expired'],
    drop: 'pending',
    compare: byPriorityThenId,
  },
  { key: 'blocked', title: 'Blocked', states: ['blocked'], drop: undefined, compare: byPriorityThenId },
  { key: 'in_progress', title: 'In progress', states: ['in_progress'], drop: 'in_progress', compare: byPriorityThenId },
  { key: 'completed', title: 'Completed', states: ['completed'], drop: 'completed', compare: byLatestThenId },
  { key: 'failed', title: 'Failed', states: ['failed'], drop: 'failed', compare: byLatestThenId },
];

const columnOfState = new Map<TaskState, ColumnSpec>(COLUMNS.flatMap((c) => c.states.map((s) => [s, c] as const)));

export function columnFor(state: TaskState): ColumnSpec {
  return columnOfState.get(state) ?? (COLUMNS[0] as ColumnSpec);
}

function priority(t: TaskJson): number {
  const p = tasklaneFields(t).priority;
  return typeof p === 'number' && Number.isFinite(p) ? p : 0;
}

function finishedAt(t: TaskJson): string {
  const f = tasklaneFields(t);
  return f.completedAt ?? f.failure?.at ?? f.updatedAt ?? '';
}
