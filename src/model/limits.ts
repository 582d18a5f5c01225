import { formatDuration } from './duration.js';
import { TasklaneError } from './errors.js';
import { type Task, tasklaneFields, unknownKeys } from './task.js';

// Bounds on what one task may hold. A task file is read whole by every session on every scan,
// so a runaway agent must not be able to write a 10 MB description into the list.

export const LIMITS = {
  subjectChars: 1_000,
  textBytes: 1024 * 1024, // description, activeForm, result, failure reason
  ownerChars: 200,
  labelChars: 100,
  labels: 50,
  metadataBytes: 256 * 1024,
  /** A check command (metadata.tasklane.verify): a command line or a short script, not a file's worth. */
  verifyBytes: 4 * 1024,
  /**
   * Levels of arrays and objects in a task (the task object itself is one). Deeper input, or a
   * file another program wrote deeper, is refused before anything recursive (JSON.stringify, a
   * formatter) walks it: 20,000 levels overflowed the stack of show, list --json and claim.
   */
  nestingDepth: 100,
  /** A whole task as stored. Each field has its own limit; this bounds what grows by repetition (failure history). */
  taskBytes: 8 * 1024 * 1024,
  /**
   * The longest duration (lease, timeout, wait): 24 days. Node's timers hold at most 2^31-1 ms
   * (24.8 days) and fire at once past it, so `--timeout 9999999` killed the agent immediately.
   */
  durationMs: 24 * 24 * 3600 * 1000,
} as const;

/** The longest delay a Node timer can hold; a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer delay that Node honours: at least 1 ms, at most MAX_TIMER_MS (a caller re-arms a clamped timer). */
export function timerDelay(ms: number): number {
  if (!Number.isFinite(ms)) return MAX_TIMER_MS;
  return Math.min(Math.max(1, Math.ceil(ms)), MAX_TIMER_MS);
}

/** Refuses a duration in milliseconds that is not positive or is past LIMITS.durationMs. */
export function checkDurationMs(field: string, ms: unknown): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    fail(field, `must be a positive duration in milliseconds, got ${JSON.stringify(ms)}`);
  }
  if ((ms as number) > LIMITS.durationMs) {
    fail(field, `is longer than the longest duration, ${formatDuration(LIMITS.durationMs)}`);
  }
}

/**
 * Whether JSON text could nest more than `max` levels: only if it holds more than `max` opening
 * brackets (counting those inside strings too, so never a wrong "no"). One pass over the text,
 * so the walk of `tooDeep` is left for the rare text that needs it: it was a tenth of a scan.
 */
export function mayNestDeeperThan(text: string, max: number): boolean {
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 123 || c === 91) && ++open > max) return true; // { [
  }
  return false;
}

/**
 * The top-level key under which `value` nests more than `max` levels, "(root)" when the value
 * itself does, or undefined when it is within the limit. Iterative: the point is to look before
 * anything recursive does. A scalar is 0 levels, `{}` and `[]` are 1.
 */
export function tooDeep(value: unknown, max: number): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (max < 1) return '(root)';
  const top = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [key, child] of top) {
    const stack: [unknown, number][] = [[child, 1]];
    while (stack.length > 0) {
      const [v, depth] = stack.pop() as [unknown, number];
      if (v === null || typeof v !== 'object') continue;
      if (depth + 1 > max) return key;
      if (Array.isArray(v)) for (const item of v) stack.push([item, depth + 1]);
      else for (const item of Object.values(v)) stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

function fail(field: string, message: string): never {
  throw new TasklaneError('INVALID_INPUT', `${field} ${message}`, { field });
}

export function checkText(field: string, value: unknown, optional = true, maxBytes: number = LIMITS.textBytes): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'string') fail(field, `must be a string, got ${value === null ? 'null' : typeof value}`);
  const bytes = Buffer.byteLength(value as string, 'utf8');
  if (bytes > maxBytes) {
    fail(field, `${sizeAgainstLimit(bytes, maxBytes)} (put large content in a file and reference it)`);
  }
}

export function checkSubject(value: unknown): void {
  if (typeof value !== 'string' || value.trim().length === 0) fail('subject', 'must be a non-empty string');
  const chars = characterCount(value as string);
  if (chars > LIMITS.subjectChars) fail('subject', `is ${chars} characters; the limit is ${LIMITS.subjectChars}`);
}

export function checkOwner(value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) fail('owner', 'must be a non-empty string');
  if (characterCount(value as string) > LIMITS.ownerChars)
    fail('owner', `is longer than ${LIMITS.ownerChars} characters`);
}

export function checkPriority(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 1_000_000) {
    fail('priority', `must be an integer from -1000000 to 1000000, got ${JSON.stringify(value)}`);
  }
}

export function checkEstimate(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail('estimate', `must be a positive number of seconds, got ${JSON.stringify(value)}`);
  }
}

/** A check command: a non-empty string within LIMITS.verifyBytes, without NUL (no argument can hold one). */
export function checkVerify(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || value.trim() === '') fail('verify', 'must be a non-empty command');
  if ((value as string).includes('\0')) fail('verify', 'must not contain a NUL character');
  checkText('verify', value, false, LIMITS.verifyBytes);
}

export function checkLabels(value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((l) => typeof l !== 'string' || l.length === 0)) {
    fail('labels', 'must be a list of non-empty strings');
  }
  const labels = value as string[];
  if (labels.length > LIMITS.labels) fail('labels', `has ${labels.length} entries; the limit is ${LIMITS.labels}`);
  const long = labels.find((l) => l.length > LIMITS.labelChars);
  if (long !== undefined)
    fail('labels', `entry ${JSON.stringify(long.slice(0, 20))}… is longer than ${LIMITS.labelChars}`);
}

export function checkMetadata(value: unknown): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('metadata', 'must be an object');
  if (Object.hasOwn(value as object, 'tasklane')) {
    fail('metadata.tasklane', 'is reserved for Tasklane; use --priority, --label, --estimate, --verify instead');
  }
  // Before JSON.stringify below, which recurses. Metadata sits one level inside the task.
  const deep = tooDeep(value, LIMITS.nestingDepth - 1);
  if (deep !== undefined) {
    fail(`metadata.${deep}`, `nests more than ${LIMITS.nestingDepth - 1} levels deep (the limit for metadata)`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > LIMITS.metadataBytes) fail('metadata', sizeAgainstLimit(bytes, LIMITS.metadataBytes));
}

/**
 * The user metadata a task would hold after a merge (every key but Tasklane's own): each patch is
 * within the limit, but repeated patches must not grow the stored task past it. A task already
 * over (written by another program) may still shrink or stay as it is.
 */
export function checkMergedMetadata(
  task: string,
  after: Record<string, unknown>,
  before?: Record<string, unknown>,
): void {
  const size = userMetadataBytes(after);
  if (size <= LIMITS.metadataBytes || size <= userMetadataBytes(before)) return;
  throw new TasklaneError(
    'INVALID_INPUT',
    `metadata of task ${task} would be ${formatBytes(size)} after this change; the limit is ${formatBytes(LIMITS.metadataBytes)} (delete keys with KEY=null)`,
    { field: 'metadata', task },
  );
}

function userMetadataBytes(metadata: Record<string, unknown> | undefined): number {
  if (metadata === undefined) return 0;
  const { tasklane: _own, ...user } = metadata;
  return Buffer.byteLength(JSON.stringify(user), 'utf8');
}

/**
 * A task about to be stored: the bound on the whole record, which catches what grows by repetition
 * (each failure reason is within its limit, the history of them must be too). The message names the
 * largest parts so the user knows what to trim.
 */
export function checkStoredTask(task: Task): void {
  const bytes = Buffer.byteLength(JSON.stringify(task), 'utf8');
  if (bytes <= LIMITS.taskBytes) return;
  const fields = tasklaneFields(task);
  const parts: [string, number][] = [
    ['description', Buffer.byteLength(task.description, 'utf8')],
    ['metadata', userMetadataBytes(task.metadata)],
    ['result', Buffer.byteLength(fields.result ?? '', 'utf8')],
    ['failure history', Buffer.byteLength(JSON.stringify(fields.failures ?? []), 'utf8')],
    ['keys Tasklane does not model', unknownKeysBytes(task)],
  ];
  const largest = parts
    .sort((a, b) => b[1] - a[1])
    .slice(0, 2)
    .map(([name, n]) => `${name} ${formatBytes(n)}`)
    .join(', ');
  throw new TasklaneError(
    'INVALID_INPUT',
    `task ${task.id} would be ${formatBytes(bytes)} stored; the limit is ${formatBytes(LIMITS.taskBytes)} (largest: ${largest})`,
    { task: task.id },
  );
}

function unknownKeysBytes(task: Task): number {
  const t = task as unknown as Record<string, unknown>;
  return unknownKeys(task).reduce((n, k) => n + Buffer.byteLength(JSON.stringify({ [k]: t[k] }), 'utf8'), 0);
}

/**
 * Characters as people count them in a limit: code points, so an emoji (two UTF-16 units) is one.
 * Counted without building an array: a subject may be megabytes long before it is refused.
 */
export function characterCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** "is A; the limit is B", in exact bytes when the rounded sizes would read the same (1.0 MiB and 1.0 MiB). */
export function sizeAgainstLimit(bytes: number, limit: number): string {
  const [a, b] = [formatBytes(bytes), formatBytes(limit)];
  return a !== b ? `is ${a}; the limit is ${b}` : `is ${bytes} bytes; the limit is ${limit} bytes (${b})`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
