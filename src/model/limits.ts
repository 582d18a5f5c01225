import { TasklaneError } from './errors.js';

// Bounds on what one task may hold. A task file is read whole by every session on every scan,
// so a runaway agent must not be able to write a 10 MB description into the list.

export const LIMITS = {
  subjectChars: 1_000,
  textBytes: 1024 * 1024, // description, activeForm, result, failure reason
  ownerChars: 200,
  labelChars: 100,
  labels: 50,
  metadataBytes: 256 * 1024,
} as const;

function fail(field: string, message: string): never {
  throw new TasklaneError('INVALID_INPUT', `${field} ${message}`, { field });
}

export function checkText(field: string, value: unknown, optional = true, maxBytes: number = LIMITS.textBytes): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'string') fail(field, `must be a string, got ${value === null ? 'null' : typeof value}`);
  const bytes = Buffer.byteLength(value as string, 'utf8');
  if (bytes > maxBytes) {
    fail(
      field,
      `is ${formatBytes(bytes)}; the limit is ${formatBytes(maxBytes)} (put large content in a file and reference it)`,
    );
  }
}

export function checkSubject(value: unknown): void {
  if (typeof value !== 'string' || value.trim().length === 0) fail('subject', 'must be a non-empty string');
  if ((value as string).length > LIMITS.subjectChars) {
    fail('subject', `is ${(value as string).length} characters; the limit is ${LIMITS.subjectChars}`);
  }
}

export function checkOwner(value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) fail('owner', 'must be a non-empty string');
  if ((value as string).length > LIMITS.ownerChars) fail('owner', `is longer than ${LIMITS.ownerChars} characters`);
}

export function checkPriority(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 1_000_000) {
    fail('priority', `must be an integer, got ${JSON.stringify(value)}`);
  }
}

export function checkEstimate(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail('estimate', `must be a positive number of seconds, got ${JSON.stringify(value)}`);
  }
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
    fail('metadata.tasklane', 'is reserved for Tasklane; use --priority, --label, --estimate instead');
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > LIMITS.metadataBytes)
    fail('metadata', `is ${formatBytes(bytes)}; the limit is ${formatBytes(LIMITS.metadataBytes)}`);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
