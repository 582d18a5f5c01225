import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TasklaneError } from '../../model/index.js';
import { backlogFolder, readBacklog } from './backlog.js';
import { beadsFile, readBeads } from './beads.js';
import type { PeerFormat, PeerImport } from './build.js';
import { isClaudeList, readClaudeList } from './claude-list.js';
import { readTaskmaster } from './taskmaster.js';

// Importing from other task tools: each reader turns a peer's files into the records of an
// export (build.ts), which any store's importList writes all or nothing. `detectFormat` names
// the format of an input when its shape says so plainly.

export type { Dropped, FieldMapping, PeerFormat, PeerImport, PeerReport, Skipped } from './build.js';
export { peerName } from './build.js';

export const PEER_FORMATS: readonly PeerFormat[] = ['taskmaster', 'backlog', 'beads', 'claude'];

export interface PeerReadOptions {
  /** Task Master: import only these tags. */
  tags?: string[];
}

/** Reads `path` (shown in messages as `label`) as `format`; throws INVALID_INPUT or CYCLE naming the file and line. */
export function readPeer(format: PeerFormat, path: string, label: string, opts: PeerReadOptions = {}): PeerImport {
  if (!existsSync(path))
    throw new TasklaneError('IO', `cannot read ${label}: no such file or directory`, { file: label });
  if (opts.tags !== undefined && opts.tags.length > 0 && format !== 'taskmaster') {
    throw new TasklaneError('USAGE', `--tag is for --from taskmaster (Task Master's tags), not --from ${format}`, {
      field: '--tag',
    });
  }
  switch (format) {
    case 'taskmaster': {
      const file = taskmasterFile(path);
      const shown = file === path ? label : join(label, relative(path, file));
      if (!existsSync(file)) {
        throw new TasklaneError(
          'IO',
          `cannot read ${label}: no Task Master tasks.json in it (looked for .taskmaster/tasks/tasks.json and tasks/tasks.json)`,
          { file: label },
        );
      }
      return readTaskmaster(file, shown, opts);
    }
    case 'backlog':
      return readBacklog(path, label);
    case 'beads':
      return readBeads(path, label);
    case 'claude':
      return readClaudeList(path, label);
  }
}

/** A project's `.taskmaster/tasks/tasks.json` (or older `tasks/tasks.json`) when given its directory. */
function taskmasterFile(path: string): string {
  if (!isDirectory(path)) return path;
  for (const candidate of [
    join(path, '.taskmaster', 'tasks', 'tasks.json'),
    join(path, 'tasks', 'tasks.json'),
    join(path, 'tasks.json'),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  return join(path, '.taskmaster', 'tasks', 'tasks.json');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The format an input plainly has, or undefined: a Tasklane export (its first line a list
 * record), a Task Master tasks.json, a Backlog.md folder, a Beads JSONL export, or a Claude Code
 * list directory. Only the start of a file is read.
 */
export function detectFormat(path: string): PeerFormat | 'tasklane' | undefined {
  if (isDirectory(path)) {
    if (existsSync(join(path, '.taskmaster', 'tasks', 'tasks.json'))) return 'taskmaster';
    if (backlogFolder(path) !== undefined) return 'backlog';
    if (existsSync(join(path, '.beads'))) return beadsFile(path) === undefined ? undefined : 'beads';
    if (isClaudeList(path)) return 'claude';
    return undefined;
  }
  let head: string;
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const first = head.trimStart().split('\n')[0] ?? '';
  if (/^\{\s*"type"\s*:\s*"list"/.test(first)) return 'tasklane';
  if (/^\{"id":\s*"[^"]+".*"title"\s*:/.test(first)) return 'beads';
  if (/^\{[\s\S]*"tasks"\s*:\s*\[/.test(head.trimStart())) return 'taskmaster';
  return undefined;
}
