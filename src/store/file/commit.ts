import { closeSync, fdatasyncSync, fstatSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from './durable.js';
import { type FileStamp, stampOf } from './task-files.js';

// One change of the list, made of task files written or removed and journal lines, committed so
// that what is acknowledged is durable in both, and what is refused leaves nothing behind.
//
// Order, and why:
//   1. every new file's content goes to a temp file, fdatasync'd (a full disk fails here, before
//      anything is visible);
//   2. each file being replaced or removed keeps its current version under a second name (a hard
//      link: no data to write, so it needs no space);
//   3. renames and unlinks, then one fsync of the directory: the files now show the change;
//   4. the journal lines are appended, all or nothing, and flushed (`Journal.append`);
//   5. the kept versions are dropped. Only now is the change acknowledged.
// If step 4 fails (ENOSPC, a lock timeout), step 3 is undone from the kept versions, which again
// needs no space, and the error is thrown: the files and the journal are as they were.
// Files before journal, because the journal must not claim a change the files never got: a crash
// between 3 and 4 leaves a change that is in the files and not in the journal, never acknowledged
// (the change feed reports it like any change made by another program); the other order would
// leave a journal entry, seen by every watcher and by `restore`, for a change that never happened.
// Temp and kept files are named `.<file>.tmp-<pid>-...`: Claude Code and our scans ignore them,
// and a crash leaves only that kind of debris.

export interface FileChange {
  path: string;
  /** The new content; undefined (and no `staged`) removes the file. */
  data?: string;
  /** The new content already written and flushed beside the file (`stageFile`), e.g. by an import that streams. */
  staged?: StagedFile;
}

/** A new file's content in its temp file, flushed, ready for `commitFiles` to rename into place. */
export interface StagedFile {
  tmp: string;
  stamp: FileStamp;
}

let counter = 0;

function sideName(path: string, what: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${what}${counter++}`);
}

function quietUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/**
 * Applies `changes` to the files, runs `journal` with the stamp of each file written (undefined
 * for a removal: see FileStamp); undoes the files if `journal` throws.
 * `beforeApply` runs once everything is staged, right before the first rename; if it throws,
 * nothing is applied.
 */
export function commitFiles<T>(
  changes: FileChange[],
  journal: (stamps: (FileStamp | undefined)[]) => T,
  beforeApply?: () => void,
): T {
  const staged: { change: FileChange; tmp?: string; kept?: string; stamp?: FileStamp; applied: boolean }[] = [];
  const cleanUp = (): void => {
    for (const s of staged) {
      if (s.tmp !== undefined && !s.applied) quietUnlink(s.tmp);
      if (s.kept !== undefined) quietUnlink(s.kept);
    }
  };
  try {
    for (const change of changes) {
      const s: (typeof staged)[number] = { change, applied: false };
      staged.push(s);
      if (change.staged !== undefined) {
        s.tmp = change.staged.tmp;
        s.stamp = change.staged.stamp;
      } else if (change.data !== undefined) {
        s.tmp = sideName(change.path, '');
        s.stamp = writeSynced(s.tmp, change.data);
      }
      const kept = sideName(change.path, 'prev');
      try {
        linkSync(change.path, kept);
        s.kept = kept;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    beforeApply?.();
  } catch (err) {
    cleanUp();
    throw err;
  }
  const dirs = new Set(changes.map((c) => dirname(c.path)));
  try {
    for (const s of staged) {
      if (s.tmp !== undefined) renameSync(s.tmp, s.change.path);
      else if (s.kept !== undefined) unlinkSync(s.change.path);
      s.applied = true;
    }
    for (const dir of dirs) fsyncDir(dir);
  } catch (err) {
    undo(staged);
    for (const dir of dirs) fsyncDirQuietly(dir);
    cleanUp();
    throw err;
  }
  let result: T;
  try {
    result = journal(staged.map((s) => s.stamp));
  } catch (err) {
    undo(staged);
    for (const dir of dirs) fsyncDirQuietly(dir);
    cleanUp();
    throw err;
  }
  cleanUp();
  return result;
}

/**
 * Writes and flushes `data` beside `path` under a temp name, for a later `commitFiles`; nothing is
 * visible until then. A caller that never commits removes it with `discardStaged`.
 */
export function stageFile(path: string, data: string): StagedFile {
  const tmp = sideName(path, 'stage');
  return { tmp, stamp: writeSynced(tmp, data) };
}

/**
 * `stageFile` without blocking: several flushes in flight at once let the file system commit them
 * together (an import of 500 small files: about a third of the time of one after another).
 */
export async function stageFileAsync(path: string, data: string): Promise<StagedFile> {
  const tmp = sideName(path, 'stage');
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.datasync();
    const stamp = stampOf(await handle.stat());
    await handle.close();
    return { tmp, stamp };
  } catch (err) {
    await handle.close().catch(() => {});
    quietUnlink(tmp);
    throw err;
  }
}

export function discardStaged(staged: Iterable<StagedFile>): void {
  for (const s of staged) quietUnlink(s.tmp);
}

/** Puts back what was there before each applied change, latest first. */
function undo(staged: { change: FileChange; kept?: string; applied: boolean }[]): void {
  for (const s of [...staged].reverse()) {
    if (!s.applied) continue;
    try {
      if (s.kept !== undefined) {
        renameSync(s.kept, s.change.path);
        s.kept = undefined;
      } else unlinkSync(s.change.path);
    } catch {}
    s.applied = false;
  }
}

function fsyncDirQuietly(dir: string): void {
  try {
    fsyncDir(dir);
  } catch {}
}

/** Writes and flushes a new file; its stamp is what the renamed file keeps (a rename changes neither). */
function writeSynced(path: string, data: string): FileStamp {
  const fd = openSync(path, 'w', 0o644);
  let stamp: FileStamp;
  try {
    const buf = Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fdatasyncSync(fd);
    stamp = stampOf(fstatSync(fd));
  } catch (err) {
    closeSync(fd);
    quietUnlink(path);
    throw err;
  }
  closeSync(fd);
  return stamp;
}
