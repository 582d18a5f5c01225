import { isAbsolute, relative, resolve, sep } from 'node:path';
import { aggregate, renderJson, renderMarkdown } from '../../engine/aggregate.js';
import { sharedCheckoutWarning } from '../../engine/checkout.js';
import { Coordinator, FAILURE_POLICIES, type FailurePolicy } from '../../engine/coordinator.js';
import { EngineEvents } from '../../engine/events.js';
import { saveLastRun } from '../../engine/last-run.js';
import { applyPlan } from '../../engine/plan/apply.js';
import { isTasklaneError, TasklaneError } from '../../model/index.js';
import { type Globals, parseCommand, usageError } from '../args.js';
import { isBrokenPipe } from '../broken-pipe.js';
import { defaultOwner, planBase } from '../context.js';
import { agentLabel, EXECUTOR_HELP, EXECUTOR_OPTIONS, executorSetup } from '../executor-options.js';
import { EXIT } from '../exit-codes.js';
import { inert, jsonInert } from '../inert-text.js';
import { progressView } from '../live-view.js';
import { openBrowser, wantsBrowser } from '../open-browser.js';
import { palette } from '../output.js';
import { readPlanFile } from '../read-input.js';
import type { Command, CommandIO } from '../registry.js';
import { handleRunSignals, SIGNAL_EXIT } from '../run-signals.js';
import { packageVersion } from '../version.js';

export const command: Command = {
  summary: 'Run the list with parallel agents until every task is done; print one aggregated result',
  help: `Usage: tasklane run [PLAN_FILE] [options]

Runs the list's tasks with up to -j agents at once. A task starts the moment its blockers
complete and a slot is free, best first (priority, then the longest remaining critical path);
each agent gets the task, its description and its blockers' results in its prompt. Tasks added
while it runs (by agents or anyone else) are run too; a task another session holds is left to it.
With PLAN_FILE, the plan is first turned into tasks, as 'tasklane plan PLAN_FILE' would (running
the same plan again creates nothing twice).

Progress goes to stderr: a live view on a terminal, plain lines otherwise. When the run ends,
stdout holds the aggregated result and nothing else: markdown, or JSON with --json. The result
is also saved in the list's run artifacts; 'tasklane results' prints it again.

Options:
  -j, --jobs N               agents at once (default 4)
  --on-failure POLICY        what a failed task (after its retries) does to the run (default continue):
                               continue  keep running everything that does not wait on it
                               stop      start nothing new; let the running agents finish
                               kill      stop the running agents too, and release their tasks
  --retry-failed             put tasks that had failed before this run back to pending first
  --board                    serve the live board on the run (tasklane board): the agents running,
                             their activity, cost so far, time left, and the result when it ends.
                             Opened in a browser on a terminal; after the run it stays up until
                             Ctrl-C when stderr is a terminal, else it closes with the run
  --board-port N             the board's port (default 4800, or any free port when 4800 is taken;
                             0 = any free port); it binds 127.0.0.1
  --no-open                  with --board: do not open a browser
${EXECUTOR_HELP}

Ctrl-C, SIGTERM, SIGHUP (the terminal closed) or a closed stdout/stderr stop starting tasks,
SIGTERM every process the agents started (including ones that left their process group),
SIGKILL what is left after the grace period, release their tasks and print what was done. A
second Ctrl-C kills at once. Ctrl-Z stops the agents with the run; fg resumes them.

Exit status: 0 when every task of the run completed; 1 when any failed, was left blocked by a
failure, was cancelled (--on-failure kill), was held by another session at the end or was not
run; 130 on Ctrl-C, 143 on SIGTERM, 129 on SIGHUP, 141 on a closed output; 2 for bad usage.

Examples:
  tasklane run examples/webapp.md -j 4 --preset sim      # the demo: simulated agents
  tasklane run -j 6 --retries 2 --timeout 30m            # the list, with Claude Code
  tasklane run --agent "codex" --worktree --on-failure stop
  tasklane run --json | jq '.tasks[] | {id, status}'

JSON (--json): {"list", "ok", "durationMs", "counts": {"total", "completed", "failed",
"blocked", "cancelled", "in_progress", "not_run"}, "stopped"?, "interrupted"? (SIGINT|SIGTERM|SIGHUP|SIGPIPE), "alreadyCompleted",
"totals": {"inputTokens"?, "outputTokens"?, "costUsd"?}, "tasks": [{"id", "subject", "status",
"result"?, "failure"?, "blockedBy"?, "durationMs"?, "attempts", "owner"?, "inputTokens"?,
"outputTokens"?, "costUsd"?, "log"?, "worktree"?: {"path", "branch", "commit"?, "conflict"?}, "note"?}],
"notes"?, "integration"?: {"branch", "base", "head", "merged", "conflicts": [{"task", "branch",
"files"}]}}; "note" says what was done to the task while its agent ran, without a claim (the agent
editing its own task), "notes" the same for tasks deleted meanwhile; "integration" (--worktree) is
the branch tasklane/<list>/run-<UTC stamp> holding every task the run completed, merged in
dependency order, and the tasks left out because they conflict.`,

  async run(io) {
    const args = parseCommand(io, 'run', {
      ...EXECUTOR_OPTIONS,
      'on-failure': { type: 'string' },
      'retry-failed': { type: 'boolean' },
      board: { type: 'boolean' },
      'board-port': { type: 'string' },
      'no-open': { type: 'boolean' },
    });
    args.expectPositionals(0, 1, 'PLAN_FILE');
    const onFailure = args.choice<FailurePolicy>('on-failure', FAILURE_POLICIES) ?? 'continue';
    const boardPort = args.int('board-port', { min: 0 });
    if (boardPort !== undefined && boardPort > 65535) {
      throw usageError(`--board-port ${boardPort}: a port is 0 to 65535 (0 = any free port)`, '--board-port');
    }
    for (const name of ['board-port', 'no-open']) {
      if (args.has(name) && !args.flag('board')) throw usageError(`--${name} goes with --board`, `--${name}`);
    }
    const events = new EngineEvents();
    const setup = executorSetup(io, args, events, 4);
    const store = setup.config.store;

    const planFile = args.positionals[0];
    if (planFile !== undefined) await importPlan(io, args.globals, planFile, store);

    const coordinator = new Coordinator({
      ...setup.config,
      slots: setup.slots,
      onFailure,
      retries: setup.retries,
      backoff: setup.backoff,
      floorMs: 5000,
      retryFailed: args.flag('retry-failed'),
    });
    const live = io.stderr.isTTY === true && io.env.TERM !== 'dumb';
    const color = live && !args.flag('no-color') && (io.env.NO_COLOR ?? '') === '';
    if (setup.notice !== undefined) io.stderr.write(`tasklane: ${setup.notice}\n`);
    const shared = sharedCheckoutWarning({
      cwd: io.cwd,
      slots: setup.slots,
      worktree: setup.config.worktree,
      simulated: setup.agent.preset === 'sim',
    });
    if (shared !== undefined) io.stderr.write(`tasklane: warning: ${shared}\n`);
    io.stderr.write(
      `tasklane: running list "${store.listId}" with up to ${setup.slots} agents at once (${agentLabel(setup.agent)})\n`,
    );
    const view = progressView({
      stderr: io.stderr,
      events,
      status: () => coordinator.status(),
      live,
      p: palette(color),
    });

    // Loaded only with --board, so a run without it loads no HTTP server.
    const board = args.flag('board')
      ? await startRunBoard(io, store, events, boardPort, args.flag('no-open'))
      : undefined;

    // A closed stdout or stderr stops the run (SIGPIPE); one found only by writing the result ends it with 141 too.
    let outputClosed = false;
    const offSignals = handleRunSignals((signal) => {
      if (signal === 'SIGPIPE') outputClosed = true;
      coordinator.interrupt(signal);
    });
    let report: Awaited<ReturnType<Coordinator['run']>>;
    try {
      report = await coordinator.run();
    } finally {
      view.stop();
      if (board === undefined) await store.close();
    }
    const result = aggregate(report);
    // Kept for `tasklane results`; a run whose artifacts cannot be written still prints its result.
    try {
      saveLastRun(store.artifactsDir, result);
    } catch (e) {
      io.stderr.write(
        `tasklane: warning: the result was not saved for 'tasklane results': ${inert((e as Error).message)}\n`,
      );
    }
    // The markdown holds agents' results: on a terminal, shown and never obeyed (a file gets it exact).
    const markdown = (): string => {
      const text = renderMarkdown(result);
      return io.stdout.isTTY === true ? inert(text, { multiline: true }) : text;
    };
    // Waited for (a pipe's write fails after it is made): a reader gone by now is still a closed output.
    const written = await new Promise<Error | null | undefined>((resolve) => {
      io.stdout.write(args.globals.json ? jsonInert(renderJson(result)) : markdown(), resolve);
    });
    if (written != null && isBrokenPipe(written as NodeJS.ErrnoException)) outputClosed = true;
    // The stream's 'error' (reported on a later tick) still goes to the run's handler, not to the quiet exit.
    await new Promise<void>((resolve) => setImmediate(resolve));
    offSignals();
    if (board !== undefined) {
      if (live && report.interrupted === undefined) {
        io.stderr.write(`tasklane: the run is over; the board stays at ${board.url} until Ctrl-C\n`);
        await new Promise<void>((resolve) => {
          for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve());
        });
      }
      await board.close();
      await store.close();
    }
    if (report.interrupted !== undefined) return SIGNAL_EXIT[report.interrupted];
    if (outputClosed) return SIGNAL_EXIT.SIGPIPE;
    return report.ok ? EXIT.OK : EXIT.ERROR;
  },
};

/** `run --board`: the board on the run's store, fed the run's events. */
async function startRunBoard(
  io: CommandIO,
  store: Parameters<typeof applyPlan>[0],
  events: EngineEvents,
  port: number | undefined,
  noOpen: boolean,
): Promise<{ url: string; close(): Promise<void> }> {
  const { startBoard, DEFAULT_PORT } = await import('../../http/server.js');
  const start = (on: number) =>
    startBoard({
      store,
      port: on,
      actor: defaultOwner(io),
      version: packageVersion(),
      run: { source: events, list: store.listId },
      onWarning: (message) => io.stderr.write(`tasklane: warning: ${inert(message)}\n`),
    });
  let board: Awaited<ReturnType<typeof start>>;
  try {
    board = await start(port ?? DEFAULT_PORT);
  } catch (err) {
    // The default port taken (a `tasklane board` already running, say): any free one will do.
    if (port !== undefined || !isTasklaneError(err, 'USAGE') || err.field !== '--port') throw err;
    board = await start(0);
  }
  io.stderr.write(`tasklane: board at ${board.url}\n`);
  if (wantsBrowser(io, noOpen)) openBrowser(io, board.url, 'tasklane run');
  return board;
}

/** Turns the plan into tasks first, with the same plan identity as `tasklane plan` gives it. */
async function importPlan(
  io: CommandIO,
  globals: Globals,
  file: string,
  store: Parameters<typeof applyPlan>[0],
): Promise<void> {
  const path = resolve(io.cwd, file);
  // The plan reader (and its CommonMark parser) loads only when a run is given a plan.
  const { loadPlan, MAX_PLAN_BYTES } = await import('../../engine/plan/load.js');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readPlanFile(path, file, MAX_PLAN_BYTES));
  } catch (err) {
    if (err instanceof TasklaneError) throw err; // over the plan limit
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === undefined ? 'not valid UTF-8' : (err as Error).message;
    throw new TasklaneError('IO', `cannot read the plan ${file}: ${why}`, { file, cause: err });
  }
  const spec = loadPlan(text, file);
  if (spec.tasks.length === 0) {
    throw new TasklaneError(
      'INVALID_INPUT',
      `${file}: no tasks found (a task is a list item such as "- Design the API")`,
      {
        file,
      },
    );
  }
  // Same identity as `tasklane plan` (its defaultSource): the path relative to the project, else to cwd.
  const base = planBase(io, globals);
  const rel = relative(base, path);
  const source =
    rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path.split(sep).join('/') : rel.split(sep).join('/');
  const applied = await applyPlan(store, spec, { source, actor: 'tasklane run' });
  io.stderr.write(
    `tasklane: plan ${file}: ${applied.created.length} tasks created, ${applied.existing.length} already there\n`,
  );
}
