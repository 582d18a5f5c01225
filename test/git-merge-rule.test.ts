import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BOTH_KEPT,
  isProjectId,
  mergeTaskFiles,
  newProjectId,
  sealRevision,
  type Task,
  type TaskFile,
  tasklaneFields,
  withTasklaneFields,
} from '../src/model/index.js';

// The merge rule of two versions of one task file (model/task-merge.ts), without git.

function task(over: Partial<Task> & { at?: string; fields?: Record<string, unknown> } = {}): Task {
  const { at = '2026-01-01T00:00:00.000Z', fields = {}, ...rest } = over;
  // Sealed, as Tasklane writes it: each side at its counter (revision.ts).
  return sealRevision(
    withTasklaneFields(
      {
        id: 'abcdefgh',
        subject: 'S',
        description: 'D',
        status: 'pending',
        blocks: [],
        blockedBy: [],
        metadata: {},
        ...rest,
      },
      { rev: 1, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: at, ...fields },
    ),
  );
}
const T1 = '2026-01-02T00:00:00.000Z';
const T2 = '2026-01-03T00:00:00.000Z';

function merged(base: TaskFile | undefined, a: TaskFile, b: TaskFile): Task {
  const r = mergeTaskFiles(base, a, b);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const back = mergeTaskFiles(base, b, a);
  assert.ok(back.ok);
  assert.deepEqual(back.value, r.value, 'the merge is the same in both directions');
  return r.value as Task;
}

describe('project ids', () => {
  it('are 8 characters, a letter first, from Crockford base32 without i l o u', () => {
    let n = 0;
    const pick = (k: number): number => (n++ * 7) % k;
    for (let i = 0; i < 200; i++) {
      const id = newProjectId(pick);
      assert.ok(isProjectId(id), id);
      assert.ok(Number.isNaN(Number.parseInt(id, 10)), 'Claude Code counts parseInt of file names');
      assert.doesNotMatch(id, /[ilou]/);
    }
  });
});

describe('merging two versions of a task', () => {
  const base = task();
  it('takes the side that changed a field', () => {
    const a = task({ subject: 'A', at: T1, fields: { rev: 2 } });
    const b = task({ status: 'completed', at: T2, fields: { rev: 2, completedAt: T2 } });
    const m = merged(base, a, b);
    assert.equal(m.subject, 'A');
    assert.equal(m.status, 'completed');
    assert.equal(tasklaneFields(m).rev, 3);
    assert.equal(tasklaneFields(m).updatedAt, T2);
  });
  it('keeps both texts visibly when both sides changed them', () => {
    const m = merged(base, task({ description: 'first', at: T1 }), task({ description: 'second', at: T2 }));
    assert.equal(m.description, `first\n\n${BOTH_KEPT}\n\nsecond`);
    assert.doesNotMatch(m.description, /^(<{7}|>{7}|={7})/m);
  });
  it('orders status by progress: completed stays completed', () => {
    const claimed = task({
      status: 'in_progress',
      owner: 'x',
      at: T2,
      fields: { lease: { owner: 'x', token: 't', expiresAt: T2, heartbeatAt: T2 } },
    });
    const done = task({ status: 'completed', at: T1, fields: { completedAt: T1 } });
    const m = merged(base, claimed, done);
    assert.equal(m.status, 'completed');
    assert.equal(tasklaneFields(m).lease, undefined);
  });
  it('lets a later retry win over an earlier claim', () => {
    const from = task({
      status: 'in_progress',
      owner: 'x',
      fields: { failure: { reason: 'boom', at: T1, attempt: 1 } },
    });
    const retried = task({ status: 'pending', at: T2, fields: { failures: [{ reason: 'boom', at: T1, attempt: 1 }] } });
    const other = task({ status: 'completed', at: T1, fields: { completedAt: T1 } });
    assert.equal(merged(from, retried, other).status, 'completed', 'never over a completion');
    const pendingBase = task();
    const claimedEarly = task({ status: 'in_progress', owner: 'y', at: T1 });
    const failedAndRetried = task({
      status: 'pending',
      at: T2,
      fields: { attempts: 1, failures: [{ reason: 'r', at: T1, attempt: 1 }] },
    });
    // From pending both changed status? No: the retried side is back at pending, so only the claim changed it.
    assert.equal(merged(pendingBase, claimedEarly, failedAndRetried).status, 'in_progress');
    const m = merged(from, retried, task({ status: 'in_progress', owner: 'z', at: T1, fields: {} }));
    assert.equal(m.status, 'pending');
  });
  it('takes the claim whole from one side: a retry on one side and a later retry-and-claim on the other', () => {
    const T0 = '2026-01-01T12:00:00.000Z';
    const boom = { reason: 'boom', at: T0, attempt: 1 };
    const failed = task({ status: 'in_progress', owner: 'x', at: T0, fields: { failure: boom, startedAt: T0 } });
    const retried = task({ status: 'pending', at: T1, fields: { failures: [boom] } });
    const lease = { owner: 'b', token: 'tb', expiresAt: T2, heartbeatAt: T2 };
    const reclaimed = task({
      status: 'in_progress',
      owner: 'b',
      at: T2,
      fields: { failures: [boom], lease, startedAt: T2 },
    });
    const m = merged(failed, retried, reclaimed);
    const f = tasklaneFields(m);
    assert.equal(m.status, 'in_progress', 'the later claim stands');
    assert.equal(m.owner, 'b');
    assert.deepEqual(f.lease, lease);
    assert.equal(f.failure, undefined);
    assert.equal(f.startedAt, T2);
    // The earlier side later: its retry stands, and no claim is left with it.
    const late = task({ status: 'pending', at: '2026-01-04T00:00:00.000Z', fields: { failures: [boom] } });
    const m2 = merged(failed, late, reclaimed);
    assert.equal(m2.status, 'pending');
    assert.equal(m2.owner, undefined);
    assert.equal(tasklaneFields(m2).lease, undefined);
    assert.equal(tasklaneFields(m2).startedAt, undefined);
  });
  it('merges dependencies and labels as sets: additions from both, removals from either', () => {
    const b0 = task({ blocks: ['b', 'c'], fields: { labels: ['x', 'y'] } });
    const a = task({ blocks: ['b', 'd'], at: T1, fields: { labels: ['x', 'y', 'z'] } });
    const b = task({ blocks: ['a', 'b', 'c'], at: T2, fields: { labels: ['y'] } });
    const m = merged(b0, a, b);
    assert.deepEqual(m.blocks, ['a', 'b', 'd']);
    assert.deepEqual(tasklaneFields(m).labels, ['y', 'z']);
  });
  it('merges metadata key by key, the later change winning', () => {
    const b0 = task({ metadata: { k: 1, j: 1 } });
    const a = task({ metadata: { k: 2, j: 1, n: 'a' }, at: T1 });
    const b = task({ metadata: { k: 3, j: 5 }, at: T2 });
    const m = merged(b0, a, b);
    assert.equal(m.metadata?.k, 3);
    assert.equal(m.metadata?.j, 5);
    assert.equal(m.metadata?.n, 'a');
  });
  it('lets a deletion win over an edit, and a restore over a kept tombstone', () => {
    const stone = { id: 'abcdefgh', deleted: true as const, deletedAt: T1, subject: 'S' };
    const r = mergeTaskFiles(base, stone, task({ subject: 'edited', at: T2 }));
    assert.ok(r.ok);
    assert.deepEqual(r.value, stone);
    const back = task({ subject: 'back', at: T2 });
    const r2 = mergeTaskFiles(stone, stone, back);
    assert.ok(r2.ok);
    assert.equal((r2.value as Task).subject, 'back');
  });
  it('refuses to fuse two different tasks made under one id', () => {
    const r = mergeTaskFiles(undefined, task({ subject: 'one' }), task({ subject: 'two', fields: { createdAt: T1 } }));
    assert.equal(r.ok, false);
  });
});
