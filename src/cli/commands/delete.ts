import { context, taskIdArg } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { oneLine, printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson } from '../task-view.js';

export const command: Command = {
  summary: 'Delete a task and every reference to it',
  help: `Usage: tasklane delete ID

Deletes a task as Claude Code does: removes its file, drops its id from every other task's
blocks and blockedBy, and never reuses the id. The history keeps it: 'tasklane restore ID'
brings it back. In a project list (tasklane init) the file is replaced by a small tombstone
instead, which every reader (Claude Code too) takes as absent, so that a git merge sees the
deletion as a change of that file (docs/git.md).

Examples:
  tasklane delete 4
  tasklane delete 4 --json

JSON (--json): {"task": TASK}, the task as it was before deletion.`,

  async run(io) {
    const ctx = context(io, 'delete', {});
    ctx.args.expectPositionals(1, 1, 'ID');
    const store = ctx.store();
    const task = await store.delete(taskIdArg(ctx));
    const out = await singleTaskJson(store, task);
    if (ctx.json) printJson(io, out);
    else
      println(
        io,
        `Deleted ${ctx.p.bold(`#${task.id}`)} ${oneLine(task.subject)} (tasklane restore ${task.id} brings it back)`,
      );
    return EXIT.OK;
  },
};
