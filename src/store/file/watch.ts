import { closeSync, type FSWatcher, fstatSync, openSync, readSync, statSync, watch } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import {
  changedOutsideTasklane,
  compareIds,
  formatDuration,
  revisionBefore,
  revisionOf,
  sealRevision,
  serializeTask,
  type Task,
  tasklaneFields,
  withTasklaneFields,
} from '../../model/index.js';
import type { Change, ChangeKind, JournalEntry } from '../types.js';
import {
  FEED_DEFAULTS,
  type FeedSlot,
  type FeedSourceOptions,
  type FeedStart,
  type LiveSource,
  takeFeedStart,
} from './feed-start.js';
import { type SubscribeOptions, subscribeFeed } from './feed-subscriber.js';
import { fileLines, JOURNAL_LINE_LIMIT, Journal, parseEntry } from './journal.js';
import { type FileStamp, readTaskFile, sameStamp, stampOf, taskFileName, taskFileNames } from './task-files.js';

export { MAX_QUEUED_CHANGES } from './feed-subscriber.js';

// The file store's change feed: one source per list in a process (feed-start.ts keeps them),
// however many subscribers (feed-subscriber.ts: each its own bounded queue and cursor). The
// source finds every change once and hands it to each subscriber. It reads two things:
// - the journal, which holds every change Tasklane makes, exactly and in order (tailed from its
//   end at start);
// - the list directory itself, for changes written by others (Claude Code writes task files
//   directly, sometimes non-atomically), found by reading files and diffing against what was
//   last reported.
// fs.watch events only say "look now"; a full rescan every `rescanMs` is the correctness floor,
// so a dropped event, a replaced directory or a dead watcher costs latency, never a change.
// With N subscribers that is one rescan per period, not N, and one copy of the list's tasks.
//
// Telling a Tasklane write seen in the directory from a foreign one: Tasklane renames the task
// file into place and only then appends the journal line, and every Tasklane write bumps
// metadata.tasklane.rev, which Claude Code preserves but never bumps, and records a fingerprint of
// what it wrote (revision.ts). So a file whose revision is ahead of what was reported and whose
// fingerprint matches is a Tasklane write whose journal line is on its way: wait for it (up to
// `journalGraceMs`). A file whose fingerprint does not match, or (with no fingerprint) at the
// reported revision with other content, is a foreign change: report it at once. A file behind the
// reported revision is a stale read: ignore it.
//
// Every change carries `seq`: a journaled change its entry's, any other the seq of the last entry
// applied before it. With `since`, a subscriber first replays the journal's entries after that seq
// (read as it consumes them, not held), while the source's changes found meanwhile wait; then it
// takes those, minus the journaled ones its replay covered: no gap, and no journal entry twice.
// A rotated journal (see journal.ts) is finished from its sealed file before the new live file is
// read. A line longer than any Tasklane writes is skipped without being held, so it cannot stall
// the feed.

export interface WatchListOptions extends FeedSourceOptions {
  signal?: AbortSignal;
  /** Emit a `created` change for every task present at start. Default false. */
  initial?: boolean;
  /** Replay the journal's entries after this seq first, then follow live. */
  since?: number;
}

interface Known {
  task: Task;
  content: string;
  rev: number;
  /** Known only from the snapshot taken at start, not yet from the journal or a later read. */
  fromSnapshot: boolean;
}

interface Pending {
  id: string;
  /** Journal entries applied when the file was read; a newer entry for the id may explain it. */
  jseq: number;
  deadline: number;
}

type FileRead = { kind: 'task'; task: Task } | { kind: 'missing' } | { kind: 'unreadable' };

const JOURNAL_NAME_FALLBACK = 'journal.jsonl';
const MAX_UNREADABLE_RETRIES = 5;
const PENDING_RECHECK_MS = 50;

/** Sources running in this process (watchers and timers held), for tests and diagnostics. */
let running = 0;
export function liveFeedSources(): number {
  return running;
}

/**
 * An async iterable of the list's changes from now on, from the list's shared source. The
 * subscriber joins when this is called, so changes made after the call are delivered even if
 * iteration starts later. The source's watchers and timers run while any subscriber iterating
 * is attached; each subscriber leaves when `signal` aborts, its loop exits, or it falls behind.
 */
export function watchList(opts: WatchListOptions): AsyncIterable<Change> {
  return subscribeFeed(opts as SubscribeOptions, async () => ({ runSource }));
}

/** Runs the slot's source (made from its start) unless it runs already or has no subscriber left. */
export function runSource(slot: FeedSlot): LiveSource | undefined {
  if (slot.source !== undefined) return slot.source;
  if (slot.members.size === 0) return undefined;
  const source = new ListSource(slot, slot.start);
  slot.start = undefined;
  slot.source = source;
  source.start();
  return source;
}

class ListSource implements LiveSource {
  private readonly o: Required<Omit<FeedSourceOptions, 'watchDir'>> & Pick<FeedSourceOptions, 'watchDir'>;
  private readonly known = new Map<string, Known>();
  /** File name -> task id, for files that vanish. */
  private readonly fileToId = new Map<string, string>();
  /** Recent journal contents per id: a file read showing one of them is stale, not foreign. */
  private readonly journaled = new Map<string, { content: string; at: number }[]>();
  /** Journal entries applied per id (as the global `jseq` at the time). */
  private readonly lastJournal = new Map<string, number>();
  private jseq = 0;
  /** The seq of the last journal entry applied. */
  private lastSeq = 0;
  /** Inside a line too long to be ours: skip to its end. */
  private skippingLine = false;
  /** File changes waiting for their journal line, by file name. */
  private readonly pending = new Map<string, Pending>();
  private readonly dirty = new Set<string>();
  private readonly unreadable = new Map<string, number>();
  private journal: { offset: number; ino: number | undefined } = { offset: 0, ino: undefined };

  private running = false;
  private closed = false;

  private polling: boolean;
  private watchers: { list?: Watched; root?: Watched; journal?: Watched } = {};
  private want = { journal: false, files: false, full: false };
  private tickTimer: NodeJS.Timeout | undefined;
  private pendingTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  /** Each task file as the last rescan read it, by its stamp (see stampedScan). */
  private readonly scanned = new Map<string, { stamp: FileStamp; task: Task }>();
  /** Files the last rescan could not read, by their stamp then. */
  private invalidFiles = new Map<string, string>();
  private journalPollTimer: NodeJS.Timeout | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly slot: FeedSlot,
    start: FeedStart | undefined,
  ) {
    const opts = slot.options;
    this.o = {
      listDir: opts.listDir,
      journalPath: opts.journalPath,
      list: opts.list,
      scan: opts.scan,
      watchDir: opts.watchDir,
      rescanMs: opts.rescanMs ?? FEED_DEFAULTS.rescanMs,
      debounceMs: opts.debounceMs ?? FEED_DEFAULTS.debounceMs,
      useFsEvents: opts.useFsEvents ?? FEED_DEFAULTS.useFsEvents,
      journalGraceMs: opts.journalGraceMs ?? FEED_DEFAULTS.journalGraceMs,
      onWarning: opts.onWarning ?? (() => {}),
    };
    this.polling = !this.o.useFsEvents;
    const { journal, snapshot } = start ?? takeFeedStart(this.o.journalPath, () => this.safeScan() ?? new Map());
    this.journal = { ...journal };
    for (const id of [...snapshot.keys()].sort(compareIds)) {
      const task = snapshot.get(id) as Task;
      this.remember(task, serializeTask(task), true);
    }
  }

  present(): { tasks: Task[]; seq: number } {
    // Lines appended before the call are read first: what they did is part of the present.
    if (!this.closed) this.drainJournal();
    const ids = [...this.known.keys()].sort(compareIds);
    return { tasks: ids.map((id) => (this.known.get(id) as Known).task), seq: this.lastSeq };
  }

  /** Hands a change to every subscriber (each keeps its own bounded queue). */
  private push(c: { kind: ChangeKind; task: Task; at: string }, journaled = false): void {
    if (this.closed) return;
    const change: Change = {
      kind: c.kind,
      list: this.o.list,
      taskId: c.task.id,
      task: c.task,
      rev: revisionOf(c.task),
      at: c.at,
      seq: this.lastSeq,
    };
    for (const member of [...this.slot.members]) member.deliver(change, journaled);
  }

  /**
   * The journal's changes after `since`, oldest first, across sealed files and the live one, as
   * each is asked for; returns the last seq read. A heartbeat entry carries only its fields: they
   * apply to the task as the replay last saw it, else as the source knows it, else as its file is.
   */
  *replay(since: number): Generator<Change, number> {
    const seen = new Map<string, Task>();
    let last = 0;
    const toChange = (e: JournalEntry): Change | undefined => {
      let task = e.task;
      if (task === undefined) {
        const base = seen.get(e.taskId) ?? this.known.get(e.taskId)?.task;
        if (base !== undefined && e.fields !== undefined) {
          task = withTasklaneFields(base, { ...tasklaneFields(base), ...e.fields });
        } else {
          const read = this.readFile(taskFileName(e.taskId));
          if (read.kind !== 'task' || revisionOf(read.task) !== e.fields?.rev) return undefined;
          task = read.task;
        }
      }
      if (e.kind === 'deleted') seen.delete(e.taskId);
      else seen.set(e.taskId, task);
      return { kind: e.kind, list: this.o.list, taskId: e.taskId, task, rev: revisionOf(task), at: e.at, seq: e.seq };
    };
    const journal = new Journal(dirname(this.o.journalPath));
    for (const sealed of journal.sealed()) {
      if (sealed.lastSeq <= since) {
        last = Math.max(last, sealed.lastSeq);
        continue;
      }
      for (const { line } of fileLines(sealed.path)) {
        const e = parseEntry(line, last + 1);
        if (e === undefined) continue;
        last = Math.max(last, e.seq);
        const c = e.seq > since ? toChange(e) : undefined;
        if (c !== undefined) yield c;
      }
    }
    if (!existsFile(this.o.journalPath)) return last;
    let lineNo = 0;
    for (const { line } of fileLines(this.o.journalPath)) {
      if (line.length === 0) continue;
      lineNo++;
      const e = parseEntry(line, lineNo);
      if (e === undefined) continue;
      last = Math.max(last, e.seq);
      const c = e.seq > since ? toChange(e) : undefined;
      if (c !== undefined) yield c;
    }
    return last;
  }

  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    running++;
    this.rescanTimer = setInterval(() => this.request('full', 0), this.o.rescanMs);
    if (this.polling) this.startJournalPolling();
    else this.ensureWatchers();
    // Catch up on anything that happened between the start and now.
    this.request('full', 0);
  }

  /** Releases every watcher and timer; the last subscriber's leaving calls it. */
  stop(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.running) running--;
    for (const t of [this.tickTimer, this.pendingTimer, this.retryTimer]) clearTimeout(t);
    for (const t of [this.rescanTimer, this.journalPollTimer]) clearInterval(t);
    this.closeWatchers();
  }

  // ---- scheduling ----

  /** Asks for a tick after `delay` ms; requests made meanwhile are coalesced into it. */
  private request(what: 'journal' | 'files' | 'full', delay = this.o.debounceMs): void {
    if (this.closed) return;
    this.want[what] = true;
    if (this.tickTimer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.tickTimer);
    }
    this.tickTimer = setTimeout(() => {
      this.tickTimer = undefined;
      this.tick();
    }, delay);
  }

  private tick(): void {
    if (this.closed) return;
    const want = this.want;
    this.want = { journal: false, files: false, full: false };
    // A few stats: notices a directory that appeared or was replaced (its old watcher is dead).
    if (!this.polling) this.ensureWatchers();
    this.drainJournal();
    if (want.full) {
      const scan = this.stampedScan();
      if (scan !== undefined) this.diffSnapshot(scan.tasks, scan.changed);
    }
    const names = [...this.dirty];
    this.dirty.clear();
    for (const name of names) this.observe(name, this.readFile(name));
    // Lines appended while we read the files explain those files: apply them, then recheck.
    this.drainJournal();
    this.recheckPending();
    this.expirePending();
    if (want.full) this.pruneJournaled();
  }

  // ---- the journal ----

  /** Applies every complete line appended to the journal since the last drain. */
  private drainJournal(): void {
    let fd: number;
    try {
      fd = openSync(this.o.journalPath, 'r');
    } catch (err) {
      if (isMissing(err)) {
        // Rotated a moment ago (the next append makes the live file again), or never written.
        this.catchUpSealed();
        this.journal = { offset: 0, ino: undefined };
      } else this.warn(`cannot read the journal ${this.o.journalPath}: ${(err as Error).message}`);
      return;
    }
    try {
      const st = fstatSync(fd);
      if (this.journal.ino === undefined || st.ino !== this.journal.ino) {
        // New since the last look (rotated): finish the sealed files first, then this one from its start.
        if (!this.catchUpSealed()) {
          // Its entries were rotated away before we read them: a full rescan catches up.
          this.journal = { offset: st.size, ino: st.ino };
          this.request('full', 0);
          return;
        }
        this.journal = { offset: 0, ino: st.ino };
      } else if (st.size < this.journal.offset) {
        // Truncated (a failed append cut back, or another program): skip to its end and rescan.
        this.journal = { offset: st.size, ino: st.ino };
        this.request('full', 0);
        return;
      }
      this.drainFd(fd, st.size);
    } finally {
      closeSync(fd);
    }
  }

  /** Applies the complete lines of `fd` from the current offset up to `size`. */
  private drainFd(fd: number, size: number): void {
    // Room for the longest line a Tasklane writer makes; a longer one is foreign: skipped.
    const room = JOURNAL_LINE_LIMIT + 64 * 1024;
    while (size > this.journal.offset) {
      const length = Math.min(size - this.journal.offset, room);
      const buf = Buffer.allocUnsafe(length);
      const n = readSync(fd, buf, 0, length, this.journal.offset);
      if (n === 0) break;
      const end = buf.lastIndexOf(10, n - 1);
      if (end < 0) {
        if (n < room) break; // only a partial line so far
        this.skippingLine = true;
        this.journal.offset += n;
        this.warn(`skipping a journal line longer than ${room} bytes in ${this.o.journalPath}`);
        continue;
      }
      this.journal.offset += end + 1;
      const lines = buf.toString('utf8', 0, end).split('\n');
      if (this.skippingLine) {
        lines.shift(); // the end of the long line
        this.skippingLine = false;
      }
      for (const line of lines) {
        if (line.length > 0) this.applyLine(line);
      }
      if (n < length) break;
    }
  }

  /**
   * After a rotation: the rest of the file we were reading (now sealed), then every sealed file
   * with entries past the last seq applied. False when a file we needed was already removed.
   */
  private catchUpSealed(): boolean {
    const was = this.journal;
    let complete = true;
    let foundOurs = was.ino === undefined;
    for (const sealed of new Journal(dirname(this.o.journalPath)).sealed()) {
      if (sealed.lastSeq <= this.lastSeq) continue;
      let fd: number;
      try {
        fd = openSync(sealed.path, 'r');
      } catch {
        complete = false;
        continue;
      }
      try {
        const st = fstatSync(fd);
        const ours = st.ino === was.ino;
        foundOurs ||= ours;
        this.journal = { offset: ours ? was.offset : 0, ino: st.ino };
        this.drainFd(fd, st.size);
      } finally {
        closeSync(fd);
      }
    }
    this.journal = was;
    return complete && (foundOurs || this.lastSeq === 0);
  }

  private applyLine(line: string): void {
    const entry = parseEntry(line, this.lastSeq + 1);
    if (entry !== undefined) this.applyEntry(entry);
  }

  private applyEntry(entry: JournalEntry): void {
    if (entry.seq <= this.lastSeq) return; // seen already (a replay meeting the live tail)
    this.lastSeq = entry.seq;
    const kind = entry.kind;
    const at = entry.at;
    const id = entry.taskId;
    let task = entry.task;
    if (task === undefined) {
      // A heartbeat: only its fields. Bring the known copy up to date, or read the file.
      const k = this.known.get(id);
      if (k !== undefined && entry.fields !== undefined) {
        task = sealRevision(withTasklaneFields(k.task, { ...tasklaneFields(k.task), ...entry.fields }));
      } else {
        const read = this.readFile(taskFileName(id));
        if (read.kind !== 'task' || revisionOf(read.task) !== entry.fields?.rev) return;
        task = read.task;
      }
    }
    const content = serializeTask(task);
    this.jseq++;
    this.lastJournal.set(id, this.jseq);
    const recent = this.journaled.get(id) ?? [];
    this.journaled.set(id, recent);
    recent.push({ content, at: Date.now() });
    if (recent.length > 32) recent.shift();

    const k = this.known.get(id);
    if (kind === 'deleted') {
      if (k === undefined) return; // already reported from the directory, or never seen
      this.forget(id);
      this.push({ kind, task, at }, true);
      return;
    }
    const rev = revisionOf(task);
    // Already reported (a file change that outwaited its journal line), or older than what was.
    // Every line after the start is news for a task known only from the starting snapshot.
    const stale = k !== undefined && (k.rev > rev || (k.rev === rev && k.content === content));
    if (stale && !k.fromSnapshot) return;
    this.remember(task, content);
    this.push({ kind, task, at }, true);
  }

  // ---- the directory ----

  /**
   * `snapshot` holds every task the directory has; with `changed`, only those tasks' files changed
   * since the last rescan (the others were observed as they are then, so need not be again).
   */
  private diffSnapshot(snapshot: Map<string, Task>, changed?: ReadonlySet<string>): void {
    for (const task of snapshot.values()) {
      if (changed === undefined || changed.has(task.id)) this.observe(taskFileName(task.id), { kind: 'task', task });
    }
    for (const id of [...this.known.keys()]) {
      if (snapshot.has(id)) continue;
      // Absent from the scan: gone, or a file the scan could not parse (half-written). Look again.
      const name = taskFileName(id);
      this.observe(name, this.readFile(name));
    }
  }

  /** Reads one task file without waiting: a half-written file is `unreadable`, retried shortly. */
  private readFile(name: string): FileRead {
    try {
      const task = readTaskFile(join(this.o.listDir, name), 0);
      return task === undefined ? { kind: 'missing' } : { kind: 'task', task };
    } catch {
      return { kind: 'unreadable' };
    }
  }

  /** Classifies what the directory shows for one file; `force` reports what is still unexplained. */
  private observe(name: string, read: FileRead, force = false): void {
    if (read.kind === 'unreadable') {
      const tries = (this.unreadable.get(name) ?? 0) + 1;
      this.unreadable.set(name, tries);
      // A non-atomic writer is mid-write; look again soon (the rescan keeps looking after that).
      if (tries <= MAX_UNREADABLE_RETRIES) this.retrySoon(name);
      return;
    }
    this.unreadable.delete(name);
    if (read.kind === 'missing') {
      const id = this.fileToId.get(name);
      const k = id === undefined ? undefined : this.known.get(id);
      if (id === undefined || k === undefined) {
        this.pending.delete(name);
        return;
      }
      // Tasklane unlinks, then journals the delete: give the journal a moment to say so.
      if (!force) {
        this.hold(name, id);
        return;
      }
      this.pending.delete(name);
      this.forget(id);
      this.push({ kind: 'deleted', task: k.task, at: new Date().toISOString() });
      return;
    }
    const task = read.task;
    const id = task.id;
    const k = this.known.get(id);
    const content = serializeTask(task);
    if (k !== undefined && k.content === content) {
      this.pending.delete(name);
      return;
    }
    if (this.journaled.get(id)?.some((j) => j.content === content)) {
      this.pending.delete(name); // a state the journal already reported: a stale read
      return;
    }
    const rev = revisionOf(task);
    const knownRev = k?.rev ?? 0;
    if (k !== undefined && revisionBefore(task, k.task)) return; // older than what the journal said: stale
    if (rev > knownRev && !force && !changedOutsideTasklane(task)) {
      this.hold(name, id); // a Tasklane write, its journal line on its way
      return;
    }
    this.pending.delete(name);
    this.remember(task, content);
    this.push({ kind: inferKind(k?.task, task), task, at: new Date().toISOString() });
  }

  private hold(name: string, id: string): void {
    if (!this.pending.has(name)) {
      this.pending.set(name, { id, jseq: this.jseq, deadline: Date.now() + this.o.journalGraceMs });
    }
  }

  /** Journal lines arrived: re-read the held files of the tasks they concern. */
  private recheckPending(): void {
    for (const [name, p] of [...this.pending]) {
      if ((this.lastJournal.get(p.id) ?? 0) > p.jseq) {
        this.pending.delete(name);
        this.observe(name, this.readFile(name));
      }
    }
  }

  /** Held files whose journal line never came (a writer killed between rename and append): report them. */
  private expirePending(): void {
    const now = Date.now();
    for (const [name, p] of [...this.pending]) {
      if (p.deadline > now) continue;
      this.pending.delete(name);
      this.observe(name, this.readFile(name), true);
    }
    this.armPendingTimer();
  }

  private armPendingTimer(): void {
    clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    if (this.closed || this.pending.size === 0) return;
    // Look at the journal again soon (its watcher may not exist yet), and report at the deadline.
    let next = Date.now() + PENDING_RECHECK_MS;
    for (const p of this.pending.values()) next = Math.min(next, p.deadline);
    this.pendingTimer = setTimeout(
      () => {
        this.pendingTimer = undefined;
        this.request('journal', 0);
      },
      Math.max(0, next - Date.now()),
    );
  }

  private retrySoon(name: string): void {
    this.dirty.add(name);
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.request('files', 0);
    }, 20);
  }

  private remember(task: Task, content = serializeTask(task), fromSnapshot = false): void {
    this.known.set(task.id, { task, content, rev: revisionOf(task), fromSnapshot });
    this.fileToId.set(taskFileName(task.id), task.id);
  }

  private forget(id: string): void {
    this.known.delete(id);
    this.fileToId.delete(taskFileName(id));
  }

  /** Journal contents are kept only long enough to recognize stale reads. */
  private pruneJournaled(): void {
    const cutoff = Date.now() - Math.max(this.o.journalGraceMs, this.o.rescanMs) * 3;
    for (const [id, list] of this.journaled) {
      while (list.length > 0 && (list[0] as { at: number }).at < cutoff) list.shift();
      if (list.length === 0) this.journaled.delete(id);
    }
  }

  /**
   * The periodic rescan, reading only the files whose stamp (inode, size, mtime) changed since the
   * last one: a list of 5,000 tasks costs 5,000 stats a second instead of 5,000 reads and parses
   * (an idle board on it used 15 % of a core). A file is stamped before it is read, so one that
   * changes during the read is read again next time. A file that cannot be read or parsed is left
   * out, unstamped: diffSnapshot looks at it again (a writer mid-write), and it is re-read each
   * rescan until it parses. Unchanged stamps can hide an in-place rewrite of the same size within
   * one tick of the file system's clock; the file-system events that started the rescan see it.
   */
  private stampedScan(): { tasks: Map<string, Task>; changed: Set<string> } | undefined {
    let names: string[];
    try {
      names = taskFileNames(this.o.listDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') names = [];
      else {
        this.warn(`cannot scan ${this.o.listDir}: ${(err as Error).message}`);
        return undefined;
      }
    }
    const tasks = new Map<string, Task>();
    const changed = new Set<string>();
    const seen = new Set<string>();
    const invalid = this.invalidFiles;
    const stillInvalid = new Map<string, string>();
    for (const name of names) {
      seen.add(name);
      const path = join(this.o.listDir, name);
      let stamp: FileStamp;
      try {
        stamp = stampOf(statSync(path));
      } catch {
        this.scanned.delete(name); // gone since the listing
        continue;
      }
      const cached = this.scanned.get(name);
      if (cached !== undefined && sameStamp(cached.stamp, stamp)) {
        tasks.set(cached.task.id, cached.task);
        continue;
      }
      this.scanned.delete(name);
      let task: Task | undefined;
      try {
        task = readTaskFile(path, 0);
      } catch (err) {
        // Unreadable or invalid: looked at again by diffSnapshot and the next rescan. Named once it
        // stays so for a whole rescan period (a writer mid-write is not worth a warning).
        const key = `${stamp.ino}:${stamp.size}:${stamp.mtimeMs}`;
        if (invalid.get(name) === key) this.warn(`skipping ${(err as Error).message}`);
        stillInvalid.set(name, key);
        continue;
      }
      if (task === undefined) continue;
      this.scanned.set(name, { stamp, task });
      tasks.set(task.id, task);
      changed.add(task.id);
    }
    for (const name of [...this.scanned.keys()]) if (!seen.has(name)) this.scanned.delete(name);
    this.invalidFiles = stillInvalid;
    return { tasks, changed };
  }

  private safeScan(): Map<string, Task> | undefined {
    try {
      return this.o.scan();
    } catch (err) {
      this.warn(`cannot scan ${this.o.listDir}: ${(err as Error).message}`);
      return undefined;
    }
  }

  // ---- watchers ----

  /** (Re)creates the watchers whose directory appeared or was replaced since the last look. */
  private ensureWatchers(): void {
    if (this.polling || this.closed) return;
    this.ensure('list', this.o.listDir, (_event, name) => {
      if (name === null) return this.request('full');
      if (name.endsWith('.json') && !name.startsWith('.')) {
        this.dirty.add(name);
        this.request('files');
      }
    });
    const listName = basename(this.o.listDir);
    // The journal's directory may appear under the root too (`.tasklane`): look for it then.
    const root = dirname(this.o.listDir);
    const journalTop = relative(root, this.o.journalPath).split(sep)[0];
    this.ensure('root', root, (_event, name) => {
      if (name === null || name === listName) this.request('full');
      else if (name === journalTop) this.request('journal');
    });
    const journalName = basename(this.o.journalPath) || JOURNAL_NAME_FALLBACK;
    this.ensure('journal', dirname(this.o.journalPath), (_event, name) => {
      // No debounce: draining the journal is cheap, and events in one turn coalesce anyway.
      if (name === null || name === journalName) this.request('journal', 0);
    });
  }

  /** Watches `dir` in `slot` unless it is already watched under the same inode. */
  private ensure(
    slot: 'list' | 'root' | 'journal',
    dir: string,
    onEvent: (event: string, name: string | null) => void,
  ): void {
    let ino: number | undefined;
    try {
      const st = statSync(dir);
      if (st.isDirectory()) ino = st.ino;
    } catch {}
    const current = this.watchers[slot];
    if (current !== undefined && current.ino === ino) return;
    current?.watcher.close();
    delete this.watchers[slot];
    if (ino === undefined) return;
    let watcher: FSWatcher;
    try {
      watcher =
        this.o.watchDir?.(dir, onEvent) ??
        watch(dir, { persistent: true }, (event, name) => onEvent(event, name === null ? null : String(name)));
    } catch (err) {
      if (isMissing(err)) return;
      this.fallBackToPolling(dir, err);
      return;
    }
    watcher.on('error', (err) => {
      // A watched directory that was removed is normal (Claude Code empties finished lists): re-watch later.
      let gone = false;
      try {
        gone = statSync(dir).ino !== ino;
      } catch {
        gone = true;
      }
      if (gone) {
        watcher.close();
        if (this.watchers[slot]?.watcher === watcher) delete this.watchers[slot];
        this.request('full');
      } else this.fallBackToPolling(dir, err);
    });
    this.watchers[slot] = { watcher, ino };
  }

  private fallBackToPolling(dir: string, err: unknown): void {
    if (this.polling) return;
    this.polling = true;
    this.closeWatchers();
    this.o.onWarning(
      `file-change events are unavailable for ${dir} (${(err as Error).message}); polling every ${formatDuration(this.o.rescanMs)} instead`,
    );
    this.startJournalPolling();
  }

  /** Without events the journal is still cheap to poll often: one stat per period. */
  private startJournalPolling(): void {
    if (this.closed || this.journalPollTimer !== undefined) return;
    this.journalPollTimer = setInterval(() => this.request('journal', 0), Math.min(this.o.rescanMs, 100));
  }

  private closeWatchers(): void {
    for (const w of Object.values(this.watchers)) w?.watcher.close();
    this.watchers = {};
  }

  private warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.o.onWarning(message);
  }
}

interface Watched {
  watcher: FSWatcher;
  ino: number;
}

/** The kind of a change Tasklane did not journal, guessed from the transition. */
export function inferKind(before: Task | undefined, after: Task): ChangeKind {
  if (before === undefined) return 'created';
  if (after.status === 'completed' && before.status !== 'completed') return 'completed';
  if (tasklaneFields(after).failure !== undefined && tasklaneFields(before).failure === undefined) return 'failed';
  if (
    after.status === 'in_progress' &&
    after.owner !== undefined &&
    (before.status !== 'in_progress' || before.owner !== after.owner)
  ) {
    return 'claimed';
  }
  const depsOnly =
    serializeTask({ ...after, blocks: before.blocks, blockedBy: before.blockedBy }) === serializeTask(before);
  return depsOnly ? 'dependency' : 'updated';
}

function existsFile(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
