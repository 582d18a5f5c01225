import { isTasklaneError } from '../model/errors.js';
import { unreadableStandIn } from '../model/graph.js';
import type { Task } from '../model/task.js';
import { type TaskJson, taskJson } from '../model/task-json.js';
import type { TaskStore } from './types.js';

// One task shaped for a surface without scanning the whole list: the task and its blockers.

/**
 * The task with its blockers, enough to derive its state without scanning the whole list, judged
 * as the store judges a full list: a missing blocker does not block, an unreadable one does.
 */
export async function withBlockers(store: TaskStore, task: Task): Promise<Map<string, Task>> {
  const byId = new Map<string, Task>([[task.id, task]]);
  for (const id of task.blockedBy) {
    try {
      byId.set(id, await store.get(id));
    } catch (err) {
      if (isTasklaneError(err, 'INVALID_TASK')) byId.set(id, unreadableStandIn(id));
      else if (!isTasklaneError(err, 'NOT_FOUND')) throw err;
    }
  }
  return byId;
}

/** `{"task": ...}` for surfaces that change or show one task. */
export async function singleTaskJson(store: TaskStore, task: Task): Promise<{ task: TaskJson }> {
  return { task: taskJson(task, await withBlockers(store, task)) };
}
