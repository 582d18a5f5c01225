import { readFileSync } from 'node:fs';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { isTasklaneError, TasklaneError } from '../../model/index.js';

// Where in a peer's files something is (file, line, field), and the error that says so. Every
// refusal of a peer import names the file and, where the format has lines, the line and field.

export interface Where {
  /** The file as the user named it (or a path below the directory they named). */
  file: string;
  line?: number;
}

export function at(where: Where): string {
  return where.line === undefined ? where.file : `${where.file}:${where.line}`;
}

/** A peer's file, its bytes; a directory or an unreadable file is refused naming it (`shown`). */
export function readPeerFile(path: string, shown: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw peerError({ file: shown }, 'is a directory, where a file was expected');
    throw new TasklaneError('IO', `${shown}: cannot be read (${code ?? (err as Error).message})`, { file: shown });
  }
}

/**
 * A parsed YAML document's value; what yaml refuses while building it (an alias expanded too many
 * times: "Excessive alias count") comes back as malformed input naming the file.
 */
export function yamlValue(doc: Document.Parsed, where: Where): unknown {
  try {
    return doc.toJS();
  } catch (err) {
    throw peerError(where, `not valid YAML here (${(err as Error).message.split('\n')[0]})`, undefined, err);
  }
}

/**
 * Sets `obj[key]` as an own property, whatever the key: a peer's key `__proto__` stays a key
 * (plain assignment, or Object.assign, would set the object's prototype instead).
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** INVALID_INPUT naming the file, line and field. */
export function peerError(where: Where, message: string, field?: string, cause?: unknown): TasklaneError {
  return new TasklaneError('INVALID_INPUT', `${at(where)}: ${message}`, {
    file: where.file,
    ...(field === undefined ? {} : { field }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Runs one of the model's checks on a peer's value; its error comes back naming the file, line,
 * the peer's task and the peer's own name for the field (`title`, not `subject`); with no field
 * (`''`), the model's message as it is.
 */
export function checkPeerField(where: Where, task: string, peerField: string, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (!isTasklaneError(err)) throw err;
    // The model's message starts with its own field name ("subject must be ..."): say the peer's.
    if (peerField === '') throw peerError(where, err.message, undefined, err);
    const message = err.field === undefined ? err.message : err.message.replace(/^\S+ /, '');
    throw peerError(where, `task ${task}: ${peerField} ${message}`, peerField, err);
  }
}

/** A peer's timestamp as ISO 8601, or undefined when it is not a string Date can read. */
export function isoTime(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A file's bytes as text, refusing what is not UTF-8 (named by file). A leading BOM is dropped. */
export function decodeText(bytes: Buffer, file: string): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw peerError({ file }, 'not valid UTF-8', undefined, cause);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** JSON.parse, its error naming the file and the line where the text stops being JSON. */
export function parseJson(text: string, where: Where): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    const message = (cause as Error).message;
    let line = where.line;
    const lc = /line (\d+) column \d+/.exec(message);
    const pos = /position (\d+)/.exec(message);
    if (lc !== null) line = (where.line ?? 1) + Number(lc[1]) - 1;
    else if (pos !== null) line = (where.line ?? 1) + countLines(text, Number(pos[1]));
    else if (text.trim() === '') line = where.line;
    else line = (where.line ?? 1) + countLines(text, text.length);
    const detail = text.trim() === '' ? 'it is empty' : message.replace(/ \(line \d+ column \d+\)/, '');
    throw peerError(
      { file: where.file, ...(line === undefined ? {} : { line }) },
      `not valid JSON (${detail})`,
      undefined,
      cause,
    );
  }
}

/** Newlines before `pos`. */
function countLines(text: string, pos: number): number {
  let n = 0;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/**
 * Finds the line of a value inside a JSON document by its path (`["master", "tasks", 3, "status"]`),
 * for error messages and the report. JSON is YAML, and the `yaml` package keeps each node's
 * place, so the document is parsed once more, only when a line is wanted; undefined if the path
 * is not found. The document is parsed at most once per locator.
 */
export class JsonLocator {
  private doc: ReturnType<typeof parseDocument> | undefined;
  private readonly lines = new LineCounter();

  constructor(private readonly text: string) {}

  lineOf(path: (string | number)[]): number | undefined {
    try {
      this.doc ??= parseDocument(this.text, { lineCounter: this.lines, uniqueKeys: false, keepSourceTokens: false });
      // Walk down as far as the path goes: a missing field is reported at its object.
      for (let n = path.length; n >= 0; n--) {
        const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node?.range !== undefined) return this.lines.linePos(node.range[0]).line;
      }
    } catch {}
    return undefined;
  }
}

/** A place whose line is found only when asked for (a message, a report entry), then kept. */
export function lazyWhere(file: string, find: () => number | undefined): Where {
  let line: number | undefined | null = null;
  return {
    file,
    get line(): number | undefined {
      if (line === null) line = find();
      return line;
    },
  };
}
