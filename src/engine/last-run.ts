import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TasklaneError } from '../model/index.js';
import { writeFileDurable } from '../store/file/durable.js';
import type { Aggregate } from './aggregate.js';

// The last run's aggregated result, kept in the list's artifacts directory so `tasklane results`
// can print it again after the terminal scrolled it away. One file per list, replaced whole by
// each run that ends (the last run to end wins when two ran at once), written atomically.

export const LAST_RUN_FILE = 'last-run.json';

export interface SavedRun {
  /** The file's format, raised if it ever changes shape. */
  version: 1;
  /** When the run ended and saved it. */
  savedAt: string;
  aggregate: Aggregate;
}

export function lastRunPath(artifactsDir: string): string {
  return join(artifactsDir, LAST_RUN_FILE);
}

/** Saves a run's aggregate as the list's last run; returns the file. Throws on I/O errors. */
export function saveLastRun(artifactsDir: string, aggregate: Aggregate, now = new Date()): string {
  mkdirSync(artifactsDir, { recursive: true });
  const path = lastRunPath(artifactsDir);
  const saved: SavedRun = { version: 1, savedAt: now.toISOString(), aggregate };
  writeFileDurable(path, `${JSON.stringify(saved, null, 2)}\n`);
  return path;
}

/** The list's last run, or undefined when none was saved. A file that is not a saved run is an IO error naming it. */
export function readLastRun(artifactsDir: string): SavedRun | undefined {
  const path = lastRunPath(artifactsDir);
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TasklaneError('IO', `cannot read the last run's result ${path}: ${(e as Error).message}`, {
      file: path,
      cause: e,
    });
  }
  if (!isSavedRun(value)) {
    throw new TasklaneError('IO', `${path} is not a saved run result (version 1 with an aggregate)`, { file: path });
  }
  return value;
}

function isSavedRun(v: unknown): v is SavedRun {
  if (v === null || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  const a = r.aggregate as Record<string, unknown> | null | undefined;
  return (
    r.version === 1 &&
    typeof r.savedAt === 'string' &&
    a !== null &&
    typeof a === 'object' &&
    typeof a.list === 'string' &&
    typeof a.ok === 'boolean' &&
    Array.isArray(a.tasks) &&
    a.counts !== null &&
    typeof a.counts === 'object' &&
    a.totals !== null &&
    typeof a.totals === 'object'
  );
}
