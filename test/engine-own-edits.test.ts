import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTasklaneError } from '../src/model/index.js';
import { cli, makeList, readRecords, runArgs, type StandIn } from './engine-helpers.js';

// An agent that edits its own task (issue 8, observation 4): Claude Code's TaskUpdate sets the
// owner, an agent may set its task back to pending or delete it. The task runs exactly once per
// attempt (here --retries 0: once), the run ends, and what happened is in the aggregated result.
// A short lease makes the heartbeat, which notices the edit, come round several times while the
// agent works.

async function runEditing(editSelf: StandIn['editSelf']) {
  const f = await makeList([
    { subject: 'Edits its own task', standin: { editSelf, ms: 1500 } },
    { subject: 'Waits for it', after: [0] },
  ]);
  const r = await cli(runArgs(f, ['--lease', '0.3', '--retries', '0', '--json']), f.env);
  const runs = readRecords(f.records).filter((x) => x.id === '1');
  return { f, r, runs, out: r.stdout === '' ? undefined : JSON.parse(r.stdout) };
}

describe('an agent that edits its own task', () => {
  for (const [edit, owner] of [
    ['owner', 'agent-self'],
    ['fileOwner', 'claude-self'],
  ] as const) {
    it(`(${edit}: sets its owner) runs once, completes, and the result says what it did`, {
      timeout: 60_000,
    }, async () => {
      const { f, r, runs, out } = await runEditing(edit);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(runs.length, 1, 'the task ran once');
      assert.deepEqual(
        out.tasks.map((t: { status: string }) => t.status),
        ['completed', 'completed'],
      );
      assert.match(out.tasks[0].note, new RegExp(`its owner was set to "${owner}"`));
      assert.equal((await f.store.get('1')).owner, owner);
    });
  }

  it('(sets it back to pending) runs once, completes, and the result says what it did', {
    timeout: 60_000,
  }, async () => {
    const { r, runs, out } = await runEditing('pending');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(runs.length, 1, 'the task ran once');
    assert.deepEqual(
      out.tasks.map((t: { status: string }) => t.status),
      ['completed', 'completed'],
    );
    assert.match(out.tasks[0].note, /its status was set to pending/);
  });

  it('(deletes it) runs once, the run ends, and the result says the task was deleted', {
    timeout: 60_000,
  }, async () => {
    const { f, r, runs, out } = await runEditing('delete');
    assert.equal(runs.length, 1, 'the task ran once');
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(f.store.get('1'), (e: unknown) => isTasklaneError(e, 'NOT_FOUND'));
    assert.deepEqual(out.notes, ['task 1 was deleted while its agent ran (by the agent or another session)']);
    assert.deepEqual(
      out.tasks.map((t: { id: string; status: string }) => [t.id, t.status]),
      [['2', 'completed']],
    );
  });
});
