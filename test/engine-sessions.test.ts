import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { tasklaneFields } from '../src/model/index.js';
import {
  AGENT_CMD,
  type AgentRecord,
  alive,
  killAll,
  makeList,
  readRecords,
  runArgs,
  startCli,
  type TaskDef,
  until,
} from './engine-helpers.js';

// Many executors on one list, crashes and Ctrl-C: real processes, checked by pid and by what the
// stand-in agents recorded.

const leftovers: number[] = [];
after(() => killAll(leftovers));

function workerArgs(dir: string, list: string, extra: string[] = []): string[] {
  return ['worker', '--dir', dir, '--list', list, '--agent', AGENT_CMD, '--grace', '1', ...extra];
}

describe('executors sharing a list', () => {
  it('two tasklane run and a worker on one list run every task exactly once', async () => {
    const defs: TaskDef[] = [];
    for (let i = 0; i < 30; i++) {
      defs.push({
        subject: `Task ${i}`,
        after: i >= 5 && i % 2 === 0 ? [i - 5] : [],
        standin: { ms: 10 + (i % 4) * 15 },
      });
    }
    const f = await makeList(defs);
    const one = startCli(runArgs(f, ['-j', '4', '--json']), f.env);
    const two = startCli(runArgs(f, ['-j', '4', '--json']), f.env);
    const worker = startCli(workerArgs(f.dir, f.list, ['-j', '2', '--idle-exit', '1']), f.env);
    const [a, b, w] = await Promise.all([one.done, two.done, worker.done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(w.code, 0, w.stderr);
    const runs = new Map<string, number>();
    for (const r of readRecords(f.records)) runs.set(r.id, (runs.get(r.id) ?? 0) + 1);
    for (const id of f.ids) assert.equal(runs.get(id), 1, `task ${id} ran ${runs.get(id) ?? 0} times`);
    // Each run's result covers the whole list, whoever ran each task.
    for (const [out, stderr] of [
      [JSON.parse(a.stdout), a.stderr],
      [JSON.parse(b.stdout), b.stderr],
    ]) {
      const open = out.tasks.filter((t: { status: string }) => t.status !== 'completed');
      assert.deepEqual(open, [], `a run ended before every task completed:\n${stderr}`);
    }
  });

  it("runs a killed worker's task again once its lease expires", async () => {
    const f = await makeList([
      { subject: 'Survives a crash', standin: { hang: [1] } },
      { subject: 'After it', after: [0] },
    ]);
    const first = startCli(workerArgs(f.dir, f.list, ['--lease', '2']), f.env);
    const hung = await until('the first attempt to start', () => readRecords(f.records).find((r) => r.attempt === 1));
    leftovers.push(hung.pid);
    first.child.kill('SIGKILL');
    await first.done;
    const held = await f.store.get(f.ids[0] as string);
    assert.equal(held.status, 'in_progress', 'the dead worker still holds the task');

    const second = startCli(workerArgs(f.dir, f.list, ['--lease', '2', '--idle-exit', '2.5']), f.env);
    const exit = await second.done;
    assert.equal(exit.code, 0, exit.stderr);
    const again = readRecords(f.records).find((r) => r.id === f.ids[0] && r.attempt === 2) as AgentRecord;
    assert.ok(again, 'the task ran a second time');
    assert.notEqual(again.pid, hung.pid);
    const task = await f.store.get(f.ids[0] as string);
    assert.equal(task.status, 'completed');
    assert.match(tasklaneFields(task).result ?? '', /result of #1/);
    assert.equal((await f.store.get(f.ids[1] as string)).status, 'completed');
  });

  it('worker --once runs one task and exits', async () => {
    const f = await makeList([{ subject: 'First', priority: 2 }, { subject: 'Second' }]);
    const w = await startCli(workerArgs(f.dir, f.list, ['--once', '--json']), f.env).done;
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(JSON.parse(w.stdout), { completed: ['1'], failed: [], cancelled: [], stop: 'once' });
    assert.equal((await f.store.get('2')).status, 'pending');
  });

  it('worker --once --retries runs its one task again until it succeeds or the retries run out', async () => {
    const f = await makeList([{ subject: 'Flaky', standin: { failAttempts: 2 }, priority: 2 }, { subject: 'Other' }]);
    const args = ['--once', '--retries', '2', '--retry-delay', '0.05', '--json'];
    const w = await startCli(workerArgs(f.dir, f.list, args), f.env).done;
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(JSON.parse(w.stdout), { completed: ['1'], failed: [], cancelled: [], stop: 'once' });
    assert.deepEqual(
      readRecords(f.records)
        .map((x) => `${x.id}/${x.attempt}`)
        .sort(),
      ['1/1', '1/2', '1/3'],
      'three runs of task 1, none of task 2',
    );
    assert.equal((await f.store.get('2')).status, 'pending');

    const g = await makeList([{ subject: 'Broken', standin: { failAttempts: 5 } }]);
    const bad = await startCli(
      workerArgs(g.dir, g.list, ['--once', '--retries', '1', '--retry-delay', '0.05', '--json']),
      g.env,
    ).done;
    assert.equal(bad.code, 1, 'exit 1: its one task failed');
    assert.deepEqual(JSON.parse(bad.stdout), { completed: [], failed: ['1'], cancelled: [], stop: 'once' });
    assert.equal(readRecords(g.records).length, 2, 'one run and one retry');
  });
});

describe('Ctrl-C', () => {
  it('stops every agent and its children, releases the tasks, prints what was done, exits 130', async () => {
    const f = await makeList([
      { subject: 'Quick', standin: { ms: 10 }, priority: 9 },
      { subject: 'Hangs', standin: { hang: true, grandchild: true } },
      { subject: 'Hangs and ignores SIGTERM', standin: { hang: true, grandchild: true, ignoreTerm: true } },
      { subject: 'Hangs too', standin: { hang: true } },
      { subject: 'Never starts', after: [1] },
    ]);
    const run = startCli(runArgs(f, ['-j', '3']), f.env);
    const started = await until('three hanging agents', () => {
      const hanging = readRecords(f.records).filter((r) => r.id !== '1');
      return hanging.length === 3 ? hanging : undefined;
    });
    const pids = started.flatMap((r) => [r.pid, r.grandchild]).filter((p): p is number => p !== undefined);
    leftovers.push(...pids);
    assert.equal(pids.length, 5);
    run.child.kill('SIGINT');
    const exit = await run.done;
    assert.equal(exit.code, 130, exit.stderr);
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} is still running`);
    for (const id of ['2', '3', '4']) {
      const task = await f.store.get(id);
      assert.equal(task.status, 'pending', `task ${id} was released`);
      assert.equal(task.owner, undefined);
    }
    assert.match(exit.stdout, /^# Tasklane run: 1 of 5 tasks completed, 3 cancelled, 1 not run/);
    assert.match(exit.stdout, /Interrupted by SIGINT/);
  });
});
