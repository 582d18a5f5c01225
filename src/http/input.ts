import type { Context } from 'hono';
import { assertTaskId } from '../model/ids.js';
import { invalidInput } from './errors.js';

// Parsing at the edge: a JSON object body with only known fields, each of the right type. The
// store checks values (limits, ids that exist, cycles) and changes nothing when one is wrong.

/** The largest body read (a task's text fields and metadata fit well inside it). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export type Body = Record<string, unknown>;

/** The request's JSON object body; an empty body is `{}` when `optional`. */
export async function jsonBody(c: Context, allowed: readonly string[], optional = false): Promise<Body> {
  const length = Number(c.req.header('content-length') ?? '0');
  if (length > MAX_BODY_BYTES)
    throw invalidInput('(body)', `the body is ${length} bytes; the limit is ${MAX_BODY_BYTES}`);
  const text = await c.req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES)
    throw invalidInput('(body)', `the body is over ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === '' && optional) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidInput('(body)', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidInput('(body)', 'the body must be a JSON object');
  }
  const body = value as Body;
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw invalidInput(key, `unknown field ${JSON.stringify(key)}; expected one of ${allowed.join(', ')}`);
    }
  }
  return body;
}

export function str(body: Body, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidInput(key, `${key} must be a string, got ${typeName(v)}`);
  return v;
}

export function requiredStr(body: Body, key: string): string {
  const v = str(body, key);
  if (v === undefined) throw invalidInput(key, `${key} is required`);
  return v;
}

/** A string, or null to remove the value. */
export function nullableStr(body: Body, key: string): string | null | undefined {
  if (body[key] === null) return null;
  return str(body, key);
}

export function num(body: Body, key: string, opts: { integer?: boolean; min?: number } = {}): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw invalidInput(key, `${key} must be a number, got ${typeName(v)}`);
  if (opts.integer === true && !Number.isInteger(v)) throw invalidInput(key, `${key} must be a whole number, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw invalidInput(key, `${key} must be at least ${opts.min}, got ${v}`);
  return v;
}

export function bool(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalidInput(key, `${key} must be true or false, got ${typeName(v)}`);
  return v;
}

export function strings(body: Body, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw invalidInput(key, `${key} must be an array of strings`);
  }
  return v as string[];
}

export function taskIds(body: Body, key: string): string[] | undefined {
  return strings(body, key)?.map((id) => assertTaskId(id, key));
}

export function object(body: Body, key: string): Record<string, unknown> | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw invalidInput(key, `${key} must be a JSON object, got ${typeName(v)}`);
  }
  return v as Record<string, unknown>;
}

/** A query parameter as a whole number at least `min`. */
export function queryInt(c: Context, key: string, min: number, max?: number): number | undefined {
  const raw = c.req.query(key);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw invalidInput(key, `${key} must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || (max !== undefined && n > max)) {
    throw invalidInput(key, `${key} must be from ${min}${max === undefined ? '' : ` to ${max}`}, got ${n}`);
  }
  return n;
}

/** Only these query parameters. */
export function onlyQuery(c: Context, allowed: readonly string[]): void {
  for (const key of Object.keys(c.req.queries())) {
    if (!allowed.includes(key)) throw invalidInput(key, `unknown query parameter ${JSON.stringify(key)}`);
  }
}

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}
