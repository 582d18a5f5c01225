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

// ---- ids in project lists (`tasklane init`, kept in git) ----
// Counters collide when clones of one repository create tasks offline (two clones both make #7),
// and hash prefixes collide at a few characters. Project lists therefore take random ids: 8
// characters of Crockford's base32 in lower case (no i, l, o, u: nothing to misread), the first a
// letter so that Claude Code, which counts `parseInt(name)` of every file name when it mints its
// next numeric id, never mistakes one for a number. 22 x 32^7 = 7.6e11 ids: among 10,000 tasks
// made in any number of clones, the chance that any two share an id is about 1 in 15,000
// (n^2 / 2N); among 100,000, 1 in 150. Within one clone a clash is retried (the store checks the
// file); across clones git would meet both files as one, and the merge driver refuses to fuse two
// tasks with different creation times (docs/git.md).

/** Crockford's base32 digits, lower case. */
export const PROJECT_ID_DIGITS = '0123456789abcdefghjkmnpqrstvwxyz';
/** The letters among them: a project id starts with one. */
export const PROJECT_ID_LETTERS = 'abcdefghjkmnpqrstvwxyz';
export const PROJECT_ID_LENGTH = 8;

/** A new project id; `pick(n)` returns a uniformly random whole number below n (crypto.randomInt). */
export function newProjectId(pick: (n: number) => number): string {
  let id = PROJECT_ID_LETTERS[pick(PROJECT_ID_LETTERS.length)] as string;
  while (id.length < PROJECT_ID_LENGTH) id += PROJECT_ID_DIGITS[pick(PROJECT_ID_DIGITS.length)] as string;
  return id;
}

/** Whether `id` has the shape of a project id (a letter, then Crockford base32, 8 in all). */
export function isProjectId(id: string): boolean {
  return /^[abcdefghjkmnpqrstvwxyz][0-9abcdefghjkmnpqrstvwxyz]{7}$/.test(id);
}
