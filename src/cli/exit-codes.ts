import type { ErrorCode } from '../model/errors.js';

// Exit statuses are part of the CLI's contract (docs/cli.md): scripts branch on them.

export const EXIT = {
  OK: 0,
  /** Anything that went wrong that is not one of the below (not found, invalid input, cycle, I/O). */
  ERROR: 1,
  /** The command line cannot be understood: unknown command or flag, missing or malformed argument. */
  USAGE: 2,
  /** `claim` found no ready task. */
  NOTHING_TO_CLAIM: 3,
  /** Someone else holds or changed the task: a lost compare-and-swap, a claim that cannot be taken, a wrong owner. */
  CONFLICT: 4,
  /** Reserved for commands that wait (`wait`): the deadline passed. */
  TIMEOUT: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The one place error codes become exit statuses. */
export function exitCodeFor(code: ErrorCode | undefined): ExitCode {
  switch (code) {
    case 'USAGE':
    case 'INVALID_LIST_ID':
      return EXIT.USAGE;
    case 'NOTHING_TO_CLAIM':
      return EXIT.NOTHING_TO_CLAIM;
    case 'CONFLICT':
    case 'NOT_CLAIMABLE':
    case 'NOT_OWNER':
      return EXIT.CONFLICT;
    default:
      return EXIT.ERROR;
  }
}
