import { usageError } from '../args.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Add or remove a dependency: dep add|rm BLOCKER BLOCKED',
  help: `Usage: tasklane dep add BLOCKER BLOCKED
       tasklane dep rm BLOCKER BLOCKED

'dep add 3 5' means task 3 blocks task 5: 5 is not ready until 3 is completed. The edge is
written on both tasks (3's blocks and 5's blockedBy), as Claude Code keeps it. An edge that
would close a cycle, or a task blocking itself, is refused with the cycle named, and nothing
changes. 'dep rm' removes the edge from both sides.

Examples:
  tasklane dep add 3 5          # 3 blocks 5
  tasklane dep rm 3 5
  tasklane dep add 3 5 --json

JSON (--json): {"blocker": TASK, "blocked": TASK}, both as now stored plus "state".`,

  async run(io) {
    const ctx = context(io, 'dep', {});
    const [action, blocker, blocked, extra] = ctx.args.positionals;
    if (action !== 'add' && action !== 'rm') {
      throw usageError(
        action === undefined
          ? 'dep: say add or rm, e.g. tasklane dep add 3 5 (3 blocks 5)'
          : `dep: unknown action ${JSON.stringify(action)}; use add or rm`,
      );
    }
    if (blocker === undefined || blocked === undefined) {
      throw usageError(`dep ${action}: give BLOCKER and BLOCKED, e.g. tasklane dep ${action} 3 5 (3 blocks 5)`);
    }
    if (extra !== undefined) throw usageError(`dep ${action}: unexpected argument ${JSON.stringify(extra)}`);
    const store = ctx.store();
    if (action === 'add') await store.addDependency(blocker, blocked);
    else await store.removeDependency(blocker, blocked);
    const a = (await singleTaskJson(store, await store.get(blocker))).task;
    const b = (await singleTaskJson(store, await store.get(blocked))).task;
    if (ctx.json) {
      printJson(io, { blocker: a, blocked: b });
      return EXIT.OK;
    }
    const verb = action === 'add' ? 'now blocks' : 'no longer blocks';
    println(io, `${ctx.p.bold(`#${a.id}`)} ${verb} ${ctx.p.bold(`#${b.id}`)}: ${taskLine(b, b.state, ctx.p)}`);
    return EXIT.OK;
  },
};
