import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// Every write is atomic and durable: temp file, fsync, rename, fsync of the directory. A reader
// never sees a torn file written by Tasklane, and a crash after we return loses nothing.

let counter = 0;

/** `beforeCommit` runs with the data once it is durable, right before the rename; if it throws, nothing lands. */
export function writeFileDurable(path: string, data: string, beforeCommit?: (data: string) => void): void {
  const dir = dirname(path);
  // Leading dot and no .json suffix: Claude Code and our scans ignore it.
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${counter++}`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, data);
    // fdatasync: the data and the size, without the timestamps; the rename is made durable below.
    fdatasyncSync(fd);
  } catch (err) {
    closeSync(fd);
    removeTemp(tmp);
    throw err;
  }
  closeSync(fd);
  // Last before the rename, after the slow part: a writer paused in fdatasync may have lost its lock.
  try {
    beforeCommit?.(data);
  } catch (err) {
    removeTemp(tmp);
    throw err;
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}

function removeTemp(tmp: string): void {
  try {
    unlinkSync(tmp);
  } catch {}
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Blocks the thread briefly; used only to wait out a half-written file from a non-atomic writer. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
