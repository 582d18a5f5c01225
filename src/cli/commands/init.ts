import { relative } from 'node:path';
import { initList } from '../../store/project.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';

// Makes a project-local root, `.tasklane/tasks`, which every command run in this directory or
// below then finds by walking up, as git finds `.git` (the layout and ignore rules: store/project.ts).

export const command: Command = {
  summary: 'Make a task list for this project (.tasklane/tasks here)',
  help: `Usage: tasklane init [--list ID]

Creates .tasklane/tasks/ in the current directory, with the list's directory inside it. Every
tasklane command run here or in a subdirectory then uses it (unless --store, --dir,
TASKLANE_STORE or TASKLANE_DIR says otherwise), the way git finds .git. Running it again
changes nothing.

It also writes .tasklane/.gitignore (or adds the rules an older one lacks): the task files are
meant to be committed; each list's journal and run artifacts (.tasklane/tasks/.tasklane/LIST/:
journal.jsonl, logs/, results/, bin/), the executor's worktrees (.tasklane/worktrees/), locks
and temporary files stay out of git.
With --store DIR (or --dir DIR), creates the list's directory under DIR instead.

Examples:
  tasklane init
  tasklane init --list backend
  cd src && tasklane list        # finds ../.tasklane/tasks

JSON (--json): {"root": DIR, "list": ID, "listDir": DIR, "artifactsDir": DIR, "created": true|false}`,

  async run(io) {
    const ctx = context(io, 'init', {});
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
    if (ctx.json) {
      printJson(io, {
        root: where.root,
        list: where.list,
        listDir: where.listDir,
        artifactsDir: where.artifactsDir,
        created,
      });
      return EXIT.OK;
    }
    const shown = relative(io.cwd, where.root) || '.';
    println(
      io,
      `${created ? 'Initialised' : 'Already initialised:'} ${ctx.p.bold(shown)} (list ${JSON.stringify(where.list)}, ${where.listDir})`,
    );
    const override = ['TASKLANE_STORE', 'TASKLANE_DIR'].find((name) => (io.env[name] ?? '') !== '');
    if (root !== undefined && override !== undefined) {
      println(
        io,
        ctx.p.yellow(`Note: ${override} is set (${io.env[override]}); it takes precedence over this directory.`),
      );
    } else if (root !== undefined) {
      println(io, `Commands run in this directory or below now use it. Next: tasklane create "First task"`);
    }
    return EXIT.OK;
  },
};
