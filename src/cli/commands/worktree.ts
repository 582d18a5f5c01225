import { type PrunedWorktree, pruneWorktrees, shownPath } from '../../engine/worktree-prune.js';
import { usageError } from '../args.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { inert } from '../inert-text.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: "Remove the list's task worktrees left by run --worktree (worktree prune)",
  help: `Usage: tasklane worktree prune [--force] [--dry-run]

'run --worktree' gives each task a git worktree under <repository>/.tasklane/worktrees/<list>/<id>
and leaves them all when it ends (the work may still be wanted there). 'worktree prune' removes
the worktrees of the list (--list, as for every command) in the repository of the current
directory, and says which it removed and which it kept and why. Only the checkouts go: the
branches tasklane/<list>/<id> and the run's integration branch stay, with all the work that was
committed. A task whose worktree is gone gets a new one from its branch if it runs again.

Kept unless --force:
  a worktree with uncommitted changes or an unfinished merge (what an agent left when it failed)
Always kept:
  a worktree whose task is in progress (an agent may be working there)

Options:
  --force      remove worktrees with uncommitted changes too (the changes are lost)
  --dry-run    say what would be removed; remove nothing

Examples:
  tasklane worktree prune
  tasklane worktree prune --dry-run --list backend
  tasklane worktree prune --force --json

JSON (--json): {"repository", "list", "dryRun", "removed": [{"task", "path", "branch"?}],
"kept": [{"task", "path", "branch"?, "reason"}]}.

Exit status: 0 (also when some were kept); 2 for bad usage or outside a git repository.`,

  async run(io) {
    const ctx = context(io, 'worktree', { force: { type: 'boolean' }, 'dry-run': { type: 'boolean' } });
    const [action, extra] = ctx.args.positionals;
    if (action !== 'prune') {
      throw usageError(
        action === undefined
          ? 'worktree: say prune, e.g. tasklane worktree prune (see tasklane worktree --help)'
          : `worktree: unknown action ${JSON.stringify(action)}; the one there is: prune`,
      );
    }
    if (extra !== undefined) throw usageError(`worktree prune: unexpected argument ${JSON.stringify(extra)}`);
    const store = ctx.store();
    let tasks: Awaited<ReturnType<typeof store.list>>;
    try {
      tasks = await store.list();
    } finally {
      await store.close();
    }
    const report = await pruneWorktrees({
      cwd: io.cwd,
      list: store.listId,
      tasks,
      force: ctx.args.flag('force'),
      dryRun: ctx.args.flag('dry-run'),
    });
    if (ctx.json) {
      printJson(io, report);
      return EXIT.OK;
    }
    const line = (w: PrunedWorktree): string =>
      inert(`  ${shownPath(report.repository, w.path)}  #${w.task}${w.branch === undefined ? '' : `  ${w.branch}`}`);
    if (report.removed.length === 0 && report.kept.length === 0) {
      println(io, inert(`No worktrees of list "${report.list}" in ${report.repository}.`));
      return EXIT.OK;
    }
    if (report.removed.length > 0) {
      const n = report.removed.length;
      const verb = report.dryRun ? 'Would remove' : 'Removed';
      println(io, `${verb} ${n} ${n === 1 ? 'worktree' : 'worktrees'} (branches kept):`);
      for (const w of report.removed) println(io, line(w));
    } else {
      println(io, report.dryRun ? 'Would remove no worktree.' : 'Removed no worktree.');
    }
    if (report.kept.length > 0) {
      println(io, `Kept ${report.kept.length}:`);
      for (const w of report.kept) println(io, `${line(w)}: ${inert(w.reason ?? '')}`);
    }
    return EXIT.OK;
  },
};
