import { TasklaneError } from './errors.js';

// Claude Code turns every char outside [a-zA-Z0-9_-] into '-' for list directories and task file names.
export function sanitizePathComponent(value: string): string {
  return value.replace(/[^a-zA-Z0-9_-]/g, '-');
}

/**
 * Validates a list id and returns the directory name Claude Code uses for it.
 * Ids that look like paths are refused outright rather than silently mapped, so a typo such as
 * `--list ../other` never lands in a surprising directory.
 */
export function listDirName(listId: string): string {
  if (listId.length === 0) {
    throw new TasklaneError('INVALID_LIST_ID', 'list id is empty', { list: listId });
  }
  if (listId.length > 200) {
    throw new TasklaneError('INVALID_LIST_ID', `list id is ${listId.length} characters long; the limit is 200`, {
      list: listId,
    });
  }
  if (/[/\\]/.test(listId) || listId.split(/[/\\]/).some((part) => part === '..' || part === '.')) {
    throw new TasklaneError(
      'INVALID_LIST_ID',
      `list id ${JSON.stringify(listId)} looks like a path; use letters, digits, '-' and '_'`,
      { list: listId },
    );
  }
  return sanitizePathComponent(listId);
}

/** Task ids are decimal strings from "1" in lists Tasklane writes; Claude Code may hold others. */
export function isNumericId(id: string): boolean {
  return /^[1-9][0-9]*$/.test(id);
}

export function assertTaskId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new TasklaneError('INVALID_INPUT', `${field} must be a non-empty string task id`, { field });
  }
  const bare = id.startsWith('#') ? id.slice(1) : id;
  if (bare.length === 0 || bare.length > 100 || /[/\\\0]/.test(bare) || bare === '.' || bare === '..') {
    throw new TasklaneError('INVALID_INPUT', `${field} ${JSON.stringify(id)} is not a valid task id`, {
      field,
      task: id,
    });
  }
  return bare;
}

/** Numeric ids in numeric order, then any others in code-point order. */
export function compareIds(a: string, b: string): number {
  const an = isNumericId(a);
  const bn = isNumericId(b);
  if (an && bn) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
