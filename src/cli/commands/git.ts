import { runMergeDriver } from '../../engine/git-lists/merge-driver.js';
import { checkGitSetup, setupGit } from '../../engine/git-lists/setup.js';
import { usageError } from '../args.js';
import { context, locationOf } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { inert } from '../inert-text.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';

// `tasklane git setup|check|merge-driver`: project lists kept in git (docs/git.md). The merge
// rule is the model's (model/task-merge.ts), the files' handling the engine's (engine/git-lists).

export const command: Command = {
  summary: 'Merge project task lists with git: git setup|check (and the merge-driver git runs)',
  help: `Usage: tasklane git setup
       tasklane git check
       tasklane git merge-driver BASE OURS THEIRS PATH     (run by git, not by hand)

For a project list (tasklane init) kept in a git repository.

  setup         Makes git merge task files with Tasklane's driver instead of line by line:
                writes "/tasks/**/*.json merge=tasklane" in .tasklane/.gitattributes (commit it)
                and merge.tasklane.driver in this clone's .git/config, pointing at this
                tasklane by absolute path. Idempotent. tasklane init runs it in a git work tree.
                Every clone needs it once: git never copies a clone's config (tasklane doctor
                reports a clone without it). Hosted merge buttons run no custom driver: merge
                task lists locally, or rebase, then push.
  check         Says whether this clone merges task files with the driver (exit 1 if not).
  merge-driver  Merges two versions of one task file: status by progress (a later retry
                excepted), dependencies and labels as sets, metadata key by key with the later
                change winning, text changed on both sides kept twice, visibly; a deletion wins
                over an edit. Exit 0 with the merged file in OURS; 1 leaves the file in conflict
                (two different tasks under one id). A dependency cycle the merge makes is reported
                and left for tasklane doctor.

Examples:
  tasklane init                 # in a git work tree: also runs git setup
  tasklane git setup            # in a fresh clone
  tasklane git check --json

JSON (--json): setup: {"repository": DIR, "attributesFile": PATH, "wroteAttributes": BOOL,
"configuredDriver": BOOL, "driver": COMMAND}; check: {"repository": DIR|null, "problems": [TEXT]}`,

  async run(io) {
    const ctx = context(io, 'git', {});
    const [action, ...rest] = ctx.args.positionals;
    if (action === 'merge-driver') {
      if (rest.length !== 4) throw usageError('git merge-driver: git passes BASE OURS THEIRS PATH (%O %A %B %P)');
      const [base, ours, theirs, path] = rest as [string, string, string, string];
      const outcome = runMergeDriver(base, ours, theirs, path, io.cwd);
      for (const line of outcome.messages) io.stderr.write(`${inert(line)}\n`);
      return outcome.code;
    }
    if (action !== 'setup' && action !== 'check') {
      throw usageError(
        action === undefined
          ? 'git: say setup or check, e.g. tasklane git setup'
          : `git: unknown action ${JSON.stringify(action)}; use setup or check`,
      );
    }
    ctx.args.expectPositionals(1, 1, 'setup|check');
    const where = locationOf(io, ctx.args.globals);
    if (where.projectDir === undefined) {
      throw usageError(
        `git ${action}: the list is not a project's (${where.listDir}); run tasklane init in the repository first`,
      );
    }
    if (action === 'setup') {
      const r = setupGit(where.projectDir);
      if (ctx.json) {
        printJson(io, r);
        return EXIT.OK;
      }
      println(
        io,
        r.wroteAttributes
          ? `Wrote ${r.attributesFile} (commit it).`
          : `${r.attributesFile} already marks the task files.`,
      );
      println(
        io,
        r.configuredDriver
          ? `Configured merge.tasklane.driver in this clone: ${r.driver}`
          : 'merge.tasklane.driver already configured in this clone.',
      );
      return EXIT.OK;
    }
    const check = checkGitSetup(where.projectDir, where.listDir);
    if (ctx.json) {
      printJson(io, { repository: check?.repository ?? null, problems: check?.problems ?? [] });
    } else if (check === undefined) {
      println(io, `${inert(where.projectDir)} is not in a git work tree.`);
    } else if (check.problems.length === 0) {
      println(io, `This clone merges task files with tasklane's driver (${inert(check.repository)}).`);
    } else {
      for (const p of check.problems) println(io, `${inert(p)}; run tasklane git setup`);
    }
    return check === undefined || check.problems.length === 0 ? EXIT.OK : EXIT.ERROR;
  },
};
