import type { CreateInput } from '../../store/types.js';
import { context, metaOption, textOption } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Add a task, with its blockers, priority and labels',
  help: `Usage: tasklane create SUBJECT [options]

Adds a pending task to the list and prints it. The new id is the next number, never reused.

Options:
  --description TEXT         what to do, in full (default: empty)
  --description-file FILE    read the description from FILE ('-' for stdin); UTF-8 only
  --active-form TEXT         the present-continuous form shown while it runs ("Writing the API")
  --blocked-by ID[,ID...]    tasks that must complete first (repeatable)
  --blocks ID[,ID...]        tasks that wait for this one (repeatable)
  --priority N               -1000000 to 1000000, higher is claimed first (default 0)
  --label L[,L...]           labels (repeatable)
  --estimate DURATION        expected duration: seconds, or 90s, 15m, 2h (weights the critical path)
  --verify CMD               a check that proves the work: after the agent exits 0, tasklane run
                             runs CMD with /bin/sh -c in the task's working directory; non-zero
                             fails the attempt (docs/executor.md, "Checked completion")
  --owner NAME               assign it to someone (it is then not claimable by others)
  --meta KEY=VALUE           user metadata (VALUE parsed as JSON when it parses; repeatable)

Examples:
  tasklane create "Design the schema" --priority 5 --estimate 2h
  tasklane create "Fix the parser" --verify 'npm test -- parser'
  tasklane create "Write API" --description "REST endpoints for tasks" --blocked-by 3 --json
  git log -1 --format=%B | tasklane create "Follow up" --description-file -

JSON (--json): {"task": TASK}, where TASK is the stored task plus "state".`,

  async run(io) {
    const ctx = context(io, 'create', {
      description: { type: 'string' },
      'description-file': { type: 'string' },
      'active-form': { type: 'string' },
      'blocked-by': { type: 'string', multiple: true },
      blocks: { type: 'string', multiple: true },
      priority: { type: 'string' },
      label: { type: 'string', multiple: true },
      estimate: { type: 'string' },
      verify: { type: 'string' },
      owner: { type: 'string' },
      meta: { type: 'string', multiple: true },
    });
    const a = ctx.args;
    a.expectPositionals(1, Number.POSITIVE_INFINITY, 'SUBJECT');
    const input: CreateInput = { subject: a.positionals.join(' ') };
    const description = await textOption(ctx, 'description');
    if (description !== undefined) input.description = description;
    const activeForm = a.string('active-form');
    if (activeForm !== undefined) input.activeForm = activeForm;
    if (a.has('blocked-by')) input.blockedBy = a.list('blocked-by');
    if (a.has('blocks')) input.blocks = a.list('blocks');
    const priority = a.int('priority');
    if (priority !== undefined) input.priority = priority;
    if (a.has('label')) input.labels = a.list('label');
    const estimate = a.seconds('estimate');
    if (estimate !== undefined) input.estimate = estimate;
    const verify = a.string('verify');
    if (verify !== undefined) input.verify = verify;
    const owner = a.string('owner');
    if (owner !== undefined) input.owner = owner;
    const metadata = metaOption(ctx);
    if (metadata !== undefined) input.metadata = metadata;

    const store = ctx.store();
    const task = await store.create(input);
    const out = await singleTaskJson(store, task);
    if (ctx.json) {
      printJson(io, out);
      return EXIT.OK;
    }
    const blockedBy = task.blockedBy.length > 0 ? `, blocked by ${task.blockedBy.map((b) => `#${b}`).join(', ')}` : '';
    println(io, `Created ${taskLine(task, out.task.state, ctx.p)}${blockedBy}`);
    return EXIT.OK;
  },
};
