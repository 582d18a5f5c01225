import { stateOf, type TaskIndex } from './graph.js';
import { orderTask, type Task, type TaskState } from './task.js';

// The documented JSON shape of a task on every surface (CLI --json, MCP, the HTTP API and its
// stream): the task exactly as stored, in Claude Code's key order, plus its derived `state`.

export type TaskJson = Task & { state: TaskState };

/** The task as stored plus `state`, judged against `byId` (which holds at least its blockers). */
export function taskJson(task: Task, byId: TaskIndex, now?: Date): TaskJson {
  return { ...orderTask(task), state: stateOf(task, byId, now) };
}
