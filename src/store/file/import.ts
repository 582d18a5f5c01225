import { closeSync, fdatasyncSync, mkdirSync, openSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { compareIds, isNumericId, serializeTask, TasklaneError } from '../../model/index.js';
import { exportedEntry, ImportChecker } from '../export-format.js';
import type { ExportRecord, ImportOptions, ImportReport } from '../types.js';
import { commitFiles, discardStaged, type FileChange, type StagedFile, stageFileAsync } from './commit.js';
import { writeFileDurable } from './durable.js';
import { JOURNAL_LINE_LIMIT, type Journal } from './journal.js';
import { taskFileName, taskFileNames } from './task-files.js';

// Importing export records (export-format.ts) into a file-store list, all or nothing.
//
// 1. Before any input is read, a list with task files or history is refused unless `force`.
// 2. The records stream in and are checked one by one (ImportChecker): each task's file content is
//    written and flushed to a temp file beside its final name (a few at once: their flushes
//    overlap, which makes an import about twice as fast), the journal lines to a temp file
//    beside the journal; memory holds only each task's id and edges. Nothing is visible yet, and
//    any bad record (or the final checks: edges on both sides, no cycle) removes every temp file
//    and every directory the import made, so the list is exactly as it was.
// 3. Under the list lock (and, with `force`, the lock of every task being replaced), emptiness is
//    checked again; commit.ts's `commitFiles` confirms right before its renames that every file is
//    as it was when its lock was taken, or still absent (fence.ts), renames every task file into
//    place (removing the replaced ones, and writing `.highwatermark` when the high-water mark is
//    above every imported id, so Claude Code never reuses an id either), and its journal step swaps
//    the new journal in (the old one, with `force`, moved to `replaced-<time>/` beside it); if that
//    step fails, the files are put back. The entries keep their seqs; none is added for the import
//    itself, so exporting again gives the same records.
// A crash during step 3's renames can leave part of the import in place: run it again with force.

export interface ImportTarget {
  listId: string;
  listDir: string;
  journal: Journal;
  /** `<id> <seq>`: the file store's record of the highest id its journal names (FileStore.recordHighestId). */
  highestIdPath: string;
  highWaterMark(): number;
  withListLock<T>(fn: () => Promise<T>): Promise<T>;
  withTaskLocks<T>(ids: string[], fn: () => Promise<T>): Promise<T>;
  /**
   * Right before the renames (fence.ts): the task file named `<stem>.json` is as it was when its
   * lock was taken, or, `creating`, still absent. Throws CONFLICT otherwise.
   */
  confirm(stem: string, creating: boolean): void;
}

let counter = 0;
/** Task files being written and flushed at once during an import. */
const STAGING_WINDOW = 8;

export async function importFileList(
  t: ImportTarget,
  records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  const force = opts.force === true;
  if (!force) refuseNonEmpty(t);

  const made = [...madeDirs(t.listDir), ...madeDirs(t.journal.dir)];
  const staged = new Map<string, { path: string; file?: StagedFile; id: string; line: number }>();
  // Task files are staged a few at a time, their flushes overlapping; the first failure is thrown
  // at the next record, and every write is waited for before anything is committed or cleaned up.
  const inflight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  const settle = async (): Promise<void> => {
    await Promise.all(inflight);
    if (failure !== undefined) throw failure.err;
  };
  const journalTmp = join(t.journal.dir, `.journal.jsonl.tmp-${process.pid}-import${counter++}`);
  let fd: number | undefined = openSync(journalTmp, 'w', 0o644);
  let committed = false;
  try {
    const checker = new ImportChecker();
    let line = 0;
    let lastSeq = 0;
    let maxTaskId = 0;
    let pending = '';
    const flush = (): void => {
      const buf = Buffer.from(pending);
      let off = 0;
      while (off < buf.length) off += writeSync(fd as number, buf, off, buf.length - off);
      pending = '';
    };
    for await (const raw of records) {
      line++;
      const record = checker.check(raw, line);
      if (record.type === 'task') {
        const { task } = record;
        const name = taskFileName(task.id);
        const clash = staged.get(name);
        if (clash !== undefined) {
          throw new TasklaneError(
            'INVALID_INPUT',
            `record ${line}: task ${JSON.stringify(task.id)} would be stored in the same file, ${name}, as task ${JSON.stringify(clash.id)} (record ${clash.line}); the file store names files by id with every character outside [a-zA-Z0-9_-] as "-"`,
            { task: task.id, field: 'task.id' },
          );
        }
        const path = join(t.listDir, name);
        const entry: { path: string; file?: StagedFile; id: string; line: number } = { path, id: task.id, line };
        staged.set(name, entry);
        const write: Promise<void> = stageFileAsync(path, serializeTask(task)).then(
          (file) => {
            entry.file = file;
          },
          (err: unknown) => {
            failure ??= { err };
          },
        );
        inflight.add(write);
        void write.then(() => inflight.delete(write));
        if (inflight.size >= STAGING_WINDOW) await Promise.race(inflight);
        if (failure !== undefined) throw failure.err;
        if (isNumericId(task.id)) maxTaskId = Math.max(maxTaskId, Number(task.id));
      } else if (record.type === 'journal') {
        const text = `${JSON.stringify(exportedEntry(record.entry))}\n`;
        if (Buffer.byteLength(text) > JOURNAL_LINE_LIMIT) {
          throw new TasklaneError(
            'INVALID_INPUT',
            `record ${line}: journal entry seq ${record.entry.seq} is ${Buffer.byteLength(text)} bytes; a journal line is at most ${JOURNAL_LINE_LIMIT} bytes`,
            { task: record.entry.taskId, field: 'entry' },
          );
        }
        pending += text;
        if (pending.length > 1024 * 1024) flush();
        lastSeq = record.entry.seq;
      }
    }
    await settle();
    const summary = checker.finish();
    flush();
    fdatasyncSync(fd);
    closeSync(fd);
    fd = undefined;

    const highestId = await t.withListLock(async () => {
      if (!force) refuseNonEmpty(t);
      const replaced = force ? taskFileNames(t.listDir) : [];
      const stems = replaced.map((name) => name.slice(0, -5)).sort(compareIds);
      return t.withTaskLocks(stems, async () => {
        // Never lower: an empty list may still carry a high-water mark (Claude Code's `.highwatermark`
        // after it cleared the list), and a replaced list's ids must not come back either.
        const high = Math.max(summary.highestId, t.highWaterMark());
        const changes: FileChange[] = [...staged.values()].map((s) => ({ path: s.path, staged: s.file as StagedFile }));
        for (const name of replaced) if (!staged.has(name)) changes.push({ path: join(t.listDir, name) });
        // Claude Code's own record of ids given out, so it never reuses an id either.
        if (high > maxTaskId) changes.push({ path: join(t.listDir, '.highwatermark'), data: String(high) });
        const aside = force
          ? join(t.journal.dir, `replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`)
          : undefined;
        const present = new Set(replaced);
        const confirm = (): void => {
          for (const name of new Set([...staged.keys(), ...replaced])) t.confirm(name.slice(0, -5), !present.has(name));
        };
        commitFiles(changes, () => t.journal.replaceWith(journalTmp, aside), confirm);
        committed = true;
        try {
          // A shortcut for the next id (FileStore.highestId): the journal alone may not name the highest id.
          writeFileDurable(t.highestIdPath, `${high} ${lastSeq}`);
        } catch {}
        return high;
      });
    });
    return { tasks: summary.tasks, entries: summary.entries, highestId };
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (!committed) {
      await Promise.allSettled(inflight);
      discardStaged([...staged.values()].flatMap((s) => (s.file === undefined ? [] : [s.file])));
      try {
        unlinkSync(journalTmp);
      } catch {}
      // Deepest first; a directory someone else wrote into meanwhile stays.
      for (const dir of made.sort((a, b) => b.length - a.length)) {
        try {
          rmdirSync(dir);
        } catch {}
      }
    }
  }
}

/** A list with a task file or any history is not empty: an import would mix two lists. */
function refuseNonEmpty(t: ImportTarget): void {
  const files = taskFileNames(t.listDir).length;
  const history = t.journal.hasEntries();
  if (files === 0 && !history) return;
  const what =
    files > 0 ? `${files} task file${files === 1 ? '' : 's'}` : 'a history (its tasks were deleted or cleared)';
  throw new TasklaneError(
    'CONFLICT',
    `list ${t.listId} is not empty: it has ${what}. Import into a new list (--list NAME), or replace its tasks and history with tasklane import --replace (the old history is kept aside)`,
    { list: t.listId, file: t.listDir },
  );
}

/** Makes `dir` and returns the directories that did not exist, outermost first. */
function madeDirs(dir: string): string[] {
  const first = mkdirSync(dir, { recursive: true });
  if (first === undefined) return [];
  const out: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    out.unshift(d);
    if (d === first || relative(first, d) === '' || dirname(d) === d) break;
  }
  return out;
}
