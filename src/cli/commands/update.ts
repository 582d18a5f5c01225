import { STATUSES } from '../../model/task.js';
import type { UpdateInput, UpdateOptions } from '../../store/types.js';
import { usageError } from '../args.js';
import { context, metaOption, taskIdArg, textOption } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { singleTaskJson, taskLine } from '../task-view.js';

export const command: Command = {
  summary: 'Edit a task: subject, status, owner, priority, labels, dependencies',
  help: `Usage: tasklane update ID [options]

Changes the given fields of a task and leaves the rest alone. For claiming and finishing work
prefer claim / done / fail, which check who holds the task; update is the plain edit, like
Claude Code's TaskUpdate. All the changes of one update are made together or not at all: an
unknown id, a cycle or a bad value fails the whole update and changes nothing.

Changing the owner of a claimed task (in_progress on a live lease) moves the claim: the new
owner holds the lease, which keeps its token (so a process holding the token, such as tasklane
run whose agent set its own task's owner as Claude Code does, still finishes it; the old owner's
name no longer does). On a lease that ran out, or with --no-owner, the claim ends and the task is
pending again (assigned to the new owner, if any). A status change always ends the claim. On a
failed task, --status completed completes it as done does, and --status pending reopens it as
retry does (unowned unless --owner is given).

Options:
  --subject TEXT             new subject
  --description TEXT         new description
  --description-file FILE    read it from FILE ('-' for stdin); UTF-8 only
  --active-form TEXT         new active form
  --status S                 pending, in_progress or completed (delete with 'tasklane delete')
  --owner NAME | --no-owner  set or remove the owner
  --priority N               new priority (higher is claimed first)
  --label L[,L...]           replace the labels (repeatable); --no-labels removes them all
  --estimate DURATION        seconds, or 90s, 15m, 2h
  --verify CMD | --no-verify set or remove the task's check (see create --help)
  --add-blocks ID[,ID...]    this task comes to block these (repeatable)
  --add-blocked-by ID[,ID...]  this task comes to wait for these (repeatable)
  --rm-blocks ID[,ID...]     remove these from what this task blocks (repeatable)
  --rm-blocked-by ID[,ID...] remove these from what this task waits for (repeatable)
  --meta KEY=VALUE           set user metadata KEY (VALUE parsed as JSON when it parses;
                             KEY=null deletes it; repeatable)
  --if-rev N                 only if the task is still at revision N (metadata.tasklane.rev);
                             otherwise fail with exit code 4 and change nothing

Examples:
  tasklane update 4 --priority 10 --label backend,api
  tasklane update 4 --status completed
  tasklane update 4 --subject 'Ship it' --add-blocked-by 2,3
  tasklane update 4 --meta pr=123 --meta reviewer='"ana"' --if-rev 3 --json

JSON (--json): {"task": TASK}, the task as now stored plus "state".`,

  async run(io) {
    const ctx = context(io, 'update', {
      subject: { type: 'string' },
      description: { type: 'string' },
      'description-file': { type: 'string' },
      'active-form': { type: 'string' },
      status: { type: 'string' },
      owner: { type: 'string' },
      'no-owner': { type: 'boolean' },
      priority: { type: 'string' },
      label: { type: 'string', multiple: true },
      'no-labels': { type: 'boolean' },
      estimate: { type: 'string' },
      verify: { type: 'string' },
      'no-verify': { type: 'boolean' },
      meta: { type: 'string', multiple: true },
      'if-rev': { type: 'string' },
      'add-blocks': { type: 'string', multiple: true },
      'add-blocked-by': { type: 'string', multiple: true },
      'rm-blocks': { type: 'string', multiple: true },
      'rm-blocked-by': { type: 'string', multiple: true },
    });
    const a = ctx.args;
    a.expectPositionals(1, 1, 'ID');
    a.exclusive('owner', 'no-owner');
    a.exclusive('label', 'no-labels');
    a.exclusive('verify', 'no-verify');
    const id = taskIdArg(ctx);
    if (a.string('status') === 'deleted') throw usageError(`to delete a task use: tasklane delete ${id}`, '--status');

    const patch: UpdateInput = {};
    const subject = a.string('subject');
    if (subject !== undefined) patch.subject = subject;
    const description = await textOption(ctx, 'description');
    if (description !== undefined) patch.description = description;
    const activeForm = a.string('active-form');
    if (activeForm !== undefined) patch.activeForm = activeForm;
    const status = a.choice('status', STATUSES);
    if (status !== undefined) patch.status = status;
    const owner = a.string('owner');
    if (owner !== undefined) patch.owner = owner;
    if (a.flag('no-owner')) patch.owner = null;
    const priority = a.int('priority');
    if (priority !== undefined) patch.priority = priority;
    if (a.has('label')) patch.labels = a.list('label');
    if (a.flag('no-labels')) patch.labels = [];
    const estimate = a.seconds('estimate');
    if (estimate !== undefined) patch.estimate = estimate;
    const verify = a.string('verify');
    if (verify !== undefined) patch.verify = verify;
    if (a.flag('no-verify')) patch.verify = null;
    const metadata = metaOption(ctx);
    if (metadata !== undefined) patch.metadata = metadata;
    for (const [option, field] of [
      ['add-blocks', 'addBlocks'],
      ['add-blocked-by', 'addBlockedBy'],
      ['rm-blocks', 'removeBlocks'],
      ['rm-blocked-by', 'removeBlockedBy'],
    ] as const) {
      if (a.has(option)) patch[field] = a.list(option);
    }
    if (Object.keys(patch).length === 0) {
      throw usageError('update: nothing to change; give at least one option (see tasklane update --help)');
    }
    const opts: UpdateOptions = {};
    const rev = a.int('if-rev', { min: 0 });
    if (rev !== undefined) opts.expectedRev = rev;

    const store = ctx.store();
    const task = await store.update(id, patch, opts);
    const out = await singleTaskJson(store, task);
    if (ctx.json) printJson(io, out);
    else println(io, `Updated ${taskLine(task, out.task.state, ctx.p)}`);
    return EXIT.OK;
  },
};
