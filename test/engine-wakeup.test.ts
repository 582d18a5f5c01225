import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Coordinator } from '../src/engine/coordinator.js';
import { EngineEvents } from '../src/engine/events.js';
import { DEFAULT_TEMPLATE } from '../src/engine/prompt.js';
import { runWorker } from '../src/engine/worker.js';
import type { Change, ClaimInput, CompleteInput, TaskStore, WatchOptions } from '../src/store/types.js';
import { coordinatorOptions, makeList } from './engine-helpers.js';

// Issue 8's executor latency: a blocker's completion starts its ready dependent at once. Proven by
// the order of what happens, never by timing: the dependent's claim is made before the turn of the
// event loop after the completion's write ends (and before the completion is reported), with a
// change feed that never says anything and a safety floor an hour away, so neither the feed nor
// any timer can be what started it.

/** The run's store as the coordinator sees it: silent feed, and a log of claims, completions and the turns after them. */
function observed(store: TaskStore, log: string[]): TaskStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'watch') {
        return (opts?: WatchOptions): AsyncIterable<Change> => ({
          async *[Symbol.asyncIterator]() {
            const signal = opts?.signal;
            if (signal !== undefined && !signal.aborted) {
              await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
            }
          },
        });
      }
      if (prop === 'claim') {
        return async (input: ClaimInput) => {
          log.push(`claim ${input.taskId}`);
          return target.claim(input);
        };
      }
      if (prop === 'complete') {
        return async (id: string, holder: CompleteInput) => {
          const done = await target.complete(id, holder);
          log.push(`completed ${id}`);
          setImmediate(() => log.push(`next turn after ${id}`));
          return done;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('a completion wakes the scheduler', () => {
  it('claims the dependent in the same turn as its blocker completes, with no change feed and no timer', {
    timeout: 60_000,
  }, async () => {
    // A chain 1 -> 2 -> 3: each link's dependent must be started by its blocker's completion itself.
    const f = await makeList([
      { subject: 'First', estimate: 3, metadata: { sim: { ms: 1 } } },
      { subject: 'Second', after: [0], estimate: 2, metadata: { sim: { ms: 1 } } },
      { subject: 'Third', after: [1], estimate: 1, metadata: { sim: { ms: 1 } } },
    ]);
    const log: string[] = [];
    const events = new EngineEvents();
    events.on((e) => {
      if (e.type === 'finish') log.push(`finish ${e.taskId}`);
    });
    const coordinator = new Coordinator(coordinatorOptions(f, { store: observed(f.store, log), events }));
    const report = await coordinator.run();
    assert.equal(report.ok, true, JSON.stringify(report.tasks.map((t) => [t.id, t.status])));
    const [first, second, third] = f.ids as [string, string, string];
    for (const [blocker, dependent] of [
      [first, second],
      [second, third],
    ] as const) {
      const completed = log.indexOf(`completed ${blocker}`);
      const claimed = log.indexOf(`claim ${dependent}`);
      assert.ok(completed >= 0 && claimed > completed, `#${dependent} claimed after #${blocker} completed: ${log}`);
      assert.ok(
        claimed < log.indexOf(`next turn after ${blocker}`),
        `#${dependent} claimed in the turn #${blocker} completed, not a later one: ${log}`,
      );
      assert.ok(
        claimed < log.indexOf(`finish ${blocker}`),
        `#${dependent} claimed before #${blocker}'s report: ${log}`,
      );
    }
    await f.store.close();
  });
});

/**
 * An agent for the worker test: it marks itself started, then (for a task in WAIT_FOR_EACH_OTHER)
 * exits 0 only once the other such task has started too, so both must run at once. The loop's cap
 * is a safety net: past it the agent fails, it does not measure anything.
 */
const PAIR_AGENT = [
  '/bin/sh',
  '-c',
  [
    ': > "$RECORD_DIR/started-$TASKLANE_TASK_ID"',
    'case " $WAIT_FOR_EACH_OTHER " in *" $TASKLANE_TASK_ID "*) ;; *) exit 0 ;; esac',
    'for other in $WAIT_FOR_EACH_OTHER; do',
    '  [ "$other" = "$TASKLANE_TASK_ID" ] && continue',
    '  i=0',
    '  while [ ! -e "$RECORD_DIR/started-$other" ]; do',
    '    i=$((i + 1)); [ "$i" -gt 3000 ] && exit 1',
    '    sleep 0.01',
    '  done',
    'done',
  ].join('\n'),
  'pair-agent',
];

describe('a completion wakes the idle slots of a worker', () => {
  it('starts both dependents of a diamond at once on two slots, with no change feed and no timer', {
    timeout: 90_000,
  }, async () => {
    // 1 -> {2, 3}: one slot runs #1 while the other finds nothing and sleeps. When #1 completes,
    // one slot takes #2 and the sleeping one must take #3 then, or #2's agent waits for #3 in vain.
    const f = await makeList([{ subject: 'Root' }, { subject: 'Left', after: [0] }, { subject: 'Right', after: [0] }]);
    const [, left, right] = f.ids as [string, string, string];
    const events = new EngineEvents();
    const finished = new Set<string>();
    const cancel = new AbortController();
    events.on((e) => {
      if (e.type !== 'finish') return;
      finished.add(e.taskId);
      if (finished.size === 3) cancel.abort();
    });
    const runDir = f.store.artifactsDir;
    const report = await runWorker(
      {
        store: observed(f.store, []),
        runDir,
        logsDir: join(runDir, 'logs'),
        agent: { command: PAIR_AGENT, preset: 'stdin', source: 'flag' },
        agentOptions: { dangerouslySkipPermissions: false },
        template: DEFAULT_TEMPLATE,
        cwd: f.dir,
        env: { ...process.env, ...f.env, WAIT_FOR_EACH_OTHER: `${left} ${right}` },
        leaseMs: 3_600_000,
        graceMs: 1000,
        worktree: false,
        events,
        slots: 2,
        once: false,
        retries: 0,
        backoff: { baseMs: 10, capMs: 10 },
        floorMs: 3_600_000,
      },
      { cancel: cancel.signal, hard: new AbortController().signal },
    );
    assert.deepEqual(
      { completed: [...report.completed].sort(), failed: report.failed },
      { completed: [...f.ids].sort(), failed: [] },
    );
    await f.store.close();
  });
});
