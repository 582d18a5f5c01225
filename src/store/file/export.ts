import { join } from 'node:path';
import { compareIds, isNumericId } from '../../model/index.js';
import { EXPORT_VERSION, exportedEntry } from '../export-format.js';
import type { ExportRecord } from '../types.js';
import { type Journal, journalEntries } from './journal.js';
import { readTaskFile, taskFileNames } from './task-files.js';

// A file-store list as export records (export-format.ts): the list record, every task file in id
// order, then every journal entry in seq order. One task or entry in memory at a time, besides the
// list of file names. A task file that is not a valid task stops the export, naming the file: an
// export that skipped it would lose the task without a word.

export interface ExportSource {
  listId: string;
  listDir: string;
  journal: Journal;
  /** The id high-water mark: new ids are above it (FileStore.highWaterMark). */
  highWaterMark(): number;
}

export async function* exportFileList(src: ExportSource): AsyncGenerator<ExportRecord> {
  yield {
    type: 'list',
    list: src.listId,
    version: EXPORT_VERSION,
    highestId: src.highWaterMark(),
    exportedAt: new Date().toISOString(),
  };
  // A numeric file name is its task's id (a file holding another id is invalid); other names are
  // sanitized ids, so those few files are read once for their id to sort by.
  const files: { id: string; path: string }[] = [];
  for (const name of taskFileNames(src.listDir)) {
    const stem = name.slice(0, -5);
    const path = join(src.listDir, name);
    if (isNumericId(stem)) files.push({ id: stem, path });
    else {
      const task = readTaskFile(path);
      if (task !== undefined) files.push({ id: task.id, path });
    }
  }
  files.sort((a, b) => compareIds(a.id, b.id));
  for (const { path } of files) {
    const task = readTaskFile(path);
    if (task !== undefined) yield { type: 'task', task }; // undefined: deleted since the listing
  }
  for (const entry of journalEntries(src.journal)) yield { type: 'journal', entry: exportedEntry(entry) };
}
