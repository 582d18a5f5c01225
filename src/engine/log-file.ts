import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';

// A task's log, capped and rotated: `<id>.log` grows to at most `maxBytes`; a write that would
// pass it fills the log up to its last whole line that fits, renames it to `<id>.log.1`
// (replacing the one before) and goes on in a new one. So one task's logs never hold more than
// twice the cap on disk, and the newest output (the tail, where an agent's end and its error are)
// is always kept: at least the cap's worth, less at most one line. A runaway agent printing gigabytes costs
// disk writes, never disk space. Node built-ins only: the tmux pane program (tmux-pane.ts) writes
// through this too.
//
// Writes are synchronous on purpose: the size check, the rename and the write are one step, with
// no queue of pending chunks to grow while the disk is slow. A log that cannot be written (a full
// disk, a removed directory) is given up silently: it must never take the run down.

/** The default cap of one log file (`--log-max`): 8 MiB, so at most 16 MiB a task with its rotated file. */
export const DEFAULT_LOG_MAX_BYTES = 8 * 1024 * 1024;
/** The smallest cap taken: the rotation note must fit with room to spare. */
export const MIN_LOG_MAX_BYTES = 4096;

export class TaskLog {
  private fd: number | undefined;
  private size = 0;
  /** Bytes of output in the current file, the rotation note left out. */
  private body = 0;
  private readonly maxBytes: number;

  constructor(
    readonly path: string,
    maxBytes: number = DEFAULT_LOG_MAX_BYTES,
  ) {
    this.maxBytes = Math.max(MIN_LOG_MAX_BYTES, Math.floor(maxBytes));
    try {
      this.fd = openSync(path, 'a');
      this.size = fstatSync(this.fd).size;
      this.body = this.size;
    } catch {
      this.fd = undefined;
    }
  }

  /** Appends, rotating whenever the log reaches its cap. */
  write(data: Buffer | string): void {
    if (this.fd === undefined) return;
    let chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // More than both files hold (a huge single write): only its end can be kept anyway.
    if (chunk.length > 2 * this.maxBytes) chunk = chunk.subarray(chunk.length - 2 * this.maxBytes);
    try {
      while (chunk.length > 0) {
        const room = this.maxBytes - this.size;
        if (chunk.length <= room) {
          this.append(chunk);
          return;
        }
        // Up to the last line end that fits; a line longer than a whole file is split at the cap.
        // (A log already past the cap, from a larger --log-max before, has no room: it rotates first.)
        let cut = room > 0 ? chunk.lastIndexOf(10, room - 1) + 1 : 0;
        if (cut === 0 && this.body === 0 && room > 0) cut = room;
        if (cut > 0) this.append(chunk.subarray(0, cut));
        chunk = chunk.subarray(cut);
        this.rotate();
      }
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {}
    this.fd = undefined;
  }

  private append(bytes: Buffer): void {
    writeSync(this.fd as number, bytes);
    this.size += bytes.length;
    this.body += bytes.length;
  }

  private rotate(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, 'a');
    this.size = fstatSync(this.fd).size; // 0, unless another writer appended meanwhile
    const note = `--- tasklane: log rotated at ${this.maxBytes} bytes; the output before this line is in ${basename(this.path)}.1 (older output is gone)\n`;
    writeSync(this.fd, note);
    this.size += Buffer.byteLength(note);
    this.body = this.size - Buffer.byteLength(note);
  }
}

/** Appends one line of Tasklane's own to a task's log, under the same cap. */
export function writeLogLine(path: string, line: string, maxBytes?: number): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch {}
  const log = new TaskLog(path, maxBytes);
  log.write(line);
  log.close();
}
