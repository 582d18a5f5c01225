import {
  assertTaskId,
  checkStoredTask,
  compareIds,
  findCycles,
  isNumericId,
  isTasklaneError,
  LIMITS,
  mayNestDeeperThan,
  orderTask,
  parseTask,
  type Task,
  TasklaneError,
  tooDeep,
} from '../model/index.js';
import { CHANGE_KINDS, type ExportRecord, type JournalEntry } from './types.js';

// The export format shared by every store: JSON lines, one record a line (ExportRecord in
// types.ts). Written by `exportLine` with keys in a fixed order, so exporting a list, importing it
// into any store and exporting again gives the same bytes (the first line's `exportedAt` aside:
// the CLI fixes it with SOURCE_DATE_EPOCH). Read by `readExport` (lines from a file or stdin) and
// checked record by record by `ImportChecker`, which both stores' `importList` run, so a bad input
// is refused the same way, naming its line, before a store writes anything.
//
// The rules an import checks: the `list` record first and once, version 1; every task valid
// (Claude Code's schema, Tasklane's limits) and its id once; every edge on both tasks, to a task
// of the export, and no cycle; journal entries valid and in rising seq order. Tasks and entries
// may come in any order relative to each other (exports write tasks first).

export const EXPORT_VERSION = 1;

/** The longest line an import reads: the largest task a store keeps, with room for a journal entry around it. */
export const EXPORT_LINE_LIMIT = LIMITS.taskBytes + 64 * 1024;

/** One record as its line: JSON with keys in a fixed order, and a newline. */
export function exportLine(record: ExportRecord): string {
  return `${JSON.stringify(orderRecord(record))}\n`;
}

function orderRecord(r: ExportRecord): ExportRecord {
  switch (r.type) {
    case 'list':
      return { type: 'list', list: r.list, version: r.version, highestId: r.highestId, exportedAt: r.exportedAt };
    case 'task':
      return { type: 'task', task: orderTask(r.task) };
    case 'journal':
      return { type: 'journal', entry: exportedEntry(r.entry) };
  }
}

/**
 * A journal entry as exports carry it: its fields in the journal's order, without the store's own
 * stamp (`file`: an inode means nothing in another store) and without keys the format does not know.
 */
export function exportedEntry(e: JournalEntry): JournalEntry {
  const out: Record<string, unknown> = { seq: e.seq, at: e.at, kind: e.kind, taskId: e.taskId };
  if (e.actor !== undefined) out.actor = e.actor;
  out.pid = e.pid;
  if (e.task !== undefined) out.task = orderTask(e.task);
  if (e.fields !== undefined) out.fields = e.fields;
  return out as unknown as JournalEntry;
}

/** Where a record came from, for error messages: a file and line, or the record's number. */
export interface RecordWhere {
  /** The file, `stdin`, or absent for records handed to a store directly. */
  file?: string;
  /** The line (equal to the record's number: an export has one record a line). */
  line: number;
}

function at(where: RecordWhere): string {
  return where.file === undefined ? `record ${where.line}` : `${where.file}:${where.line}`;
}

function invalid(where: RecordWhere, message: string, field?: string, cause?: unknown): TasklaneError {
  return new TasklaneError('INVALID_INPUT', `${at(where)}: ${message}`, {
    ...(where.file === undefined ? {} : { file: where.file }),
    ...(field === undefined ? {} : { field }),
    ...(cause === undefined ? {} : { cause }),
  });
}

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * Checks one record's shape and values (not its relation to other records: ImportChecker) and
 * returns it in the format's form: a task in Claude Code's key order, an entry without `file`.
 */
export function parseExportRecord(value: unknown, where: RecordWhere): ExportRecord {
  if (!isObject(value)) throw invalid(where, `a record must be a JSON object, got ${typeName(value)}`);
  switch (value.type) {
    case 'list':
      return parseListRecord(value, where);
    case 'task':
      return { type: 'task', task: parseExportedTask(value.task, where, 'task') };
    case 'journal':
      return { type: 'journal', entry: parseEntry(value.entry, where) };
    default:
      throw invalid(
        where,
        `type must be "list", "task" or "journal", got ${value.type === undefined ? 'none' : JSON.stringify(value.type)}`,
        'type',
      );
  }
}

function parseListRecord(v: Record<string, unknown>, where: RecordWhere): ExportRecord {
  if (v.version !== EXPORT_VERSION) {
    throw invalid(
      where,
      `version ${JSON.stringify(v.version)} is not one this tasklane reads (version ${EXPORT_VERSION}); export the list again with this tasklane, or upgrade`,
      'version',
    );
  }
  if (typeof v.list !== 'string' || v.list === '')
    throw invalid(where, 'list must be the list id, a non-empty string', 'list');
  if (typeof v.highestId !== 'number' || !Number.isSafeInteger(v.highestId) || v.highestId < 0) {
    throw invalid(where, `highestId must be a whole number >= 0, got ${JSON.stringify(v.highestId)}`, 'highestId');
  }
  if (typeof v.exportedAt !== 'string' || Number.isNaN(Date.parse(v.exportedAt))) {
    throw invalid(where, `exportedAt must be an ISO 8601 time, got ${JSON.stringify(v.exportedAt)}`, 'exportedAt');
  }
  return { type: 'list', list: v.list, version: EXPORT_VERSION, highestId: v.highestId, exportedAt: v.exportedAt };
}

/** A task as a store keeps it: Claude Code's schema, a valid id, Tasklane's limits, sane edges. */
function parseExportedTask(value: unknown, where: RecordWhere, field: string): Task {
  if (!isObject(value)) throw invalid(where, `${field} must be a task object, got ${typeName(value)}`, field);
  const deep = tooDeep(value, LIMITS.nestingDepth);
  if (deep !== undefined) {
    throw invalid(where, `${field}.${deep} nests more than ${LIMITS.nestingDepth} levels deep`, `${field}.${deep}`);
  }
  const guess = typeof value.id === 'string' ? value.id : undefined;
  let task: Task;
  try {
    task = parseTask(value, guess === undefined ? {} : { task: guess });
    assertTaskId(task.id);
    for (const side of ['blocks', 'blockedBy'] as const) {
      for (const other of task[side]) {
        assertTaskId(other, side);
        if (other === task.id)
          throw new TasklaneError('INVALID_INPUT', `${side} names the task itself`, { field: side });
      }
      if (new Set(task[side]).size !== task[side].length) {
        throw new TasklaneError('INVALID_INPUT', `${side} names a task twice`, { field: side });
      }
    }
    checkStoredTask(task);
  } catch (err) {
    if (!isTasklaneError(err)) throw err;
    const name = err.field === undefined ? field : `${field}.${err.field}`;
    // parseTask's message starts with "task ID: "; keep what follows, say where.
    const message = err.message.replace(/^task( \S+)?: /, '');
    throw invalid(where, `${field}${guess === undefined ? '' : ` ${guess}`}: ${message}`, name, err);
  }
  return task;
}

function parseEntry(value: unknown, where: RecordWhere): JournalEntry {
  if (!isObject(value)) throw invalid(where, `entry must be a journal entry object, got ${typeName(value)}`, 'entry');
  const e = value;
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1) {
    throw invalid(where, `entry.seq must be a whole number >= 1, got ${JSON.stringify(e.seq)}`, 'entry.seq');
  }
  if (typeof e.at !== 'string' || Number.isNaN(Date.parse(e.at))) {
    throw invalid(where, `entry.at must be an ISO 8601 time, got ${JSON.stringify(e.at)}`, 'entry.at');
  }
  if (typeof e.kind !== 'string' || !(CHANGE_KINDS as readonly string[]).includes(e.kind)) {
    throw invalid(
      where,
      `entry.kind must be one of ${CHANGE_KINDS.join(', ')}; got ${JSON.stringify(e.kind)}`,
      'entry.kind',
    );
  }
  let taskId: string;
  try {
    taskId = assertTaskId(e.taskId, 'taskId');
  } catch (err) {
    throw invalid(where, `entry.${(err as Error).message}`, 'entry.taskId', err);
  }
  if (e.actor !== undefined && typeof e.actor !== 'string') {
    throw invalid(where, `entry.actor must be a string, got ${typeName(e.actor)}`, 'entry.actor');
  }
  if (typeof e.pid !== 'number' || !Number.isSafeInteger(e.pid)) {
    throw invalid(where, `entry.pid must be a whole number, got ${JSON.stringify(e.pid)}`, 'entry.pid');
  }
  const entry: Record<string, unknown> = { seq: e.seq, at: e.at, kind: e.kind, taskId };
  if (e.actor !== undefined) entry.actor = e.actor;
  entry.pid = e.pid;
  if (e.kind === 'heartbeat') {
    // A heartbeat journals what it changed (rev, updatedAt, lease), not the task.
    if (!isObject(e.fields))
      throw invalid(where, 'entry.fields must be an object on a heartbeat entry', 'entry.fields');
    const deep = tooDeep(e.fields, LIMITS.nestingDepth);
    if (deep !== undefined) throw invalid(where, `entry.fields.${deep} nests too deep`, 'entry.fields');
    entry.fields = e.fields;
  } else {
    const task = parseExportedTask(e.task, where, 'entry.task');
    if (task.id !== taskId) {
      throw invalid(
        where,
        `entry.task.id ${JSON.stringify(task.id)} is not entry.taskId ${JSON.stringify(taskId)}`,
        'entry.task.id',
      );
    }
    entry.task = task;
  }
  return entry as unknown as JournalEntry;
}

/** What an import found once every record was read. */
export interface ImportSummary {
  /** The list the records were exported from. */
  list: string;
  tasks: number;
  entries: number;
  /** The high-water mark: the list record's, or the highest numeric id of a task or entry if higher. */
  highestId: number;
}

/**
 * Checks records as they stream by, each against those before it, keeping only each task's id,
 * edges and line (constant memory per record); `finish` checks what needs them all (edges on both
 * sides, no cycle). Errors name the record's line. Both stores run it on every import.
 */
export class ImportChecker {
  private list: { record: Extract<ExportRecord, { type: 'list' }>; line: number } | undefined;
  private readonly tasks = new Map<string, { line: number; blocks: string[]; blockedBy: string[] }>();
  private last: { seq: number; line: number } | undefined;
  private entries = 0;
  private maxId = 0;
  private count = 0;

  constructor(private readonly file?: string) {}

  private where(line: number): RecordWhere {
    return this.file === undefined ? { line } : { file: this.file, line };
  }

  /** Checks the next record (line `line`, by default its number), returning it in the format's form. */
  check(value: unknown, line = this.count + 1): ExportRecord {
    this.count++;
    const where = this.where(line);
    const record = parseExportRecord(value, where);
    if (this.list === undefined && record.type !== 'list') {
      throw invalid(
        where,
        `the first record must be the list record ({"type":"list",...}), got a ${record.type} record: is the file cut at its start, or not an export?`,
        'type',
      );
    }
    switch (record.type) {
      case 'list':
        if (this.list !== undefined) {
          throw invalid(
            where,
            `a second list record (the first is on line ${this.list.line}): one export, one list`,
            'type',
          );
        }
        this.list = { record, line };
        break;
      case 'task': {
        const { task } = record;
        const seen = this.tasks.get(task.id);
        if (seen !== undefined) {
          throw invalid(
            where,
            `task ${task.id} appears twice (also on line ${seen.line}); ids are unique in a list`,
            'task.id',
          );
        }
        this.tasks.set(task.id, { line, blocks: task.blocks, blockedBy: task.blockedBy });
        this.noteId(task.id);
        break;
      }
      case 'journal': {
        const { entry } = record;
        if (this.last !== undefined && entry.seq <= this.last.seq) {
          throw invalid(
            where,
            `journal entry seq ${entry.seq} is out of order: it comes after seq ${this.last.seq} (line ${this.last.line}); entries must be in rising seq order`,
            'entry.seq',
          );
        }
        this.last = { seq: entry.seq, line };
        this.entries++;
        this.noteId(entry.taskId);
        break;
      }
    }
    return record;
  }

  private noteId(id: string): void {
    if (isNumericId(id)) this.maxId = Math.max(this.maxId, Number(id));
  }

  /** After the last record: the list record was there, every edge is on both tasks, no cycle. */
  finish(): ImportSummary {
    if (this.list === undefined) {
      const what = this.count === 0 ? 'it is empty' : 'it has no list record';
      throw new TasklaneError(
        'INVALID_INPUT',
        `${this.file ?? 'import'}: not a complete export: ${what} (an export's first line is {"type":"list",...})`,
        { ...(this.file === undefined ? {} : { file: this.file }), field: 'type' },
      );
    }
    const ids = [...this.tasks.keys()].sort(compareIds);
    for (const id of ids) {
      const t = this.tasks.get(id) as { line: number; blocks: string[]; blockedBy: string[] };
      for (const [side, mirror] of [
        ['blocks', 'blockedBy'],
        ['blockedBy', 'blocks'],
      ] as const) {
        for (const other of t[side]) {
          const o = this.tasks.get(other);
          if (o === undefined) {
            throw invalid(
              this.where(t.line),
              `task ${id}: ${side} names task ${other}, which is not in the export (repair the source list with tasklane doctor --fix, then export again)`,
              `task.${side}`,
            );
          }
          if (!o[mirror].includes(id)) {
            throw invalid(
              this.where(t.line),
              `task ${id}: ${side} names task ${other}, whose ${mirror} (line ${o.line}) does not name ${id}: an edge must be on both tasks (tasklane doctor --fix repairs the source list)`,
              `task.${side}`,
            );
          }
        }
      }
    }
    const graph = new Map<string, Task>();
    for (const [id, t] of this.tasks) {
      graph.set(id, { id, subject: '', description: '', status: 'pending', blocks: t.blocks, blockedBy: t.blockedBy });
    }
    const cycle = findCycles(graph)[0];
    if (cycle !== undefined) {
      const first = this.tasks.get(cycle[0] as string) as { line: number };
      throw new TasklaneError(
        'CYCLE',
        `${at(this.where(first.line))}: tasks block each other in a cycle: ${cycle.join(' -> ')} (break it in the source list with tasklane dep rm, then export again)`,
        { ...(this.file === undefined ? {} : { file: this.file }), cycle, task: cycle[0] as string },
      );
    }
    return {
      list: this.list.record.list,
      tasks: this.tasks.size,
      entries: this.entries,
      highestId: Math.max(this.list.record.highestId, this.maxId),
    };
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The records of an export read from a byte stream (a file, stdin), each checked as it comes
 * (ImportChecker), errors naming `file` and the line. Lines are read to EXPORT_LINE_LIMIT bytes at
 * most, so an endless line is refused, not buffered. The final checks run after the last line,
 * before the generator ends: a consumer that commits only once it ends never commits a bad input.
 */
export async function* readExport(
  input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  file: string,
): AsyncGenerator<ExportRecord, ImportSummary> {
  const checker = new ImportChecker(file);
  let line = 0;
  const parse = (bytes: Buffer): ExportRecord => {
    line++;
    const where = { file, line };
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch (cause) {
      throw invalid(where, 'not valid UTF-8', undefined, cause);
    }
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') throw invalid(where, 'an empty line; an export has one JSON record on every line');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw invalid(where, `not valid JSON (${(cause as Error).message})`, undefined, cause);
    }
    // A task nests at most LIMITS.nestingDepth levels; its record and entry add two.
    if (mayNestDeeperThan(text, LIMITS.nestingDepth + 2) && tooDeep(value, LIMITS.nestingDepth + 2) !== undefined) {
      throw invalid(where, `nests more than ${LIMITS.nestingDepth} levels deep`);
    }
    return checker.check(value, line);
  };
  let parts: Buffer[] = [];
  let partLen = 0;
  for await (const chunk of input) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (;;) {
      const nl = buf.indexOf(0x0a);
      const piece = nl < 0 ? buf : buf.subarray(0, nl);
      if (partLen + piece.length > EXPORT_LINE_LIMIT) {
        throw invalid(
          { file, line: line + 1 },
          `the line is longer than ${EXPORT_LINE_LIMIT} bytes, more than any record of an export holds`,
        );
      }
      if (nl < 0) {
        if (piece.length > 0) {
          parts.push(Buffer.from(piece));
          partLen += piece.length;
        }
        break;
      }
      const bytes = partLen === 0 ? piece : Buffer.concat([...parts, piece]);
      parts = [];
      partLen = 0;
      yield parse(bytes);
      buf = buf.subarray(nl + 1);
    }
  }
  // A last line without its newline: read it too (it may be cut short: then it fails to parse).
  if (partLen > 0) yield parse(Buffer.concat(parts));
  return checker.finish();
}
