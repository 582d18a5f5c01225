import { TasklaneError } from '../model/errors.js';

/**
 * A feed's cursor (`watch({ since })`) must be a seq the list has reached: a cursor past the end
 * of the history would skip every change numbered up to it, silently. Both stores check it before
 * delivering anything, against the last seq the list issued.
 */
export function assertCursorInHistory(list: string, since: number, lastSeq: number): void {
  if (since <= lastSeq) return;
  throw new TasklaneError(
    'USAGE',
    `the history of list ${list} ends at seq ${lastSeq}; since must be at most ${lastSeq}, got ${since}`,
    { list, field: 'since' },
  );
}
