import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The top of the git checkout holding `dir` (a `.git` directory, or file in a worktree), if any. */
export function gitCheckoutOf(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return at;
    if (dirname(at) === at) return undefined;
  }
}

/**
 * The warning for agents that would share one checkout: more than one at once, no worktrees, in a
 * git repository. They edit the same files and run the same builds at the same time.
 */
export function sharedCheckoutWarning(opts: {
  cwd: string;
  slots: number;
  worktree: boolean;
  simulated: boolean;
}): string | undefined {
  if (opts.slots <= 1 || opts.worktree || opts.simulated) return undefined;
  const checkout = gitCheckoutOf(opts.cwd);
  if (checkout === undefined) return undefined;
  return `up to ${opts.slots} agents will work in the same checkout (${checkout}) at once, editing the same files; isolate them with --worktree (a git worktree and branch per task), or run one at a time with -j 1`;
}
