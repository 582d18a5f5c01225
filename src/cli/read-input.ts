import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TasklaneError } from '../model/errors.js';
import { formatBytes } from '../model/limits.js';

// Reading text the user points at (a --description-file, a plan, stdin) without trusting its
// size: /dev/zero, a FIFO that never ends or a 10 GB log is refused after limit + 1 bytes, not
// read until memory runs out or forever.

/** The bytes read, or that the input holds more than the limit (with its size when a regular file tells it). */
export type Bounded = { bytes: Buffer } | { over: true; size?: number };

const CHUNK = 64 * 1024;

/** Reads a file, at most `max` + 1 bytes of it; a regular file over the limit is refused from its size, unread. */
export function readFileBounded(path: string, max: number): Bounded {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > max) return { over: true, size: stat.size };
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= max) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, max + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
    }
    return total > max ? { over: true } : { bytes: Buffer.concat(chunks, total) };
  } finally {
    closeSync(fd);
  }
}

/** Reads a stream (stdin) to its end, or stops once it has given more than `max` bytes. */
export async function readStreamBounded(stream: NodeJS.ReadableStream, max: number): Promise<Bounded> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(bytes);
    total += bytes.length;
    if (total > max) {
      // Leaving the loop destroys the stream: nothing more is read from an endless input.
      return { over: true };
    }
  }
  return { bytes: Buffer.concat(chunks, total) };
}

/** A plan file's bytes, or INVALID_INPUT naming the file when it is over the limit. */
export function readPlanFile(path: string, label: string, max: number): Buffer {
  const read = readFileBounded(path, max);
  if ('over' in read) throw planTooLarge(label, read, max);
  return read.bytes;
}

export function planTooLarge(label: string, read: { size?: number }, max: number): TasklaneError {
  const size = read.size === undefined ? 'over the limit' : formatBytes(read.size);
  return new TasklaneError('INVALID_INPUT', `${label}: the plan is ${size}; the limit is ${formatBytes(max)}`, {
    file: label,
  });
}
