import { formatDuration, tookMs } from '../../model/duration.js';
import { type Task, tasklaneFields } from '../../model/task.js';
import { CHANGE_KINDS, type ChangeKind } from '../../store/types.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { jsonInert } from '../inert-text.js';
import { oneLine, type Palette, paintState, println } from '../output.js';
import type { Command } from '../registry.js';
import { taskJson } from '../task-view.js';

export const command: Command = {
  summary: "Stream the list's changes as they happen",
  help: `Usage: tasklane watch [--json] [--initial] [--since SEQ] [--kind KIND[,KIND...]]

Prints every change to the list as it happens, until interrupted (Ctrl-C, SIGTERM): changes
made by Tasklane anywhere (other terminals, workers, the MCP server) and changes Claude Code
writes into the list directory itself. File-system events make it fast; a rescan every second
guarantees nothing is missed. Use it instead of a polling loop.

Options:
  --initial              first print every existing task as "created"
  --since SEQ            first replay the history after change SEQ (a "seq" printed by
                         --json or by history), then go on live: no change missed or repeated.
                         At most the last seq of the history, else exit 2
  --kind KIND[,KIND...]  only these kinds (repeatable), or "all". Default: all but heartbeat
                         (a lease renewal, every few seconds per running task). Kinds:
                         ${CHANGE_KINDS.join(', ')}

Text: one line a change: time, kind, task, its state and owner, and its revision.

JSON (--json): one line a change (JSON Lines), flushed as it happens:
  {"kind": KIND, "list": LIST, "taskId": ID, "rev": N, "seq": N, "at": ISO-TIME, "task": TASK}
where TASK is the task as it now is (for "deleted", as it was) plus "state". "rev" is the
task's revision (metadata.tasklane.rev): each Tasklane write raises it (two Claude Code edits
in a row read as different revisions, in no order). "seq" is the list-wide change sequence
(a change Claude Code made carries the seq of the last change before it): restart with
--since SEQ to pick up where a watch stopped.

Examples:
  tasklane watch
  tasklane watch --json --kind completed,failed | jq -r .taskId
  tasklane watch --json --initial > changes.jsonl`,

  async run(io) {
    const ctx = context(io, 'watch', {
      initial: { type: 'boolean' },
      kind: { type: 'string', multiple: true },
      since: { type: 'string' },
    });
    const since = ctx.args.int('since', { min: 0 });
    ctx.args.expectPositionals(0, 0, '');
    const chosen = ctx.args.has('kind') ? ctx.args.choices('kind', [...CHANGE_KINDS, 'all'] as const) : undefined;
    const kinds = new Set<ChangeKind>(
      chosen === undefined
        ? CHANGE_KINDS.filter((k) => k !== 'heartbeat')
        : chosen.includes('all')
          ? CHANGE_KINDS
          : (chosen as ChangeKind[]),
    );
    const store = ctx.store();
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      // The feed first (it fixes its starting point), then the list that states are derived from.
      const feed = store.watch({
        signal: controller.signal,
        initial: ctx.args.flag('initial'),
        ...(since === undefined ? {} : { since }),
      });
      const byId = new Map<string, Task>((await store.list()).map((t) => [t.id, t]));
      for await (const change of feed) {
        if (change.kind === 'deleted') byId.delete(change.taskId);
        else byId.set(change.taskId, change.task);
        if (!kinds.has(change.kind)) continue;
        const task = taskJson(change.task, byId);
        if (ctx.json) {
          const line = {
            kind: change.kind,
            list: change.list,
            taskId: change.taskId,
            rev: change.rev,
            seq: change.seq,
            at: change.at,
            task,
          };
          io.stdout.write(`${jsonInert(JSON.stringify(line))}\n`);
        } else {
          println(io, changeLine(change.kind, change.at, task, change.rev, ctx.p));
        }
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return EXIT.OK;
  },
};

/** `12:03:04.512  claimed    #4 Write the API [in_progress] w1  r3`; a completion says how long the task took: `[completed] in 1 min 5 s`. */
function changeLine(kind: ChangeKind, at: string, task: ReturnType<typeof taskJson>, rev: number, p: Palette): string {
  const time = at.length >= 23 ? at.slice(11, 23) : at;
  const paint = kind === 'deleted' ? p.red : paintState(p, task.state);
  const owner = task.owner === undefined ? '' : ` ${oneLine(task.owner)}`;
  const state = kind === 'deleted' ? '' : ` ${paint(`[${task.state}]`)}`;
  const ms = kind === 'completed' ? tookMs(tasklaneFields(task)) : undefined;
  const took = ms === undefined ? '' : ` in ${formatDuration(ms)}`;
  return `${p.dim(time)}  ${paint(kind.padEnd(10))} ${p.bold(`#${oneLine(task.id)}`)} ${oneLine(task.subject)}${state}${took}${p.dim(`${owner}  r${rev}`)}`;
}
