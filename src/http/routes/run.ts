import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { readLastRun } from '../../engine/last-run.js';
import { assertTaskId, sanitizePathComponent, TasklaneError } from '../../model/index.js';
import type { Routes } from '../context.js';
import { onlyQuery, queryInt } from '../input.js';
import { storeOf } from './tasks.js';

// Runs: the last run's aggregated result, the live run (when `tasklane run --board` started the
// board), and the tail of a task's agent log. A log is read only where the executor writes it
// (the list's artifacts, or the path the running executor itself reported), never from a path
// found in task metadata, which any writer of the list controls.

export const DEFAULT_LOG_BYTES = 64 * 1024;
export const MAX_LOG_BYTES = 1024 * 1024;

export const runRoutes: Routes = (app, board) => {
  app.get('/api/lists/:list/run', (c) => {
    onlyQuery(c, []);
    const store = storeOf(c, board);
    const saved = readLastRun(store.artifactsDir);
    if (saved === undefined) {
      throw new TasklaneError('NOT_FOUND', `no run of list "${store.listId}" has been recorded`, {
        list: store.listId,
      });
    }
    return c.json(saved.aggregate);
  });

  app.get('/api/lists/:list/run/live', (c) => {
    onlyQuery(c, []);
    const store = storeOf(c, board);
    if (board.run === undefined || board.run.list !== store.listId) {
      throw new TasklaneError('NOT_FOUND', `no run of list "${store.listId}" is running in this board`, {
        list: store.listId,
      });
    }
    return c.json(board.run.live());
  });

  app.get('/api/lists/:list/tasks/:id/log', (c) => {
    onlyQuery(c, ['bytes']);
    const store = storeOf(c, board);
    const id = assertTaskId(c.req.param('id'), 'id');
    const bytes = queryInt(c, 'bytes', 1, MAX_LOG_BYTES) ?? DEFAULT_LOG_BYTES;
    const live = board.run?.list === store.listId ? board.run.logOf(id) : undefined;
    const path = live ?? join(store.artifactsDir, 'logs', `${sanitizePathComponent(id)}.log`);
    const tail = readTail(path, bytes);
    if (tail === undefined) {
      throw new TasklaneError('NOT_FOUND', `task ${id} has no agent log`, { task: id, list: store.listId });
    }
    return c.json(tail);
  });
};

/** The last `bytes` of a file, cut to whole UTF-8 characters; undefined when it does not exist. */
function readTail(path: string, bytes: number): { text: string; size: number; truncated: boolean } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TasklaneError('IO', `cannot read the log ${path}: ${(err as Error).message}`, { file: path });
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    const read = readSync(fd, buf, 0, length, size - length);
    let chunk = buf.subarray(0, read);
    // Skip continuation bytes of a character cut at the start.
    let skip = 0;
    while (skip < chunk.length && skip < 3 && ((chunk[skip] as number) & 0xc0) === 0x80) skip++;
    if (size > length) chunk = chunk.subarray(skip);
    return { text: chunk.toString('utf8'), size, truncated: size > length };
  } finally {
    closeSync(fd);
  }
}
