import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PROJECT_DIR, resolveLocation } from '../../store/location.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';

// Makes a project-local root, `.tasklane/tasks`, which every command run in this directory or
// below then finds by walking up, as git finds `.git`.

const GITIGNORE = `# Locks and temporary files made while writing; the task files themselves can be committed.
.lock
*.lock/
.*.tmp-*
*.stale-*
`;

export const command: Command = {
  summary: 'Make a task list for this project (.tasklane/tasks here)',
  help: `Usage: tasklane init [--list ID]

Creates .tasklane/tasks/ in the current directory, with the list's directory inside it. Every
tasklane command run here or in a subdirectory then uses it (unless --dir or TASKLANE_DIR says
otherwise), the way git finds .git. Running it again changes nothing.
With --dir DIR, creates the list's directory under DIR instead.

Examples:
  tasklane init
  tasklane init --list backend
  cd src && tasklane list        # finds ../.tasklane/tasks

JSON (--json): {"root": DIR, "list": ID, "listDir": DIR, "created": true|false}`,

  async run(io) {
    const ctx = context(io, 'init', {});
    ctx.args.expectPositionals(0, 0, '');
    const g = ctx.args.globals;
    const root = g.dir !== undefined ? undefined : join(io.cwd, PROJECT_DIR, 'tasks');
    const where = resolveLocation({ dir: g.dir ?? root, list: g.list, cwd: io.cwd, env: io.env });
    const created = !existsSync(where.listDir);
    mkdirSync(where.listDir, { recursive: true });
    if (root !== undefined) {
      const ignore = join(io.cwd, PROJECT_DIR, '.gitignore');
      if (!existsSync(ignore)) writeFileSync(ignore, GITIGNORE);
    }
    if (ctx.json) {
      printJson(io, { root: where.root, list: where.list, listDir: where.listDir, created });
      return EXIT.OK;
    }
    const shown = relative(io.cwd, where.root) || '.';
    println(
      io,
      `${created ? 'Initialised' : 'Already initialised:'} ${ctx.p.bold(shown)} (list ${JSON.stringify(where.list)}, ${where.listDir})`,
    );
    if (root !== undefined && io.env.TASKLANE_DIR) {
      println(
        io,
        ctx.p.yellow(`Note: TASKLANE_DIR is set (${io.env.TASKLANE_DIR}); it takes precedence over this directory.`),
      );
    } else if (root !== undefined) {
      println(io, `Commands run in this directory or below now use it. Next: tasklane create "First task"`);
    }
    return EXIT.OK;
  },
};
