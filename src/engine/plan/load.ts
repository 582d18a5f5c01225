import { extname } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { TasklaneError } from '../../model/index.js';
import { ambiguityError, readMarkdownPlan } from './markdown.js';
import type { ChosenShape, PlanReading } from './shape.js';
import { type PlanSpec, parsePlanSpec } from './spec.js';

// Reads a plan in any of its formats into a validated PlanSpec.

export const PLAN_FORMATS = ['md', 'json', 'yaml'] as const;

/** The largest plan read: a thousand tasks with long descriptions fit; /dev/zero does not. */
export const MAX_PLAN_BYTES = 16 * 1024 * 1024;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

/** The format a file name implies: .md/.markdown, .json, .yaml/.yml; undefined for anything else. */
export function formatOf(file: string): PlanFormat | undefined {
  switch (extname(file).toLowerCase()) {
    case '.md':
    case '.markdown':
    case '.txt':
      return 'md';
    case '.json':
      return 'json';
    case '.yaml':
    case '.yml':
      return 'yaml';
    default:
      return undefined;
  }
}

/**
 * Parses and validates a plan, refusing one the reader would have had to guess at (mixed shapes,
 * a reference that names nothing) unless `shape` says how to read it. `file` names the plan in
 * errors; the format defaults to the file's extension, then markdown.
 */
export function loadPlan(
  text: string,
  file: string,
  format: PlanFormat = formatOf(file) ?? 'md',
  shape?: ChosenShape,
): PlanSpec {
  const reading = readPlan(text, file, format, shape);
  if (reading.ambiguities.length > 0 && shape === undefined) throw ambiguityError(reading, file);
  return reading.spec;
}

/** A plan's reading: the graph, the shape it was read as, the sections skipped, the ambiguities. */
export function readPlan(
  text: string,
  file: string,
  format: PlanFormat = formatOf(file) ?? 'md',
  shape?: ChosenShape,
): PlanReading {
  switch (format) {
    case 'md':
      return readMarkdownPlan(text, file, shape === undefined ? {} : { shape });
    case 'json':
      return { spec: parseJsonPlan(text, file), shape: 'json', skipped: [], ambiguities: [] };
    case 'yaml':
      return { spec: parseYamlPlan(text, file), shape: 'yaml', skipped: [], ambiguities: [] };
  }
}

export function parseJsonPlan(text: string, file: string): PlanSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new TasklaneError('INVALID_INPUT', `${file}: not valid JSON: ${message}`, { file, cause: err });
  }
  // JSON is YAML, so the YAML parser gives each task's line for error messages.
  return parsePlanSpec(value, { file, lineOf: taskLines(text) });
}

/** Aliases a YAML plan may expand: a handful is plenty; a "billion laughs" document needs many. */
const MAX_YAML_ALIASES = 100;

export function parseYamlPlan(text: string, file: string): PlanSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const at = pos === undefined ? file : `${file}:${pos.line}`;
    const message = first.message.split('\n')[0] ?? '';
    throw new TasklaneError(
      'INVALID_INPUT',
      /Maximum call stack/.test(message)
        ? `${at}: not valid YAML: nested too deeply`
        : `${at}: not valid YAML: ${message.replace(/ at line \d+, column \d+:?$/, '')}`,
      {
        file,
        cause: first,
      },
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // The yaml package refuses an alias bomb (ReferenceError) and may run out of stack on deep nesting.
    const why =
      err instanceof ReferenceError
        ? `its aliases expand too far (over ${MAX_YAML_ALIASES}; a "billion laughs" document?)`
        : err instanceof RangeError
          ? 'nested too deeply'
          : err instanceof Error
            ? err.message
            : String(err);
    throw new TasklaneError('INVALID_INPUT', `${file}: not a usable YAML plan: ${why}`, { file, cause: err });
  }
  return parsePlanSpec(value, { file, lineOf: taskLines(text) });
}

/** Line of tasks[i] in a JSON or YAML text, best effort (undefined when the text does not say). */
function taskLines(text: string): (index: number) => number | undefined {
  let lines: (number | undefined)[] = [];
  try {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter });
    const root = doc.contents;
    const tasks = isSeq(root) ? root : isMap(root) ? root.get('tasks', true) : undefined;
    if (isSeq(tasks)) {
      lines = tasks.items.map((node) => {
        const offset = (node as { range?: [number, number, number] }).range?.[0];
        return offset === undefined ? undefined : lineCounter.linePos(offset).line;
      });
    }
  } catch {
    // Line numbers are a courtesy; the value itself was parsed strictly.
  }
  return (index) => lines[index];
}
