// Typed errors with stable codes. Surfaces map codes to exit statuses and messages;
// every error names the thing it concerns (list, task, file, field) so a user can act on it.

export type ErrorCode =
  | 'INVALID_INPUT' // a caller passed a bad value (field names it)
  | 'INVALID_TASK' // a stored task fails the schema (file names it)
  | 'INVALID_LIST_ID'
  | 'NOT_FOUND'
  | 'CYCLE'
  | 'CONFLICT' // compare-and-swap lost: the task changed since it was read
  | 'NOT_CLAIMABLE' // the task is held by someone else, blocked, completed or failed
  | 'NOTHING_TO_CLAIM'
  | 'NOT_OWNER' // a transition by someone who does not hold the claim
  | 'LOCK_TIMEOUT'
  | 'FEED_BEHIND' // a change feed's reader fell too far behind; resume with watch({ since })
  | 'IO'
  | 'MERGE_CONFLICT' // merging the work of a task's blockers (or a run's tasks) conflicts; the files are named
  | 'USAGE';

export interface ErrorDetails {
  list?: string;
  task?: string;
  file?: string;
  field?: string;
  /** For CYCLE: the ids along the cycle, first repeated at the end. */
  cycle?: string[];
  cause?: unknown;
  /** For IO: the failure may pass by itself (a connection lost, a server restarting), so the same write may be tried again. */
  transient?: boolean;
}

export class TasklaneError extends Error {
  readonly code: ErrorCode;
  readonly list?: string;
  readonly task?: string;
  readonly file?: string;
  readonly field?: string;
  readonly cycle?: string[];
  readonly transient?: boolean;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TasklaneError';
    this.code = code;
    if (details.list !== undefined) this.list = details.list;
    if (details.task !== undefined) this.task = details.task;
    if (details.file !== undefined) this.file = details.file;
    if (details.field !== undefined) this.field = details.field;
    if (details.cycle !== undefined) this.cycle = details.cycle;
    if (details.transient === true) this.transient = true;
  }

  /** The stable, documented JSON shape used by `--json` output and the HTTP/MCP surfaces. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    for (const key of ['list', 'task', 'file', 'field', 'cycle'] as const) {
      if (this[key] !== undefined) out[key] = this[key];
    }
    return out;
  }
}

export function isTasklaneError(err: unknown, code?: ErrorCode): err is TasklaneError {
  return err instanceof TasklaneError && (code === undefined || err.code === code);
}
