import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { type ErrorCode, isTasklaneError, TasklaneError } from '../model/errors.js';

// Every failure as JSON: `{"error": {"code", "message", ...details}}` with the store's stable
// codes, plus the security layer's FORBIDDEN and UNAUTHORIZED. One table maps codes to statuses.

export type HttpErrorCode = ErrorCode | 'FORBIDDEN' | 'UNAUTHORIZED';

const STATUS: Partial<Record<HttpErrorCode, ContentfulStatusCode>> = {
  INVALID_INPUT: 400,
  INVALID_LIST_ID: 400,
  USAGE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  CYCLE: 409,
  NOT_CLAIMABLE: 409,
  NOT_OWNER: 409,
  NOTHING_TO_CLAIM: 409,
  LOCK_TIMEOUT: 503,
};

export function statusOf(code: string): ContentfulStatusCode {
  return STATUS[code as HttpErrorCode] ?? 500;
}

/** A 400 naming the field: what the routes throw for bad input. */
export function invalidInput(field: string, message: string): TasklaneError {
  return new TasklaneError('INVALID_INPUT', message, { field });
}

/** An error response in the documented shape. */
export function errorResponse(
  c: Context,
  code: HttpErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): Response {
  return c.json({ error: { code, message, ...details } }, statusOf(code));
}

/** The app's onError: a TasklaneError keeps its code and details; anything else is a 500 without internals. */
export function handleError(err: unknown, c: Context): Response {
  if (isTasklaneError(err)) {
    const body = err.toJSON();
    return c.json({ error: body }, statusOf(err.code));
  }
  return errorResponse(c, 'IO', `internal error: ${err instanceof Error ? err.message : String(err)}`);
}
