import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimQueue,
  claimRefusal,
  claimTask,
  completeTask,
  editTask,
  FAILURE_HISTORY_LIMIT,
  failTask,
  indexTasks,
  isTasklaneError,
  reapTask,
  restoredTask,
  retryTask,
  stateOf,
  type Task,
  tasklaneFields,
  withTasklaneFields,
} from '../src/model/index.js';

// The state machine as pure functions: one claim rule, one claim order, each transition.

const T0 = new Date('2030-01-01T00:00:00Z');
const later = (ms: number): Date => new Date(T0.getTime() + ms);
const at = (now = T0, token = 'tok') => ({ now, token });

function task(id: string, extra: Partial<Task> = {}, priority?: number): Task {
  const t: Task = {
    id,
    subject: `task ${id}`,
    description: '',
    status: 'pending',
    blocks: [],
    blockedBy: [],
    ...extra,
  };
  return priority === undefined ? t : withTasklaneFields(t, { priority });
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isTasklaneError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('the claim rule', () => {
  it('is one answer for ready, expired, assigned, blocked, held, failed and completed tasks', () => {
    const held = claimTask(task('1'), new Map(), 'w1', 1000, at());
    const byId = indexTasks([
      held,
      task('2', { owner: 'alice' }),
      task('3', { blockedBy: ['1'] }),
      task('4'),
      task('5', { status: 'completed' }),
    ]);
    assert.equal(stateOf(held, byId, T0), 'in_progress');
    assert.equal(stateOf(held, byId, later(1000)), 'expired');
    assert.match(claimRefusal(held, byId, T0, 'w2') ?? '', /held by "w1"/);
    assert.equal(claimRefusal(held, byId, later(1000), 'w2'), undefined);
    assert.match(claimRefusal(byId.get('2') as Task, byId, T0, 'bob') ?? '', /assigned to "alice"/);
    assert.equal(claimRefusal(byId.get('2') as Task, byId, T0, 'alice'), undefined);
    assert.match(claimRefusal(byId.get('3') as Task, byId, T0) ?? '', /blocked by #1/);
    assert.match(claimRefusal(byId.get('5') as Task, byId, T0) ?? '', /completed/);
    const failed = failTask(held, { owner: 'w1' }, 'boom', at());
    assert.equal(stateOf(failed, byId, later(5000)), 'failed');
    assert.match(claimRefusal(failed, byId, later(5000)) ?? '', /failed \(boom\)/);
  });

  it('orders the queue: the claimer assigned tasks, then priority, critical path, id', () => {
    const byId = indexTasks([
      task('1'),
      task('2', { blocks: ['3'] }),
      task('3', { blockedBy: ['2'] }),
      task('4', {}, 5),
      task('5', { owner: 'alice' }),
      task('6', { owner: 'bob' }, 9),
    ]);
    assert.deepEqual(
      claimQueue(byId, T0).map((t) => t.id),
      ['4', '2', '1'],
    );
    assert.deepEqual(
      claimQueue(byId, T0, 'alice').map((t) => t.id),
      ['5', '4', '2', '1'],
    );
  });
});

describe('transitions', () => {
  it('claim, complete with a record in the same task, and reap an expired lease', () => {
    const claimed = claimTask(task('1'), new Map(), 'w', 1000, at());
    assert.equal(claimed.status, 'in_progress');
    assert.equal(tasklaneFields(claimed).lease?.token, 'tok');
    assert.equal(
      code(() => claimTask(claimed, new Map(), 'x', 1000, at())),
      'NOT_CLAIMABLE',
    );
    const done = completeTask(claimed, { owner: 'w', token: 'tok' }, { result: 'r', metadata: { agentRun: 1 } }, at());
    assert.equal(done.status, 'completed');
    assert.equal(done.metadata?.agentRun, 1);
    assert.equal(tasklaneFields(done).lease, undefined);
    assert.equal(reapTask(claimed, at(later(999))), undefined);
    const reaped = reapTask(claimed, at(later(1000)));
    assert.equal(reaped?.status, 'pending');
    assert.equal(reaped?.owner, undefined);
  });

  it('moves a live lease with an owner edit, keeping its token; removing the owner ends the claim', () => {
    const claimed = claimTask(task('1'), new Map(), 'w1', 1000, at());
    const moved = editTask(claimed, { owner: 'w2' }, at(T0, 'tok2')).task;
    assert.deepEqual([tasklaneFields(moved).lease?.owner, tasklaneFields(moved).lease?.token], ['w2', 'tok']);
    assert.equal(completeTask(moved, { token: 'tok' }, {}, at()).status, 'completed', 'the token still finishes it');
    assert.equal(
      code(() => completeTask(moved, { owner: 'w1', token: 'tok' }, {}, at())),
      'NOT_OWNER',
    );
    const dropped = editTask(claimed, { owner: null }, at()).task;
    assert.deepEqual([tasklaneFields(dropped).lease, dropped.status], [undefined, 'pending']);
    const late = editTask(claimed, { owner: 'w3' }, at(new Date(T0.getTime() + 5000))).task;
    assert.deepEqual(
      [tasklaneFields(late).lease, late.status, late.owner],
      [undefined, 'pending', 'w3'],
      'an expired claim ends; the task waits for its new owner',
    );
    const completed = editTask(claimed, { status: 'completed' }, at());
    assert.equal(completed.kind, 'completed');
    assert.equal(tasklaneFields(completed.task).lease, undefined);
  });

  it('a status edit of a failed task completes it as done does, or reopens it as retry does', () => {
    const byId = new Map<string, Task>();
    const failed = failTask(claimTask(task('1'), byId, 'w', 1000, at()), { owner: 'w' }, 'boom', at());
    const completed = editTask(failed, { status: 'completed' }, at());
    assert.equal(completed.kind, 'completed');
    assert.equal(tasklaneFields(completed.task).failure, undefined);
    assert.deepEqual(tasklaneFields(completed.task).failures, [tasklaneFields(failed).failure]);
    const reopened = editTask(completed.task, { status: 'pending' }, at());
    assert.equal(stateOf(reopened.task, byId, T0), 'assigned', 'reopened as a completed task is, not failed');
    const retried = editTask(failed, { status: 'pending' }, at());
    assert.equal(retried.kind, 'retried');
    assert.deepEqual(
      [retried.task.status, retried.task.owner, tasklaneFields(retried.task).failure],
      ['pending', undefined, undefined],
    );
    assert.deepEqual(retried.task, retryTask(failed, at()), 'the same task retry gives');
    assert.equal(editTask(failed, { status: 'pending', owner: 'w2' }, at()).task.owner, 'w2');
    // A completed task that kept a failure (written before this rule) is reopened not failed.
    const stale = withTasklaneFields({ ...failed, status: 'completed' }, tasklaneFields(failed));
    assert.equal(stateOf(editTask(stale, { status: 'pending' }, at()).task, byId, T0), 'ready');
  });

  it('restores a task held on a lease released; a failure, and a claim without a lease, stay', () => {
    const claimed = claimTask(task('1'), new Map(), 'w', 60_000, at());
    const restored = restoredTask(claimed, at(later(1)));
    assert.deepEqual(
      [restored.status, restored.owner, tasklaneFields(restored).lease],
      ['pending', undefined, undefined],
    );
    assert.equal(tasklaneFields(restored).updatedAt, later(1).toISOString());
    const failed = restoredTask(failTask(claimed, { owner: 'w' }, 'boom', at()), at());
    assert.equal(stateOf(failed, new Map(), T0), 'failed');
    const taken = task('2', { status: 'in_progress', owner: 'cc' });
    assert.deepEqual([restoredTask(taken, at()).status, restoredTask(taken, at()).owner], ['in_progress', 'cc']);
  });

  it(`keeps the last ${FAILURE_HISTORY_LIMIT} failures across retries`, () => {
    let t = task('1');
    for (let i = 0; i < FAILURE_HISTORY_LIMIT + 5; i++) {
      t = claimTask(t, new Map(), 'w', 1000, at());
      t = failTask(t, { owner: 'w' }, `try ${i}`, at());
      t = retryTask(t, at());
    }
    const failures = tasklaneFields(t).failures ?? [];
    assert.equal(failures.length, FAILURE_HISTORY_LIMIT);
    assert.equal(failures[0]?.reason, 'try 5');
  });
});
