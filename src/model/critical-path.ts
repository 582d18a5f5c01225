import { criticalPaths, type TaskIndex } from './graph.js';
import { compareIds } from './ids.js';
import { estimateOf, type Task } from './task.js';

/**
 * The critical path: the chain of unfinished tasks, blocker first, whose estimates add up to the
 * longest remaining time (the lengths `criticalPaths` gives). Ties go to the smaller id. Empty
 * when every task is completed.
 */
export function criticalPath(byId: TaskIndex, paths: ReadonlyMap<string, number> = criticalPaths(byId)): string[] {
  const open = (t: Task | undefined): t is Task => t !== undefined && t.status !== 'completed';
  let start: Task | undefined;
  for (const t of byId.values()) {
    if (!open(t)) continue;
    const better =
      start === undefined ||
      (paths.get(t.id) ?? 0) > (paths.get(start.id) ?? 0) ||
      ((paths.get(t.id) ?? 0) === (paths.get(start.id) ?? 0) && compareIds(t.id, start.id) < 0);
    if (better) start = t;
  }
  const path: string[] = [];
  const seen = new Set<string>();
  let current = start;
  while (current !== undefined && !seen.has(current.id)) {
    path.push(current.id);
    seen.add(current.id);
    const rest = (paths.get(current.id) ?? 0) - estimateOf(current);
    let next: Task | undefined;
    for (const id of current.blocks) {
      const t = byId.get(id);
      if (!open(t) || seen.has(id) || Math.abs((paths.get(id) ?? 0) - rest) > 1e-9) continue;
      if (next === undefined || compareIds(id, next.id) < 0) next = t;
    }
    current = next;
  }
  return path;
}
