import { EngineEvents } from '../../engine/events.js';
import { runWorker } from '../../engine/worker.js';
import { parseCommand } from '../args.js';
import { agentLabel, EXECUTOR_HELP, EXECUTOR_OPTIONS, executorSetup } from '../executor-options.js';
import { EXIT } from '../exit-codes.js';
import { progressView } from '../live-view.js';
import { palette, printJson } from '../output.js';
import type { Command } from '../registry.js';
import { handleRunSignals, SIGNAL_EXIT, type StopSignal } from '../run-signals.js';

export const command: Command = {
  summary: 'Claim and run ready tasks until stopped; start one per terminal or machine',
  help: `Usage: tasklane worker [options]

The long-running claim loop: claims the best ready task (priority, then critical path), runs the
agent on it with its lease heartbeated, records the result, and claims the next. With nothing to
claim it sleeps on the list's change feed, so it starts within milliseconds of a task becoming
ready, without polling. Start any number of workers, in other terminals or on other machines
sharing the list: each task is claimed by exactly one of them. A worker that dies leaves its task
to the others once its lease expires.

Progress goes to stderr, one line per start and finish.

Options:
  -j, --jobs N               tasks this worker runs at once (default 1)
  --once                     run one task (or none, if nothing is ready) and exit
  --idle-exit DURATION       exit after this long with nothing to do (default: never)
${EXECUTOR_HELP}

Ctrl-C, SIGTERM, SIGHUP or a closed stdout/stderr stop claiming, stop the running agents and
everything they started (SIGTERM, SIGKILL after the grace period) and release their tasks.
Ctrl-Z stops the agents with the worker; fg resumes them.

Exit status: 0 when it stopped because of --once or --idle-exit (with --once: 1 if the task
failed); 130 on Ctrl-C, 143 on SIGTERM, 129 on SIGHUP, 141 on a closed output; 2 for bad usage.

Examples:
  tasklane worker                          # in as many terminals as you like
  tasklane worker -j 3 --agent codex --idle-exit 10m
  tasklane worker --once --preset sim --json

JSON (--json, printed when it exits): {"completed": [ID], "failed": [ID], "cancelled": [ID],
"stop": "once"|"idle"|"signal"}.`,

  async run(io) {
    const args = parseCommand(io, 'worker', {
      ...EXECUTOR_OPTIONS,
      once: { type: 'boolean' },
      'idle-exit': { type: 'string' },
    });
    args.expectPositionals(0, 0, 'nothing');
    const events = new EngineEvents();
    const setup = executorSetup(io, args, events, 1);
    const idle = args.seconds('idle-exit');
    if (setup.notice !== undefined) io.stderr.write(`tasklane: ${setup.notice}\n`);
    io.stderr.write(
      `tasklane: worker on list "${setup.config.store.listId}", ${setup.slots} at a time (${agentLabel(setup.agent)})\n`,
    );
    const view = progressView({ stderr: io.stderr, events, live: false, p: palette(false) });

    const cancel = new AbortController();
    const hard = new AbortController();
    let signalled: StopSignal | undefined;
    const offSignals = handleRunSignals((signal) => {
      if (signalled !== undefined && signal !== 'SIGPIPE') hard.abort();
      signalled ??= signal;
      cancel.abort();
    });
    let report: Awaited<ReturnType<typeof runWorker>>;
    try {
      report = await runWorker(
        {
          ...setup.config,
          slots: setup.slots,
          once: args.flag('once'),
          ...(idle === undefined ? {} : { idleExitMs: Math.round(idle * 1000) }),
          retries: setup.retries,
          backoff: setup.backoff,
          floorMs: 5000,
        },
        { cancel: cancel.signal, hard: hard.signal },
      );
    } finally {
      view.stop();
      await setup.config.store.close();
    }
    if (args.globals.json) printJson(io, report);
    else {
      io.stderr.write(
        `tasklane: worker stopped (${report.stop}): ${report.completed.length} completed, ${report.failed.length} failed, ${report.cancelled.length} cancelled\n`,
      );
    }
    offSignals();
    if (signalled !== undefined) return SIGNAL_EXIT[signalled];
    return report.stop === 'once' && report.failed.length > 0 ? EXIT.ERROR : EXIT.OK;
  },
};
