import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Coordinator } from '../src/engine/coordinator.js';
import { EngineEvents } from '../src/engine/events.js';
import { retryWhileIo } from '../src/engine/retry-io.js';
import { runWorker } from '../src/engine/worker.js';
import { isTasklaneError, TasklaneError, tasklaneFields } from '../src/model/index.js';
import type { CompleteInput, FailInput, TaskStore } from '../src/store/types.js';
import { coordinatorOptions, makeList } from './engine-helpers.js';

// Recording an outcome whose first write was made but whose answer was lost (a connection cut
// while committing: "the change may or may not have been made"). The run tries it again, the
// repeat is refused (the lease is gone with the first write), and the run must see that the store
// already holds this attempt's outcome: completed, or failed with its reason, never "lost". The
// store is the real file store; the fault is injected after its real write.

/** The store, whose first complete and first fail write for real and then report a lost connection. */
function answerLostOnce(store: TaskStore, log: string[]): TaskStore {
  let completes = 0;
  let fails = 0;
  const lost = () =>
    new TasklaneError('IO', 'the connection was lost while committing; the change may or may not have been made', {
      transient: true,
    });
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'complete') {
        return async (id: string, holder: CompleteInput) => {
          log.push(`complete ${id}`);
          const done = await target.complete(id, holder);
          if (++completes === 1) throw lost();
          return done;
        };
      }
      if (prop === 'fail') {
        return async (id: string, holder: FailInput) => {
          log.push(`fail ${id}`);
          const failed = await target.fail(id, holder);
          if (++fails === 1) throw lost();
          return failed;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('an outcome written but not acknowledged', () => {
  it('is recognised on the retry: the task counts as completed or failed, not lost', { timeout: 60_000 }, async () => {
    const f = await makeList([
      { subject: 'Succeeds', metadata: { sim: { ms: 1 } } },
      { subject: 'Fails', metadata: { sim: { ms: 1, failAttempts: 5 } } },
    ]);
    const log: string[] = [];
    const warnings: string[] = [];
    const events = new EngineEvents();
    events.on((e) => {
      if (e.type === 'warning') warnings.push(e.message);
    });
    const coordinator = new Coordinator(coordinatorOptions(f, { store: answerLostOnce(f.store, log), events }));
    const report = await coordinator.run();
    const [ok, bad] = f.ids as [string, string];
    assert.deepEqual(
      log,
      [`complete ${ok}`, `complete ${ok}`, `fail ${bad}`, `fail ${bad}`],
      'each write tried twice (the second refused: the first landed)',
    );
    assert.equal(report.records.get(ok)?.outcome, 'completed', JSON.stringify(report.records.get(ok)));
    assert.equal(report.records.get(ok)?.note, undefined, 'no note of an edit: nobody edited it');
    assert.equal(report.records.get(bad)?.outcome, 'failed', JSON.stringify(report.records.get(bad)));
    const stored = await f.store.get(bad);
    assert.match(tasklaneFields(stored).failure?.reason ?? '', /exit/);
    assert.equal((await f.store.get(ok)).status, 'completed');
    assert.ok(
      warnings.some((w) => w.includes('recording its outcome failed')),
      warnings.join('\n'),
    );
    await f.store.close();
  });
});

// A store whose connection hangs: a query on a connection whose network went away (link down, a
// pulled cable) gets no answer until TCP gives up, about 15 minutes. Nothing may wait for it.

/** Timers standing for the hung sockets: they keep the process alive, as a hung connection does. */
const hung: NodeJS.Timeout[] = [];
after(() => {
  for (const t of hung) clearInterval(t);
});

/** A promise that never settles, holding the event loop as a hung connection does. */
function never(): Promise<never> {
  hung.push(setInterval(() => {}, 60_000));
  return new Promise<never>(() => {});
}

describe('a write that never answers', () => {
  it('is given up at the deadline: an IO error saying the store gave no answer, and its late failure is handled', {
    timeout: 20_000,
  }, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let calls = 0;
      let failLate: (e: Error) => void = () => {};
      const error = await retryWhileIo(
        () => {
          calls++;
          hung.push(setInterval(() => {}, 60_000));
          return new Promise<never>((_, reject) => {
            failLate = reject;
          });
        },
        { deadline: Date.now() + 300, firstDelayMs: 1, maxDelayMs: 1 },
      ).then(
        () => assert.fail('a write that never answers cannot succeed'),
        (e: unknown) => e,
      );
      assert.ok(isTasklaneError(error, 'IO'), String(error));
      assert.match((error as Error).message, /^the store gave no answer within (\d+ ms|[\d.]+ s)$/);
      assert.equal((error as TasklaneError).transient, true, 'it may pass: a caller may try again later');
      assert.equal(calls, 1, 'no second attempt after the deadline');
      // The abandoned attempt fails at last (TCP gave up): handled, not an unhandled rejection.
      failLate(new TasklaneError('IO', 'Connection terminated unexpectedly', { transient: true }));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('is abandoned when stopped while it hangs', { timeout: 20_000 }, async () => {
    const stop = new AbortController();
    let calls = 0;
    const pending = retryWhileIo(
      () => {
        calls++;
        setTimeout(() => stop.abort(), 50);
        return never();
      },
      { deadline: Date.now() + 3_600_000, stop: stop.signal },
    );
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(isTasklaneError(e, 'IO'), String(e));
      assert.match((e as Error).message, /stopped while waiting for the store to answer/);
      return true;
    });
    assert.equal(calls, 1);
  });
});

/** The store, whose heartbeats never answer (counted) and whose outcome writes and releases are logged. */
function heartbeatsHang(
  store: TaskStore,
  seen: { heartbeats: number; writes: string[] },
  hangsFor = (_id: string) => true,
): TaskStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'heartbeat') {
        return (id: string, ...rest: unknown[]) => {
          if (!hangsFor(id))
            return (target.heartbeat as (...a: unknown[]) => Promise<unknown>).call(target, id, ...rest);
          seen.heartbeats++;
          return never();
        };
      }
      if (prop === 'complete' || prop === 'fail' || prop === 'release') {
        return (...args: unknown[]) => {
          seen.writes.push(`${String(prop)} ${String(args[0])}`);
          return (Reflect.get(target, prop, receiver) as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('an executor whose heartbeats get no answer', () => {
  for (const command of ['worker', 'run'] as const) {
    it(`${command}: sends one at a time, stops its agent once a lease has passed unanswered, writes nothing and ends with an IO error`, {
      timeout: 60_000,
    }, async () => {
      const f = await makeList([{ subject: 'Long', metadata: { sim: { ms: 60_000 } } }]);
      const [id] = f.ids as [string];
      const seen = { heartbeats: 0, writes: [] as string[] };
      const events = new EngineEvents();
      let pid: number | undefined;
      events.on((e) => {
        if (e.type === 'spawn') pid = e.pid;
      });
      const options = coordinatorOptions(f, {
        store: heartbeatsHang(f.store, seen),
        events,
        leaseMs: 600,
        graceMs: 200,
      });
      const ended =
        command === 'worker'
          ? runWorker(
              { ...options, once: true },
              { cancel: new AbortController().signal, hard: new AbortController().signal },
            )
          : new Coordinator(options).run();
      const error = await ended.then(
        () => assert.fail('it must not end well: its lease could not be renewed'),
        (e: unknown) => e,
      );
      assert.ok(isTasklaneError(error, 'IO'), String(error));
      assert.match(
        (error as Error).message,
        new RegExp(
          `^task ${id}: the lease could not be renewed: the store did not answer for [\\d.]+ (s|ms); its agent was stopped and nothing was recorded$`,
        ),
      );
      assert.equal(seen.heartbeats, 1, 'no heartbeat sent while one was in flight');
      assert.ok(pid !== undefined, 'the agent started');
      assert.throws(() => process.kill(pid as number, 0), 'the agent is gone');
      assert.deepEqual(seen.writes, [], 'nothing written for the task');
      const task = await f.store.get(id);
      assert.equal(task.status, 'in_progress', 'left to its lease, which has run out');
      assert.equal(tasklaneFields(task).result, undefined);
      await f.store.close();
    });
  }

  it('worker -j 2: the other slot stops its agent and releases its task before the worker ends with the error', {
    timeout: 60_000,
  }, async () => {
    const f = await makeList([
      { subject: 'Cut off', priority: 9, metadata: { sim: { ms: 60_000 } } },
      { subject: 'Fine', metadata: { sim: { ms: 60_000 } } },
    ]);
    const [cut, fine] = f.ids as [string, string];
    const seen = { heartbeats: 0, writes: [] as string[] };
    const events = new EngineEvents();
    const pids = new Map<string, number>();
    events.on((e) => {
      if (e.type === 'spawn') pids.set(e.taskId, e.pid);
    });
    const store = heartbeatsHang(f.store, seen, (id) => id === cut);
    const options = coordinatorOptions(f, { store, events, leaseMs: 1_500, graceMs: 200, slots: 2 });
    const error = await runWorker(
      { ...options, once: false },
      { cancel: new AbortController().signal, hard: new AbortController().signal },
    ).then(
      () => assert.fail('it must not end well'),
      (e: unknown) => e,
    );
    assert.match((error as Error).message, new RegExp(`^task ${cut}: the lease could not be renewed`));
    assert.deepEqual(seen.writes, [`release ${fine}`], 'only the other task was released; nothing for the cut-off one');
    assert.equal(pids.size, 2, 'both agents started');
    for (const [id, pid] of pids) assert.throws(() => process.kill(pid, 0), `the agent of #${id} is gone`);
    assert.equal((await f.store.get(fine)).status, 'pending', 'the other task is free for another worker');
    assert.equal((await f.store.get(cut)).status, 'in_progress', 'the cut-off one is left to its lease');
    await f.store.close();
  });

  it('an agent that ends while a heartbeat hangs still has its outcome recorded (the write is fenced by its token)', {
    timeout: 60_000,
  }, async () => {
    // Lease 3 s: the heartbeat at 1 s hangs, the agent ends at about 1.5 s, well before the lease
    // would be given up; its completion goes on another connection, which works.
    const f = await makeList([{ subject: 'Short', metadata: { sim: { ms: 1_500 } } }]);
    const [id] = f.ids as [string];
    const seen = { heartbeats: 0, writes: [] as string[] };
    const options = coordinatorOptions(f, { store: heartbeatsHang(f.store, seen), leaseMs: 3_000 });
    const report = await runWorker(
      { ...options, once: true },
      { cancel: new AbortController().signal, hard: new AbortController().signal },
    );
    assert.deepEqual(report.completed, [id]);
    assert.equal(seen.heartbeats, 1, 'the agent ran past the first heartbeat');
    assert.deepEqual(seen.writes, [`complete ${id}`]);
    assert.equal((await f.store.get(id)).status, 'completed');
    await f.store.close();
  });
});
