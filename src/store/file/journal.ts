import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { formatDuration, type Task, TasklaneError, type TasklaneFields, tasklaneFields } from '../../model/index.js';
import type { ChangeKind, JournalEntry } from '../types.js';
import { fsyncDir, sleepSync } from './durable.js';
import { describeJournalHolder, journalLockPath, tryLockJournal } from './journal-lock.js';
import type { LockHandle } from './lock.js';
import type { FileStamp } from './task-files.js';

// The history of a list: one JSON line per change Tasklane makes. It lives outside the list
// directory, which Claude Code empties when every task completes, so `restore` can bring the
// tasks back and new ids stay above every id the list ever had.
//
// Appends happen under the journal's own lock (`journal.jsonl.lock`, the same lock protocol as
// the task files), held only for the write itself:
// - `seq`, the list-wide change sequence, is the previous line's seq + 1, so it follows file
//   order exactly and never repeats, however many processes write at once (the lock is why;
//   O_APPEND alone orders lines but cannot number them). Lines written before seq existed have
//   none: a reader numbers them by their line number, which is what seq meant then.
// - a torn last line (a writer killed mid-write) is ended with a newline before the next append,
//   so it can never swallow the next entry;
// - a write that fails (ENOSPC) is truncated away before the lock is released, so a refused
//   change leaves no entry, not even part of a line.
// The fdatasync runs after the lock is released: one flush then covers every line written before
// it (others' too), so concurrent writers share flushes instead of queueing for them, and a line
// is never durable unless every line before it is.
//
// Size: a heartbeat journals a small record (rev, updatedAt, lease), not the whole task; no line
// may exceed JOURNAL_LINE_LIMIT (the task limits keep real entries far below it). When the live
// file passes ROTATE_BYTES it is sealed as `journal.<last seq>.jsonl`, and only the newest
// KEEP_SEALED sealed files are kept (see `rotate` for what that costs `history` and `restore`).
// Readers stream, in constant memory, oldest file first.

export const JOURNAL_LINE_LIMIT = 8 * 1024 * 1024;
/** The live file is sealed past this size. */
export const ROTATE_BYTES = 64 * 1024 * 1024;
/** Sealed files kept besides the live one; older ones are removed. */
export const KEEP_SEALED = 8;
/** A reader skips a line longer than this (not one of ours) without holding it in memory. */
const READ_LINE_LIMIT = 2 * JOURNAL_LINE_LIMIT;
const LIVE = 'journal.jsonl';
const SEALED = /^journal\.(\d+)\.jsonl$/;
const CHUNK = 1024 * 1024;
const LOCK_TIMEOUT_MS = 30_000;
/** How long a journal writer waits on a busy lock before it checks whether the holder is alive. */
const PROBE_AFTER_MS = 200;
/** The longest a journal writer sleeps between attempts at the lock. */
const MAX_WAIT_MS = 2;

export interface NewEntry {
  kind: ChangeKind;
  /** The task after the change (before it, for `deleted`). */
  task: Task;
}

/** The fields a heartbeat changes: all a reader needs to bring its copy of the task up to date. */
export type HeartbeatFields = Pick<TasklaneFields, 'rev' | 'updatedAt' | 'lease'>;

/** Lines ready to append: built (and size-checked) before anything is written anywhere. */
export interface PreparedEntries {
  /** Each line without its seq: `,"at":...}` after `{"seq":N`. */
  readonly bodies: string[];
  readonly entries: Omit<JournalEntry, 'seq'>[];
}

export class Journal {
  readonly path: string;
  /** Where this process last left the live file: saves finding the last seq again. */
  /**
   * The live file by inode and birth time: a sealed file deleted (KEEP_SEALED) frees its inode,
   * which a later live file can get again; by inode and size alone, such a file that happened to
   * have the size we left ours at made us number on from our old seq (a seq twice, going backwards).
   */
  private last: { ino: number; birth: number; size: number; seq: number } | undefined;

  private readonly rotateBytes: number;
  private readonly keepSealed: number;

  /** `rotateBytes` and `keepSealed` are for tests; the defaults are the documented rule. */
  constructor(
    readonly dir: string,
    opts: { rotateBytes?: number; keepSealed?: number } = {},
  ) {
    this.path = join(dir, LIVE);
    this.rotateBytes = opts.rotateBytes ?? ROTATE_BYTES;
    this.keepSealed = opts.keepSealed ?? KEEP_SEALED;
  }

  /** Builds the lines for `entries`; throws (and nothing is written) when one is over the limit. */
  prepare(entries: NewEntry[], actor?: string): PreparedEntries {
    const at = new Date().toISOString();
    const out: Omit<JournalEntry, 'seq'>[] = [];
    const bodies: string[] = [];
    for (const { kind, task } of entries) {
      const entry: Omit<JournalEntry, 'seq'> = {
        at,
        kind,
        taskId: task.id,
        ...(actor === undefined ? {} : { actor }),
        pid: process.pid,
        ...(kind === 'heartbeat' ? { fields: heartbeatFields(task) } : { task }),
      };
      const body = JSON.stringify(entry).slice(1);
      if (Buffer.byteLength(body) + 128 > JOURNAL_LINE_LIMIT) {
        throw new TasklaneError(
          'INVALID_INPUT',
          `task ${task.id}: its journal entry would be ${Buffer.byteLength(body)} bytes; a journal line is at most ${JOURNAL_LINE_LIMIT} bytes`,
          { task: task.id, file: this.path },
        );
      }
      out.push(entry);
      bodies.push(body);
    }
    return { bodies, entries: out };
  }

  /**
   * Appends the lines as one write, durably, numbered with the next seqs. All or nothing: on a
   * failure the journal is left as it was (save a newline ending a torn line) and the error is thrown.
   */
  append(prepared: PreparedEntries, stamps: (FileStamp | undefined)[] = []): JournalEntry[] {
    if (prepared.bodies.length === 0) return [];
    const handle = lockJournal(this.path); // makes the journal's directory when it is missing
    let fd: number;
    let written: JournalEntry[];
    try {
      fd = openSync(this.path, 'a+');
      try {
        written = this.appendLocked(fd, prepared, stamps);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      this.rotateIfDue();
    } finally {
      handle.release();
    }
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return written;
  }

  private appendLocked(fd: number, prepared: PreparedEntries, stamps: (FileStamp | undefined)[]): JournalEntry[] {
    let st = fstatSync(fd);
    if (st.size > 0 && lastByte(fd, st.size) !== 0x0a) {
      // A writer died mid-line: end that line, so it stays one unreadable line and the next
      // entry starts clean.
      writeAll(fd, Buffer.from('\n'));
      st = fstatSync(fd);
    }
    const start = st.size;
    let seq =
      this.last !== undefined &&
      this.last.ino === st.ino &&
      this.last.birth === st.birthtimeMs &&
      this.last.size === start
        ? this.last.seq
        : this.lastSeq(fd, start);
    // The file's stamp goes last, after the fields a reader looks for first.
    const withFile = (body: string, st: FileStamp | undefined): string =>
      st === undefined
        ? body
        : `${body.slice(0, -1)},"file":{"ino":${st.ino},"size":${st.size},"mtimeMs":${st.mtimeMs}}}`;
    const text = prepared.bodies.map((body, i) => `{"seq":${++seq},${withFile(body, stamps[i])}\n`).join('');
    try {
      writeAll(fd, Buffer.from(text));
    } catch (err) {
      // Nobody else writes while we hold the lock: cut back to where we began.
      try {
        ftruncateSync(fd, start);
      } catch {}
      throw err;
    }
    this.last = { ino: st.ino, birth: st.birthtimeMs, size: start + Buffer.byteLength(text), seq };
    const first = seq - prepared.bodies.length + 1;
    return prepared.entries.map((e, i) => {
      const file = stamps[i];
      return file === undefined ? { seq: first + i, ...e } : { seq: first + i, ...e, file };
    });
  }

  /** The seq of the last entry before `end` in the live file, else of the newest sealed file, else 0. */
  private lastSeq(fd: number, end: number): number {
    const found = lastSeqIn(fd, end);
    if (found !== undefined) return found;
    if (end > 0) return countLines(fd, end); // only lines from before seq existed: their numbers
    return this.sealed().at(-1)?.lastSeq ?? 0;
  }

  /** Whether the journal holds anything: a live file with bytes in it, or a sealed file. */
  hasEntries(): boolean {
    try {
      if (fstatSizeOf(this.path) > 0) return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return this.sealed().length > 0;
  }

  /**
   * Makes the flushed file `staged` (complete journal lines) the journal, under the journal's lock,
   * durably. With `asideDir`, the journal's present files (live and sealed) are first moved there,
   * kept, not deleted; if the swap fails they are put back and the error is thrown.
   */
  replaceWith(staged: string, asideDir?: string): void {
    const handle = lockJournal(this.path);
    const moved: [string, string][] = [];
    try {
      if (asideDir !== undefined) {
        for (const from of [...this.sealed().map((s) => s.path), this.path]) {
          const to = join(asideDir, basename(from));
          try {
            if (moved.length === 0) mkdirSync(asideDir, { recursive: true });
            renameSync(from, to);
            moved.push([from, to]);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
      }
      renameSync(staged, this.path);
      fsyncDir(this.dir);
      this.last = undefined;
    } catch (err) {
      for (const [from, to] of moved.reverse()) {
        try {
          renameSync(to, from);
        } catch {}
      }
      throw err;
    } finally {
      handle.release();
    }
  }

  /** Sealed files, oldest first. */
  sealed(): { path: string; lastSeq: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: { path: string; lastSeq: number }[] = [];
    for (const name of names) {
      const m = SEALED.exec(name);
      if (m !== null) out.push({ path: join(this.dir, name), lastSeq: Number(m[1]) });
    }
    return out.sort((a, b) => a.lastSeq - b.lastSeq);
  }

  /**
   * Rotation, under the lock. The rule: past ROTATE_BYTES the live file is renamed to
   * `journal.<its last seq>.jsonl` (readers holding it open keep reading it; seqs are unchanged),
   * and sealed files beyond the newest KEEP_SEALED are deleted. So the journal holds at most about
   * (KEEP_SEALED + 1) x ROTATE_BYTES; `history` shows what is kept, and `restore` can bring back
   * a task whose last change is still kept (a task untouched for that many bytes of changes,
   * then removed, is gone for good).
   */
  private rotateIfDue(): void {
    const last = this.last;
    if (last === undefined || last.size < this.rotateBytes) return;
    const name = join(this.dir, `journal.${String(last.seq).padStart(12, '0')}.jsonl`);
    try {
      renameSync(this.path, name);
    } catch {
      return; // rotation is housekeeping: the append itself succeeded
    }
    this.last = undefined;
    const sealed = this.sealed();
    for (const old of sealed.slice(0, Math.max(0, sealed.length - this.keepSealed))) {
      try {
        unlinkSync(old.path);
      } catch {}
    }
  }
}

function fstatSizeOf(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

function heartbeatFields(task: Task): HeartbeatFields {
  const { rev, updatedAt, lease } = tasklaneFields(task);
  return { rev, updatedAt, lease };
}

/**
 * The journal lock (journal-lock.ts), taken synchronously: it is held for one write, so waiting
 * is short and fine-grained. The wait between attempts stays under 2 ms: a longer one left the
 * lock free while every waiter slept.
 */
function lockJournal(path: string): LockHandle {
  const start = Date.now();
  const deadline = start + LOCK_TIMEOUT_MS;
  let delay = 0.05;
  for (;;) {
    // Held for one write: for its first moments a busy lock is simply busy, so its holder is
    // judged (to take a dead holder's lock at once) only once the wait grows long.
    const handle = tryLockJournal(path, Date.now() - start >= PROBE_AFTER_MS);
    if (handle !== undefined) return handle;
    if (Date.now() > deadline) {
      throw new TasklaneError(
        'LOCK_TIMEOUT',
        `timed out after ${formatDuration(LOCK_TIMEOUT_MS)} waiting for the journal lock (${journalLockPath(path)}): ${describeJournalHolder(path)}`,
        { file: journalLockPath(path) },
      );
    }
    sleepSync(delay * (0.5 + Math.random()));
    delay = Math.min(delay * 2, MAX_WAIT_MS);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function lastByte(fd: number, size: number): number {
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  return b[0] as number;
}

const SEQ_PREFIX = /^\{"seq":(\d+),/;

/** The seq of a line from its first bytes, or undefined (a torn line, or one from before seq). */
function seqOf(head: string): number | undefined {
  const m = SEQ_PREFIX.exec(head);
  return m === null ? undefined : Number(m[1]);
}

/** Reads backwards from `end` for the last line that starts with a seq. */
function lastSeqIn(fd: number, end: number): number | undefined {
  let pos = end;
  let carry = Buffer.alloc(0);
  // The last line is usually within the last few KiB: read that first (this runs under the
  // journal lock whenever another process appended last), then larger chunks.
  let buf = Buffer.allocUnsafe(4 * 1024);
  while (pos > 0) {
    if (pos < end && buf.length < 64 * 1024) buf = Buffer.allocUnsafe(64 * 1024);
    const len = Math.min(buf.length, pos);
    pos -= len;
    readSync(fd, buf, 0, len, pos);
    const joined = Buffer.concat([buf.subarray(0, len), carry]);
    // Every line start in `joined` (after a newline), latest first; the first one only when at 0.
    let idx = joined.length - 1;
    for (;;) {
      const nl = joined.lastIndexOf(0x0a, idx - 1);
      if (nl < 0) break;
      const s = seqOf(joined.toString('latin1', nl + 1, Math.min(joined.length, nl + 32)));
      if (s !== undefined) return s;
      idx = nl;
    }
    if (pos === 0) return seqOf(joined.toString('latin1', 0, Math.min(joined.length, 32)));
    // Keep only the unfinished first line's start (bounded: a seq sits in its first bytes).
    const firstNl = joined.indexOf(0x0a);
    carry = Buffer.from(joined.subarray(0, firstNl < 0 ? Math.min(joined.length, 64) : Math.min(firstNl, 64)));
  }
  return undefined;
}

function countLines(fd: number, end: number): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let lines = 0;
  let lastWasNl = true;
  for (let pos = 0; pos < end; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    if (n === 0) break;
    for (let i = 0; i < n; i++) if (buf[i] === 0x0a) lines++;
    lastWasNl = buf[n - 1] === 0x0a;
    pos += n;
  }
  return lastWasNl ? lines : lines + 1;
}

// ---- reading ----

/** One journal line as read: the entry, or undefined for a torn or foreign line. */
export function parseEntry(line: string, implicitSeq: number): JournalEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const e = value as Partial<JournalEntry>;
  if (typeof e.kind !== 'string' || typeof e.taskId !== 'string') return undefined;
  if (e.kind !== 'heartbeat' && (e.task === null || typeof e.task !== 'object')) return undefined;
  return typeof e.seq === 'number' ? (e as JournalEntry) : ({ ...e, seq: implicitSeq } as JournalEntry);
}

/** Parses journal text (tests and small inputs); a torn line is skipped. */
export function parseJournal(text: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    lineNo++;
    const e = parseEntry(line, lineNo);
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** Every line of a file, streamed in chunks; a line over READ_LINE_LIMIT is skipped unread. */
export function* fileLines(path: string, from = 0): Generator<{ line: string; end: number }> {
  const fd = openIfExists(path);
  if (fd === undefined) return;
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let parts: Buffer[] = [];
    let partLen = 0;
    let skipping = false;
    let pos = from;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0 || nl >= n) break;
        if (!skipping) {
          const piece = buf.subarray(start, nl);
          const line = partLen === 0 ? piece.toString('utf8') : Buffer.concat([...parts, piece]).toString('utf8');
          yield { line, end: pos + nl + 1 };
        }
        parts = [];
        partLen = 0;
        skipping = false;
        start = nl + 1;
      }
      if (start < n && !skipping) {
        partLen += n - start;
        if (partLen > READ_LINE_LIMIT) {
          parts = [];
          partLen = 0;
          skipping = true;
        } else parts.push(Buffer.from(buf.subarray(start, n)));
      }
      pos += n;
    }
    // A last line without its newline is a write in progress or torn: not an entry yet.
  } finally {
    closeSync(fd);
  }
}

/**
 * Every entry after seq `after`, oldest first, across sealed files and the live one, in constant
 * memory. Sealed files wholly at or before `after` are not opened, and in the first file read the
 * start is found by bisection (seqs grow with the offset), so a page costs its own lines, not the
 * journal's size.
 */
export function* journalEntries(journal: Journal, after = 0): Generator<JournalEntry> {
  let lastSeq = 0;
  const sealed = journal.sealed();
  const files = [...sealed.filter((s) => s.lastSeq > after).map((s) => s.path), journal.path];
  const skipped = files.length < sealed.length + 1;
  for (const [i, path] of files.entries()) {
    let lineNo = 0;
    const from = i === 0 && after > 0 ? offsetAfter(path, after) : 0;
    const first = i === 0 && from === 0 && !skipped;
    for (const { line } of fileLines(path, from)) {
      if (line.length === 0) continue;
      lineNo++;
      // Lines without a seq come only from before seq existed, at the start of the first file.
      const e = parseEntry(line, first ? lineNo : lastSeq + 1);
      if (e === undefined || e.seq <= lastSeq) continue;
      lastSeq = e.seq;
      if (e.seq > after) yield e;
    }
  }
}

/** A line start in `path` such that every entry before it has a seq <= `after` (0 when unsure). */
function offsetAfter(path: string, after: number): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  try {
    let lo = 0;
    let hi = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(64 * 1024);
    while (hi - lo > buf.length) {
      const mid = Math.floor((lo + hi) / 2);
      const n = readSync(fd, buf, 0, buf.length, mid);
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl < 0 || nl + 1 >= n) {
        hi = mid; // a very long line here: look earlier
        continue;
      }
      const start = mid + nl + 1;
      if (start >= hi) {
        hi = mid;
        continue;
      }
      const s = seqOf(buf.toString('latin1', nl + 1, Math.min(n, nl + 33)));
      if (s === undefined) return lo; // a line without seq (torn, or from before seq): read on from here
      if (s <= after) lo = start;
      else hi = mid;
    }
    return lo;
  } finally {
    closeSync(fd);
  }
}

/** The last `limit` entries that match, oldest first: read backwards from the end, in memory bounded by `limit`. */
export function lastEntries(journal: Journal, limit: number, match: (e: JournalEntry) => boolean): JournalEntry[] {
  const out: JournalEntry[] = [];
  const files = [
    journal.path,
    ...journal
      .sealed()
      .map((s) => s.path)
      .reverse(),
  ];
  for (const path of files) {
    for (const line of linesBackward(path)) {
      const e = parseEntry(line, 0);
      if (e === undefined) continue;
      // A line from before seq existed is numbered by its line number, known only reading forwards.
      if (e.seq === 0) return lastEntriesForward(journal, limit, match);
      if (!match(e)) continue;
      out.push(e);
      if (out.length >= limit) return out.reverse();
    }
  }
  return out.reverse();
}

function lastEntriesForward(journal: Journal, limit: number, match: (e: JournalEntry) => boolean): JournalEntry[] {
  const ring: JournalEntry[] = [];
  for (const e of journalEntries(journal)) {
    if (!match(e)) continue;
    ring.push(e);
    if (ring.length > limit) ring.shift();
  }
  return ring;
}

/** Complete lines of a file, last first. */
function* linesBackward(path: string): Generator<string> {
  const fd = openIfExists(path);
  if (fd === undefined) return;
  try {
    let pos = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(CHUNK);
    let tail: Buffer[] = []; // the pieces of the line being assembled, first piece first
    let tailLen = 0;
    let skipping = false;
    let sawEnd = false;
    while (pos > 0) {
      const len = Math.min(buf.length, pos);
      pos -= len;
      readSync(fd, buf, 0, len, pos);
      let end = len;
      for (;;) {
        const nl = buf.lastIndexOf(0x0a, end - 1);
        if (nl < 0) break;
        if (sawEnd && !skipping) {
          const line = Buffer.concat([buf.subarray(nl + 1, end), ...tail]).toString('utf8');
          if (line.length > 0) yield line;
        }
        sawEnd = true; // the text after the file's last newline is a torn line: never yielded
        tail = [];
        tailLen = 0;
        skipping = false;
        end = nl;
      }
      if (sawEnd && !skipping) {
        tailLen += end;
        if (tailLen > READ_LINE_LIMIT) {
          tail = [];
          tailLen = 0;
          skipping = true;
        } else tail.unshift(Buffer.from(buf.subarray(0, end)));
      }
    }
    if (sawEnd && !skipping && tailLen > 0) yield Buffer.concat(tail).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The largest numeric task id in the journal's entries after seq `after` (all of them when 0: streamed). */
export function maxIdInJournal(journal: Journal, after = 0): number {
  let max = 0;
  for (const e of journalEntries(journal, after)) {
    if (/^[1-9][0-9]*$/.test(e.taskId)) max = Math.max(max, Number(e.taskId));
  }
  return max;
}

/** A file opened for reading, or undefined when it does not exist (a journal not written yet). */
function openIfExists(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
