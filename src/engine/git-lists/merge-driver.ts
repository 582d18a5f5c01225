import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  isTombstone,
  mergeTaskFiles,
  parseTask,
  serializeTask,
  serializeTombstone,
  type Task,
  type TaskFile,
} from '../../model/index.js';
import { readTaskFile, taskFileName } from '../../store/file/task-files.js';

// `tasklane git merge-driver %O %A %B %P`: what git runs for a task file both sides changed. It
// reads the three versions, merges them with the model's rule (model/task-merge.ts), writes the
// result over %A and says whether git may take it. Then it looks for a cycle the merged
// dependencies would close in the working tree's list: one is reported, never broken (which
// edge goes is a decision), and `tasklane doctor` names it after the merge.

export interface DriverOutcome {
  /** Exit status for git: 0 merged, 1 left in conflict. */
  code: 0 | 1;
  /** Lines for stderr (git shows them during the merge). */
  messages: string[];
}

/**
 * Merges the file at `oursPath` (git's %A, rewritten in place) with `theirsPath` (%B) against
 * `basePath` (%O, empty when both sides added the file); `treePath` (%P) is the file's path in
 * the working tree, relative to `cwd` (git runs drivers at the top of the working tree).
 */
export function runMergeDriver(
  basePath: string,
  oursPath: string,
  theirsPath: string,
  treePath: string,
  cwd: string,
): DriverOutcome {
  const where = `tasklane merge of ${treePath}`;
  let base: TaskFile | undefined;
  let ours: TaskFile;
  let theirs: TaskFile;
  try {
    base = readVersion(basePath, 'the common version');
    const a = readVersion(oursPath, 'our version');
    const b = readVersion(theirsPath, 'their version');
    if (a === undefined || b === undefined) throw new Error('a side of the merge is empty');
    ours = a;
    theirs = b;
  } catch (err) {
    return { code: 1, messages: [`${where}: ${(err as Error).message}; left in conflict`] };
  }
  const merged = mergeTaskFiles(base, ours, theirs);
  if (!merged.ok) return { code: 1, messages: [`${where}: ${merged.reason}; left in conflict`] };
  const value = merged.value;
  writeFileSync(oursPath, isTombstone(value) ? serializeTombstone(value) : serializeTask(value));
  const messages = merged.notes.map((n) => `${where}: ${n}`);
  if (!isTombstone(value)) {
    const cycle = cycleThrough(value, join(cwd, dirname(treePath)));
    if (cycle !== undefined) {
      messages.push(
        `${where}: the merged dependencies close a cycle, ${cycle.map((id) => `#${id}`).join(' -> ')}; left for you to break (tasklane doctor names it; tasklane dep rm BLOCKER BLOCKED)`,
      );
    }
  }
  return { code: 0, messages };
}

/** One version: a task, a tombstone, or undefined for an empty file (no common version). */
function readVersion(path: string, what: string): TaskFile | undefined {
  const text = readFileSync(path, 'utf8');
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON (${(err as Error).message})`);
  }
  if (isTombstone(value)) return value;
  try {
    return parseTask(value);
  } catch (err) {
    throw new Error(`${what} is not a valid task (${(err as Error).message})`);
  }
}

/**
 * A cycle through `task` in the list at `listDir` with `task` as merged, following `blocks` and
 * reading only the files reached (a driver runs once per conflicting file: a whole-list scan each
 * time would make a merge of many tasks quadratic). The other files may still be mid-merge;
 * `tasklane doctor` after the merge is the full check.
 */
function cycleThrough(task: Task, listDir: string): string[] | undefined {
  const parent = new Map<string, string>();
  const queue: string[] = [];
  for (const next of task.blocks) {
    if (parent.has(next)) continue;
    parent.set(next, task.id);
    queue.push(next);
  }
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    if (id === task.id) {
      const path = [task.id];
      for (let at = parent.get(id) as string; at !== task.id; at = parent.get(at) as string) path.push(at);
      return [task.id, ...path.slice(1).reverse(), task.id];
    }
    let other: Task | undefined;
    try {
      other = readTaskFile(join(listDir, taskFileName(id)), 0);
    } catch {
      other = undefined; // unreadable now (mid-merge): doctor checks it after
    }
    const blocks = new Set(other?.blocks ?? []);
    if (task.blockedBy.includes(id)) blocks.add(task.id);
    for (const next of blocks) {
      if (parent.has(next)) continue;
      parent.set(next, id);
      queue.push(next);
    }
  }
  return undefined;
}
