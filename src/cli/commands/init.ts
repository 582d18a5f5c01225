import { relative } from 'node:path';
import { repositoryOf, type SetupResult, setupGit } from '../../engine/git-lists/setup.js';
import { initList } from '../../store/project.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { oneLine, printJson, println } from '../output.js';
import type { Command } from '../registry.js';

// Makes a project-local root, `.tasklane/tasks`, which every command run in this directory or
// below then finds by walking up, as git finds `.git` (the layout and ignore rules: store/project.ts).

export const command: Command = {
  summary: 'Make a task list for this project (.tasklane/tasks here)',
  help: `Usage: tasklane init [--list ID] [--no-git]

Creates .tasklane/tasks/ in the current directory, with the list's directory inside it. Every
tasklane command run here or in a subdirectory then uses it (unless --store, --dir,
TASKLANE_STORE or TASKLANE_DIR says otherwise), the way git finds .git. Running it again
changes nothing.

It also writes .tasklane/.gitignore (or adds the rules an older one lacks): the task files are
meant to be committed; each list's journal and run artifacts (.tasklane/tasks/.tasklane/LIST/:
journal.jsonl, logs/, results/, bin/), the executor's worktrees (.tasklane/worktrees/), locks
and temporary files stay out of git.
With --store DIR (or --dir DIR), creates the list's directory under DIR instead.

In a git work tree it also runs 'tasklane git setup' (and says so): task files then merge with
Tasklane's merge driver, not line by line (docs/git.md). --no-git leaves git alone. Tasks in a
project list get random 8-character ids (e.g. k7m2x9qa), so clones never hand out the same one.

Options:
  --no-git   Do not register the git merge driver (run tasklane git setup later).

Examples:
  tasklane init
  tasklane init --list backend
  cd src && tasklane list        # finds ../.tasklane/tasks

JSON (--json): {"root": DIR, "list": ID, "listDir": DIR, "artifactsDir": DIR, "created": true|false,
"git": null | {"repository": DIR, "attributesFile": PATH, "wroteAttributes": BOOL,
"configuredDriver": BOOL, "driver": COMMAND}}`,

  async run(io) {
    const ctx = context(io, 'init', { 'no-git': { type: 'boolean' } });
    ctx.args.expectPositionals(0, 0, '');
    const g = ctx.args.globals;
    const {
      location: where,
      created,
      ignoreFile,
    } = initList({
      ...(g.store === undefined ? {} : { store: g.store }),
      ...(g.dir === undefined ? {} : { dir: g.dir }),
      ...(g.list === undefined ? {} : { list: g.list }),
      cwd: io.cwd,
      env: io.env,
    });
    const root = ignoreFile === undefined ? undefined : where.root;
    // A project list in a git work tree: register the merge driver, unless told not to.
    let git: SetupResult | undefined;
    const project = where.projectDir;
    if (
      project !== undefined &&
      ignoreFile !== undefined &&
      !ctx.args.flag('no-git') &&
      repositoryOf(project) !== undefined
    ) {
      git = setupGit(project);
    }
    if (ctx.json) {
      printJson(io, {
        root: where.root,
        list: where.list,
        listDir: where.listDir,
        artifactsDir: where.artifactsDir,
        created,
        git: git ?? null,
      });
      return EXIT.OK;
    }
    const shown = relative(io.cwd, where.root) || '.';
    println(
      io,
      `${created ? 'Initialised' : 'Already initialised:'} ${ctx.p.bold(oneLine(shown))} (list ${oneLine(JSON.stringify(where.list))}, ${oneLine(where.listDir)})`,
    );
    if (git !== undefined && (git.wroteAttributes || git.configuredDriver)) {
      println(
        io,
        `Git: task files merge with tasklane's driver (${oneLine(relative(io.cwd, git.attributesFile))}, to commit; merge.tasklane.driver in this clone's config). --no-git skips this.`,
      );
    }
    const override = ['TASKLANE_STORE', 'TASKLANE_DIR'].find((name) => (io.env[name] ?? '') !== '');
    if (root !== undefined && override !== undefined) {
      println(
        io,
        ctx.p.yellow(
          `Note: ${override} is set (${oneLine(io.env[override] ?? '')}); it takes precedence over this directory.`,
        ),
      );
    } else if (root !== undefined) {
      println(io, `Commands run in this directory or below now use it. Next: tasklane create "First task"`);
    }
    return EXIT.OK;
  },
};
