import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  isNumericId,
  isTombstone,
  LIMITS,
  mayNestDeeperThan,
  parseTask,
  sanitizePathComponent,
  type Task,
  TasklaneError,
  tooDeep,
} from '../../model/index.js';
import { sleepSync } from './durable.js';

// Reading Claude Code's task files: one `<id>.json` per task in the list directory.

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function taskFileName(id: string): string {
  return `${sanitizePathComponent(id)}.json`;
}

/** Names of task files: `*.json` not starting with a dot (our temp files and locks start with one or end otherwise). */
export function taskFileNames(listDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(listDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => n.endsWith('.json') && !n.startsWith('.'));
}

/**
 * Decodes and validates one file's bytes; undefined for a deleted task's tombstone (a project
 * list's, model/tombstone.ts), which every read takes as absent. Throws INVALID_TASK naming the file.
 */
export function decodeTask(bytes: Buffer, file: string): Task | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw new TasklaneError('INVALID_TASK', `${file}: not valid UTF-8`, { file, cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const detail = text.length === 0 ? 'empty file' : (cause as Error).message;
    throw new TasklaneError('INVALID_TASK', `${file}: not valid JSON (${detail})`, { file, cause });
  }
  // Before anything walks it recursively (JSON.stringify, a formatter): another program may write
  // a file nested deep enough to overflow the stack.
  const deep = mayNestDeeperThan(text, LIMITS.nestingDepth) ? tooDeep(value, LIMITS.nestingDepth) : undefined;
  if (deep !== undefined) {
    throw new TasklaneError(
      'INVALID_TASK',
      `${file}: ${deep === '(root)' ? 'the task' : deep} nests more than ${LIMITS.nestingDepth} levels deep; the limit is ${LIMITS.nestingDepth}`,
      { file, field: deep },
    );
  }
  if (isTombstone(value)) return undefined;
  const task = parseTask(value, { file });
  const expected = taskFileName(task.id);
  if (!file.endsWith(`/${expected}`) && file !== expected) {
    throw new TasklaneError('INVALID_TASK', `${file}: holds task id ${JSON.stringify(task.id)}, expected ${expected}`, {
      file,
      field: 'id',
    });
  }
  return task;
}

/**
 * What a task file was when it was last read or written: its inode, size and modification time.
 * A file found with the same stamp later has not been changed since (a replacing rename makes a
 * new inode, a write in place a new mtime), so it need not be read again. The one blind spot: a
 * write in place of the same size within the file system's timestamp granularity (a few ms).
 */
export interface FileStamp {
  ino: number;
  size: number;
  mtimeMs: number;
}

export function stampOf(st: { ino: number; size: number; mtimeMs: number }): FileStamp {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * Reads one task file, or undefined if absent. Claude Code up to 2.1.112 writes in place, so a
 * parse failure may be a write in progress: retry briefly before calling the file invalid.
 */
export function readTaskFile(path: string, retries = 4): Task | undefined {
  return readTask(path, retries, false)?.task;
}

/** `readTaskFile`, with the stamp of the file it read. */
export function readTaskFileStamped(path: string, retries = 4): { task: Task; stamp: FileStamp } | undefined {
  return readTask(path, retries, true) as { task: Task; stamp: FileStamp } | undefined;
}

function readTask(path: string, retries: number, stamped: boolean): { task: Task; stamp?: FileStamp } | undefined {
  for (let attempt = 0; ; attempt++) {
    let read: { bytes: Buffer; stamp?: FileStamp };
    try {
      read = readBytes(path, stamped);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TasklaneError('IO', `cannot read ${path}: ${(err as Error).message}`, { file: path, cause: err });
    }
    try {
      const task = decodeTask(read.bytes, path);
      if (task === undefined) return undefined;
      return read.stamp === undefined ? { task } : { task, stamp: read.stamp };
    } catch (err) {
      if (attempt >= retries) throw err;
      sleepSync(5 * (attempt + 1));
    }
  }
}

/**
 * A file's bytes, and its stamp when asked (one more call). Most task files are small: read them into one shared buffer (no
 * allocation per file, which is a tenth of a 10,000-task scan); a larger file is read whole.
 * The bytes are only valid until the next call: decode them at once.
 */
const shared = Buffer.allocUnsafe(64 * 1024);
function readBytes(path: string, stamped: boolean): { bytes: Buffer; stamp?: FileStamp } {
  const fd = openSync(path, 'r');
  try {
    const stamp = stamped ? stampOf(fstatSync(fd)) : undefined;
    const n = readSync(fd, shared, 0, shared.length, 0);
    const bytes = n < shared.length ? shared.subarray(0, n) : readFileSync(fd);
    return stamp === undefined ? { bytes } : { bytes, stamp };
  } finally {
    closeSync(fd);
  }
}

export interface Scan {
  tasks: Map<string, Task>;
  /** Files that are not valid tasks, with the reason. Left untouched on disk. */
  invalid: TasklaneError[];
  /** The largest numeric id among the file names (Claude Code's rule counts names, not contents). */
  maxFileId: number;
  /** Names of files that hold no task: deleted tasks' tombstones (or files removed during the scan). */
  deleted: Set<string>;
}

export function scanList(listDir: string): Scan {
  const tasks = new Map<string, Task>();
  const invalid: TasklaneError[] = [];
  const deleted = new Set<string>();
  let maxFileId = 0;
  for (const name of taskFileNames(listDir)) {
    const stem = name.slice(0, -5);
    if (isNumericId(stem)) maxFileId = Math.max(maxFileId, Number(stem));
    try {
      const task = readTaskFile(join(listDir, name));
      if (task !== undefined) tasks.set(task.id, task);
      else deleted.add(name);
    } catch (err) {
      if (err instanceof TasklaneError) invalid.push(err);
      else throw err;
    }
  }
  return { tasks, invalid, maxFileId, deleted };
}

/**
 * Every task of the list, for a check that must see them all (a cycle check): an edge recorded
 * only in a skipped file could close a cycle. An invalid file may be another program's write in
 * progress (Claude Code up to 2.1.112 writes in place), so it is re-read for a moment; if it stays
 * invalid the check is refused, naming the file, rather than answered from a partial scan.
 */
export function scanWhole(listDir: string, purpose: string, retries = 3): Map<string, Task> {
  const { tasks, invalid } = scanList(listDir);
  for (const first of invalid) {
    const file = first.file as string;
    let last: TasklaneError = first;
    let settled = false;
    for (let attempt = 0; attempt < retries && !settled; attempt++) {
      sleepSync(25 * (attempt + 1));
      try {
        const task = readTaskFile(file, 0);
        if (task !== undefined) tasks.set(task.id, task);
        settled = true;
      } catch (err) {
        if (!(err instanceof TasklaneError)) throw err;
        last = err;
      }
    }
    if (!settled) {
      throw new TasklaneError(
        'INVALID_TASK',
        `cannot ${purpose}: ${last.message}. A cycle check must see every task; if another program is rewriting the file, try again, else repair or move it (tasklane doctor lists such files)`,
        { file, cause: last },
      );
    }
  }
  return tasks;
}

export function maxNumericFileId(listDir: string): number {
  let max = 0;
  for (const name of taskFileNames(listDir)) {
    const stem = name.slice(0, -5);
    if (isNumericId(stem)) max = Math.max(max, Number(stem));
  }
  return max;
}

/** `.highwatermark`: plain decimal text, no newline. 0 when absent or unreadable. */
export function readHighWaterMark(listDir: string): number {
  try {
    const n = Number.parseInt(readFileSync(join(listDir, '.highwatermark'), 'utf8').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}
