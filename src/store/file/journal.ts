import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Task } from '../../model/index.js';
import type { ChangeKind, JournalEntry } from '../types.js';

// The history of a list: one JSON line per change Tasklane makes, appended with a single O_APPEND
// write (so concurrent writers never interleave). It lives outside the list directory, which
// Claude Code empties when every task completes, so `restore` can bring the tasks back.
// `seq` is not stored: it is the line number.

export function appendJournal(path: string, kind: ChangeKind, task: Task, actor?: string): void {
  const entry: Omit<JournalEntry, 'seq'> = {
    at: new Date().toISOString(),
    kind,
    taskId: task.id,
    ...(actor === undefined ? {} : { actor }),
    pid: process.pid,
    task,
  };
  const line = `${JSON.stringify(entry)}\n`;
  try {
    appendFileSync(path, line);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, line);
  }
}

/** Parses journal text; a torn last line (a writer killed mid-append) is skipped. */
export function parseJournal(text: string, firstSeq = 1): JournalEntry[] {
  const out: JournalEntry[] = [];
  let seq = firstSeq;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    try {
      const entry = JSON.parse(line) as Omit<JournalEntry, 'seq'>;
      out.push({ seq, ...entry });
    } catch {
      // torn or foreign line: skip, but keep numbering stable
    }
    seq++;
  }
  return out;
}

export function readJournal(path: string): JournalEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseJournal(text);
}
