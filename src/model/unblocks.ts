import { stateOf, type TaskIndex } from './graph.js';
import type { Task } from './task.js';

/** The tasks that `task` completing would make startable (ready, or assigned to someone), by id. */
export function unblockedBy(task: Task, byId: TaskIndex, now: Date = new Date()): string[] {
  const after = new Map(byId);
  after.set(task.id, { ...task, status: 'completed' });
  const out: string[] = [];
  for (const id of task.blocks) {
    const t = byId.get(id);
    if (t === undefined || stateOf(t, byId, now) !== 'blocked') continue;
    const next = stateOf(t, after, now);
    if (next === 'ready' || next === 'assigned' || next === 'expired') out.push(id);
  }
  return out;
}
