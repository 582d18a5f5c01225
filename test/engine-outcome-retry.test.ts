import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coordinator } from '../src/engine/coordinator.js';
import { EngineEvents } from '../src/engine/events.js';
import { TasklaneError, tasklaneFields } from '../src/model/index.js';
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
