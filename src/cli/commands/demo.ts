import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDuration } from '../../model/duration.js';
import { blockedSet, criticalPaths, indexTasks, readySet, topologicalOrder } from '../../model/graph.js';
import { estimateOf, type Task } from '../../model/task.js';
import { openStore } from '../../store/open.js';
import { usageError } from '../args.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatTable, oneLine, printJson, println } from '../output.js';
import type { Command } from '../registry.js';
import { taskJson, taskTable } from '../task-view.js';

// A tour: a small project plan as a list, what is ready and blocked, the order and the critical
// path, then a few claims and completions that make other tasks ready. Touches no real list.

const HOUR = 3600;
const PLAN: { subject: string; estimate: number; after: number[] }[] = [
  { subject: 'Design the data model', estimate: 2 * HOUR, after: [] },
  { subject: 'Write the API', estimate: 4 * HOUR, after: [1] },
  { subject: 'Build the UI', estimate: 6 * HOUR, after: [1] },
  { subject: 'Test the API', estimate: 2 * HOUR, after: [2] },
  { subject: 'Test the UI', estimate: 3 * HOUR, after: [3] },
  { subject: 'Write the user guide', estimate: 1 * HOUR, after: [2] },
  { subject: 'Set up CI', estimate: 1 * HOUR, after: [] },
  { subject: 'Release v1', estimate: HOUR / 2, after: [4, 5, 6, 7] },
];

export const command: Command = {
  summary: 'A short tour on a fresh example list',
  help: `Usage: tasklane demo [--store DIR | --dir DIR] [--list ID]

Builds an example list (a small project: design, API, UI, tests, docs, CI, release), then shows
what is ready, what is blocked and on what, a topological order and the critical path, and
claims and completes a few tasks so you can watch others become ready. It needs nothing set up.

By default the list goes in a new temporary directory, never in your real lists; with --store
(or --dir) it goes in DIR (list "demo" unless --list says otherwise), which must not already
hold that list.

Examples:
  tasklane demo
  tasklane demo --dir ./demo-tasks && tasklane --dir ./demo-tasks --list demo list --all

JSON (--json): {"dir", "list", "ready": [ID], "blocked": [{"id", "openBlockers"}], "order": [ID],
"criticalPath": {ID: SECONDS}, "steps": [{"owner", "claimed", "completed", "nowReady": [ID]}],
"tasks": [TASK, ...]}`,

  async run(io) {
    const ctx = context(io, 'demo', {});
    ctx.args.expectPositionals(0, 0, '');
    const g = ctx.args.globals;
    const list = g.list ?? 'demo';
    const given = g.store !== undefined || g.dir !== undefined;
    const store = openStore({
      ...(given ? { store: g.store, dir: g.dir } : { dir: mkdtempSync(join(tmpdir(), 'tasklane-demo-')) }),
      list,
      cwd: io.cwd,
      env: {},
    });
    const dir = store.descriptor;
    const existing = await store.list();
    if (existing.length > 0) {
      throw usageError(`demo: list ${JSON.stringify(list)} in ${dir} already has tasks; give another --list or --dir`);
    }
    const p = ctx.p;
    const out = (line = ''): void => {
      if (!ctx.json) println(io, line);
    };
    const title = (n: number, text: string): void => out(`\n${p.bold(`${n}. ${text}`)}`);
    const snapshot = async (): Promise<Map<string, Task>> => indexTasks(await store.list());

    out(`${p.bold('Tasklane demo')}: an example list ${JSON.stringify(list)} in ${oneLine(dir)}`);
    title(1, 'A plan of eight tasks, each waiting on the ones it needs');
    const ids: string[] = [];
    for (const step of PLAN) {
      const task = await store.create({
        subject: step.subject,
        estimate: step.estimate,
        blockedBy: step.after.map((n) => ids[n - 1] as string),
      });
      ids.push(task.id);
      const after = task.blockedBy.length > 0 ? p.dim(`  after ${task.blockedBy.map((b) => `#${b}`).join(', ')}`) : '';
      out(
        `   ${p.bold(`#${task.id}`.padEnd(3))} ${task.subject.padEnd(22)} ${formatDuration(step.estimate * 1000).padStart(6)}${after}`,
      );
    }

    let byId = await snapshot();
    const paths = criticalPaths(byId);
    const ready = await store.ready();
    title(2, "Ready now, in the order 'tasklane claim' takes them (priority, then critical path)");
    out(indent(taskTable(ready, byId, p, undefined)));
    const blocked = blockedSet(byId);
    title(3, 'Blocked, and on what');
    out(
      indent(
        taskTable(
          blocked.map((b) => b.task),
          byId,
          p,
          undefined,
        ),
      ),
    );
    const { order } = topologicalOrder(byId);
    title(4, 'A topological order (every task after its blockers)');
    out(`   ${order.map((t) => `#${t.id}`).join(p.dim(' → '))}`);
    title(5, 'Critical path: the longest chain of work each task holds up');
    const byPath = [...order].sort((a, b) => (paths.get(b.id) ?? 0) - (paths.get(a.id) ?? 0));
    out(
      indent(
        formatTable(
          ['ID', 'SUBJECT', 'ESTIMATE', 'CRITICAL PATH'],
          byPath.map((t) => [
            { text: `#${t.id}`, paint: p.bold },
            t.subject,
            formatDuration(estimateOf(t) * 1000),
            formatDuration(paths.get(t.id) ?? 0 * 1000),
          ]),
          { p },
        ),
      ),
    );
    const longest = byPath[0];
    if (longest !== undefined) {
      out(
        `   The whole plan needs at least ${p.bold(formatDuration(paths.get(longest.id) ?? 0 * 1000))}, however many agents work on it.`,
      );
    }

    title(6, 'Agents claim work; finishing a task makes the ones waiting on it ready');
    const steps: { owner: string; claimed: string; completed: boolean; nowReady: string[] }[] = [];
    const act = async (owner: string, finish: boolean): Promise<void> => {
      const before = new Set(readySet(byId).map((t) => t.id));
      const claim = await store.claim({ owner });
      if (claim === null) return;
      out(`   ${p.cyan(owner)} claims ${p.bold(`#${claim.task.id}`)} ${claim.task.subject}`);
      let nowReady: string[] = [];
      if (finish) {
        await store.complete(claim.task.id, { owner, token: claim.token, result: `${claim.task.subject}: done` });
        byId = await snapshot();
        nowReady = (await store.ready()).map((t) => t.id).filter((id) => !before.has(id));
        const names = nowReady.map((id) => `#${id} ${byId.get(id)?.subject ?? ''}`).join(', ');
        out(`   ${p.cyan(owner)} completes it${nowReady.length > 0 ? `, so now ready: ${p.green(names)}` : ''}`);
      } else {
        byId = await snapshot();
      }
      steps.push({ owner, claimed: claim.task.id, completed: finish, nowReady });
    };
    await act('alice', true);
    await act('bob', false);
    await act('carol', true);
    await act('dave', false);

    byId = await snapshot();
    title(7, 'The list now');
    out(indent(taskTable([...byId.values()], byId, p, undefined)));
    out();
    out(p.bold('Try it yourself:'));
    const base = oneLine(`tasklane --dir ${shellQuote(dir)} --list ${shellQuote(list)}`);
    out(`   ${base} list --all`);
    out(`   ${base} claim --owner you`);
    out(`   ${base} done 3 --owner bob --result "UI built"`);
    out(`   ${base} history`);

    if (ctx.json) {
      printJson(io, {
        dir,
        list,
        ready: ready.map((t) => t.id),
        blocked: blocked.map((b) => ({ id: b.task.id, openBlockers: b.blockers })),
        order: order.map((t) => t.id),
        criticalPath: Object.fromEntries(order.map((t) => [t.id, paths.get(t.id) ?? 0])),
        steps,
        tasks: [...byId.values()].map((t) => taskJson(t, byId)),
      });
    }
    await store.close();
    return EXIT.OK;
  },
};

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
