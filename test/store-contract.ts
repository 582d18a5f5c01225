import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimQueue,
  FAILURE_HISTORY_LIMIT,
  indexTasks,
  isTasklaneError,
  revisionOf,
  tasklaneFields,
} from '../src/model/index.js';
import type { TaskStore } from '../src/store/types.js';

// The contract every TaskStore implementation must meet. Each store's test file calls
// runStoreContract with a factory that returns a fresh, empty list: in a fresh, empty store, or,
// given `sameStoreAs`, another list in that store (for lists()).

export type StoreFactory = (list?: string, sameStoreAs?: TaskStore) => Promise<TaskStore> | TaskStore;

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTasklaneError(err), `expected a TasklaneError, got ${String(err)}`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  });
}

export function runStoreContract(name: string, makeStore: StoreFactory): void {
  describe(`TaskStore contract: ${name}`, () => {
    it('creates tasks with ids from "1" and reads them back', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'First', description: 'desc', activeForm: 'Doing first' });
      const b = await store.create({ subject: 'Second' });
      assert.equal(a.id, '1');
      assert.equal(b.id, '2');
      assert.equal(a.status, 'pending');
      assert.deepEqual(await store.get('1'), a);
      assert.equal((await store.get('2')).description, '');
      assert.equal(revisionOf(a), 1);
      assert.ok(tasklaneFields(a).createdAt);
    });

    it('keeps dependencies on both sides and computes ready and blocked', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      const c = await store.create({ subject: 'C' });
      await store.addDependency(b.id, c.id);
      assert.deepEqual((await store.get(a.id)).blocks, [b.id]);
      assert.deepEqual((await store.get(c.id)).blockedBy, [b.id]);
      assert.deepEqual(
        (await store.list({ state: ['ready'] })).map((t) => t.id),
        [a.id],
      );
      assert.deepEqual(
        (await store.list({ state: ['blocked'] })).map((t) => t.id),
        [b.id, c.id],
      );
      await store.removeDependency(b.id, c.id);
      assert.deepEqual((await store.get(b.id)).blocks, []);
      assert.deepEqual((await store.get(c.id)).blockedBy, []);
    });

    it('refuses an edge that closes a cycle, naming the cycle, and changes nothing', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      const c = await store.create({ subject: 'C', blockedBy: [b.id] });
      const before = await store.list();
      await rejectsWith(store.addDependency(c.id, a.id), 'CYCLE', /3 -> 1 -> 2 -> 3/);
      await rejectsWith(store.addDependency(a.id, a.id), 'CYCLE', /cannot block itself/);
      assert.deepEqual(await store.list(), before);
    });

    it('refuses a new task blocked by itself or by a missing task', async () => {
      const store = await makeStore();
      await store.create({ subject: 'A' });
      await rejectsWith(store.create({ subject: 'Self', blockedBy: ['2'] }), 'CYCLE', /cannot block itself/);
      await rejectsWith(store.create({ subject: 'Ghost', blockedBy: ['99'] }), 'NOT_FOUND', /99/);
      assert.equal((await store.list()).length, 1);
    });

    it('reports NOT_FOUND for an unknown task id', async () => {
      const store = await makeStore();
      await rejectsWith(store.get('42'), 'NOT_FOUND', /42/);
      await rejectsWith(store.update('42', { subject: 'x' }), 'NOT_FOUND', /42/);
      await rejectsWith(store.delete('42'), 'NOT_FOUND', /42/);
    });

    it('keeps large and small tasks intact side by side (descriptions up to the 1 MiB limit)', async () => {
      const store = await makeStore();
      const sizes = [10, 64 * 1024 - 300, 64 * 1024, 200_000, 1024 * 1024 - 1];
      const made = [];
      for (const n of sizes) {
        made.push(
          await store.create({
            subject: `size ${n}`,
            description: `${'é'.repeat(Math.floor(n / 2))}${'x'.repeat(n % 2)}`,
          }),
        );
      }
      const listed = await store.list();
      for (const [i, task] of made.entries()) {
        const again = listed.find((t) => t.id === task.id);
        assert.equal(again?.description, task.description, `list: ${sizes[i]}`);
        assert.equal((await store.get(task.id)).description, task.description, `get: ${sizes[i]}`);
      }
    });

    it('validates input and names the field', async () => {
      const store = await makeStore();
      await rejectsWith(store.create({ subject: '' }), 'INVALID_INPUT', /subject/);
      await rejectsWith(
        store.create({ subject: 'x', description: 'd'.repeat(10 * 1024 * 1024) }),
        'INVALID_INPUT',
        /description/,
      );
      await rejectsWith(store.create({ subject: 'x', priority: 1.5 }), 'INVALID_INPUT', /priority/);
      await rejectsWith(
        store.create({ subject: 'x', metadata: { tasklane: {} } }),
        'INVALID_INPUT',
        /metadata\.tasklane/,
      );
      const t = await store.create({ subject: 'ok' });
      await rejectsWith(store.update(t.id, { status: 'done' as never }), 'INVALID_INPUT', /status/);
      assert.equal((await store.list()).length, 1);
    });

    it("keeps a task's check (verify): set on create, changed and removed by update, bounded", async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'Checked', verify: 'npm test' });
      assert.equal(tasklaneFields(await store.get(a.id)).verify, 'npm test');
      await store.update(a.id, { verify: 'make check' });
      assert.equal(tasklaneFields(await store.get(a.id)).verify, 'make check');
      await store.update(a.id, { verify: null });
      assert.equal(tasklaneFields(await store.get(a.id)).verify, undefined);
      await rejectsWith(store.create({ subject: 'Empty', verify: ' ' }), 'INVALID_INPUT', /verify/);
      await rejectsWith(store.update(a.id, { verify: 'x'.repeat(5000) }), 'INVALID_INPUT', /verify is/);
      assert.equal((await store.list()).length, 1);
    });

    it('updates with compare-and-swap and merges metadata key by key, null deleting', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T', metadata: { keep: 1, drop: 2 } });
      const u = await store.update(t.id, { subject: 'T2', metadata: { drop: null, add: 'x' } }, { expectedRev: 1 });
      assert.equal(u.subject, 'T2');
      assert.equal(revisionOf(u), 2);
      assert.equal(u.metadata?.keep, 1);
      assert.equal(u.metadata?.add, 'x');
      assert.ok(!('drop' in (u.metadata ?? {})));
      await rejectsWith(store.update(t.id, { subject: 'stale' }, { expectedRev: 1 }), 'CONFLICT', /revision 2/);
      assert.equal((await store.get(t.id)).subject, 'T2');
    });

    it('deletes as Claude Code does: removes references and never reuses the id', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      await store.delete(b.id);
      assert.deepEqual((await store.get(a.id)).blocks, []);
      const c = await store.create({ subject: 'C' });
      assert.equal(c.id, '3');
    });

    it('claims the best ready task: priority, then critical path, then id', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'leaf' });
      const b = await store.create({ subject: 'head of chain' });
      await store.create({ subject: 'chain 2', blockedBy: [b.id] });
      const d = await store.create({ subject: 'urgent', priority: 5 });
      const first = await store.claim({ owner: 'w1' });
      assert.equal(first?.task.id, d.id);
      const second = await store.claim({ owner: 'w1' });
      assert.equal(second?.task.id, b.id, 'longer critical path goes first');
      const third = await store.claim({ owner: 'w2' });
      assert.equal(third?.task.id, a.id);
      assert.equal(await store.claim({ owner: 'w3' }), null, 'the chain tail is blocked');
    });

    it('refuses to claim a task someone else holds, a blocked, completed or failed task', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      const claim = await store.claim({ owner: 'w1', taskId: a.id });
      assert.ok(claim);
      assert.equal(claim.task.owner, 'w1');
      assert.equal(claim.task.status, 'in_progress');
      await rejectsWith(store.claim({ owner: 'w2', taskId: a.id }), 'NOT_CLAIMABLE', /held by "w1"/);
      await rejectsWith(store.claim({ owner: 'w2', taskId: b.id }), 'NOT_CLAIMABLE', /blocked by #1/);
      await store.complete(a.id, { owner: 'w1', token: claim.token, result: 'done A' });
      await rejectsWith(store.claim({ owner: 'w2', taskId: a.id }), 'NOT_CLAIMABLE', /completed/);
      const cb = await store.claim({ owner: 'w2', taskId: b.id });
      assert.ok(cb);
      await store.fail(b.id, { owner: 'w2', reason: 'tests red' });
      await rejectsWith(store.claim({ owner: 'w3', taskId: b.id }), 'NOT_CLAIMABLE', /failed/);
      assert.equal(await store.claim({ owner: 'w3' }), null);
    });

    it('checks the holder on every transition of a claimed task', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T' });
      const claim = await store.claim({ owner: 'w1' });
      assert.ok(claim);
      await rejectsWith(store.complete(t.id, { owner: 'w2' }), 'NOT_OWNER', /held by "w1"/);
      await rejectsWith(store.complete(t.id, { owner: 'w1', token: 'wrong' }), 'NOT_OWNER', /token/);
      await rejectsWith(store.complete(t.id, {}), 'NOT_OWNER', /claimed by "w1"/);
      await rejectsWith(store.heartbeat(t.id, { owner: 'w2' }), 'NOT_OWNER');
      await rejectsWith(store.release(t.id, { owner: 'w2' }), 'NOT_OWNER');
      const hb = await store.heartbeat(t.id, { owner: 'w1', token: claim.token }, 120_000);
      assert.ok(Date.parse(hb.expiresAt) > Date.parse(claim.expiresAt));
      const done = await store.complete(t.id, { owner: 'w1', token: claim.token, result: 'ok' });
      assert.equal(done.status, 'completed');
      assert.equal(tasklaneFields(done).result, 'ok');
      assert.equal(tasklaneFields(done).lease, undefined);
    });

    it('releases a claim back to the ready set', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T' });
      await store.claim({ owner: 'w1' });
      const released = await store.release(t.id, { owner: 'w1' });
      assert.equal(released.status, 'pending');
      assert.equal(released.owner, undefined);
      assert.equal((await store.claim({ owner: 'w2' }))?.task.id, t.id);
    });

    it('keeps a failed task out of the ready set until retried, and keeps its failure history', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T' });
      const dep = await store.create({ subject: 'after T', blockedBy: [t.id] });
      await store.claim({ owner: 'w1' });
      const failed = await store.fail(t.id, { owner: 'w1', reason: 'boom' });
      assert.equal(tasklaneFields(failed).failure?.reason, 'boom');
      assert.deepEqual(
        (await store.list({ state: ['failed'] })).map((x) => x.id),
        [t.id],
      );
      assert.deepEqual(
        (await store.list({ state: ['blocked'] })).map((x) => x.id),
        [dep.id],
      );
      const retried = await store.retry(t.id);
      assert.equal(retried.status, 'pending');
      assert.equal(tasklaneFields(retried).failures?.[0]?.reason, 'boom');
      const again = await store.claim({ owner: 'w2' });
      assert.equal(again?.task.id, t.id);
      assert.equal(tasklaneFields(again.task).attempts, 2);
    });

    it('completes a failed task by a status edit as done does: reopening it leaves it ready, not failed', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T' });
      await store.claim({ owner: 'w1' });
      await store.fail(t.id, { owner: 'w1', reason: 'flaky' });
      const completed = await store.update(t.id, { status: 'completed' });
      assert.equal(completed.status, 'completed');
      assert.equal(tasklaneFields(completed).failure, undefined);
      assert.deepEqual(
        tasklaneFields(completed).failures?.map((f) => f.reason),
        ['flaky'],
      );
      // Reopened as any completed task is: pending, still assigned to its owner, and not failed.
      const reopened = await store.update(t.id, { status: 'pending' });
      assert.equal(reopened.status, 'pending');
      assert.equal(reopened.owner, 'w1');
      assert.deepEqual(
        (await store.list({ state: ['assigned'] })).map((x) => x.id),
        [t.id],
      );
      assert.equal((await store.claim({ owner: 'w1' }))?.task.id, t.id);
    });

    it('reopens a failed task by a status edit to pending as retry does', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T' });
      const u = await store.create({ subject: 'U' });
      await store.claim({ owner: 'w1', taskId: t.id });
      await store.fail(t.id, { owner: 'w1', reason: 'boom' });
      await store.claim({ owner: 'w1', taskId: u.id });
      await store.fail(u.id, { owner: 'w1', reason: 'bang' });
      const reopened = await store.update(t.id, { status: 'pending' });
      assert.equal(reopened.status, 'pending');
      assert.equal(reopened.owner, undefined);
      assert.equal(tasklaneFields(reopened).failure, undefined);
      assert.deepEqual(
        tasklaneFields(reopened).failures?.map((f) => f.reason),
        ['boom'],
      );
      // Naming an owner in the same edit assigns the reopened task to it.
      const assigned = await store.update(u.id, { status: 'pending', owner: 'w3' });
      assert.equal(assigned.owner, 'w3');
      assert.deepEqual(
        (await store.list({ state: ['ready'] })).map((x) => x.id),
        [t.id],
      );
      assert.deepEqual(
        (await store.list({ state: ['assigned'] })).map((x) => x.id),
        [u.id],
      );
      assert.deepEqual((await store.history({ taskId: t.id })).map((e) => e.kind).slice(-1), ['retried']);
      assert.equal((await store.claim({ owner: 'w2' }))?.task.id, t.id);
    });

    it('returns a task whose lease expired to the ready set (reap, and claim takes it over)', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B' });
      await store.claim({ owner: 'dead', taskId: a.id, leaseMs: 1 });
      await store.claim({ owner: 'dead', taskId: b.id, leaseMs: 1 });
      await new Promise((r) => setTimeout(r, 20));
      const reaped = await store.reap();
      assert.deepEqual(
        reaped.map((t) => t.id),
        [a.id, b.id],
      );
      assert.equal((await store.get(a.id)).owner, undefined);
      await store.claim({ owner: 'dead', taskId: a.id, leaseMs: 1 });
      await new Promise((r) => setTimeout(r, 20));
      const taken = await store.claim({ owner: 'alive', taskId: a.id });
      assert.equal(taken?.task.owner, 'alive');
      await rejectsWith(store.complete(a.id, { owner: 'dead' }), 'NOT_OWNER');
    });

    it('journals every change and restores deleted tasks with their edges', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      await store.claim({ owner: 'w', taskId: a.id });
      await store.complete(a.id, { owner: 'w', result: 'A done' });
      await store.delete(b.id);
      const kinds = (await store.history()).map((e) => `${e.kind}:${e.taskId}`);
      assert.deepEqual(kinds.slice(0, 3), ['created:1', 'created:2', 'dependency:1']);
      assert.ok(kinds.includes('claimed:1') && kinds.includes('completed:1') && kinds.includes('deleted:2'));
      assert.deepEqual(
        (await store.history({ taskId: b.id })).map((e) => e.kind),
        ['created', 'deleted'],
      );
      const restored = await store.restore();
      assert.deepEqual(
        restored.map((t) => t.id),
        [b.id],
      );
      assert.deepEqual((await store.get(b.id)).blockedBy, [a.id]);
      assert.deepEqual((await store.get(a.id)).blocks, [b.id]);
      await rejectsWith(store.restore(['77']), 'NOT_FOUND', /77/);
    });

    it('restores a task deleted while claimed released, not held on a lease nobody has', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B' });
      const c = await store.create({ subject: 'C' });
      await store.claim({ owner: 'w', taskId: a.id, leaseMs: 600_000 });
      await store.claim({ owner: 'w', taskId: b.id });
      await store.fail(b.id, { owner: 'w', reason: 'boom' });
      // Claude Code's own way of taking a task: in_progress with an owner, no lease.
      await store.update(c.id, { status: 'in_progress', owner: 'cc' });
      for (const id of [a.id, b.id, c.id]) await store.delete(id);
      const restored = await store.restore();
      assert.deepEqual(
        restored.map((t) => [t.id, t.status, t.owner ?? null, tasklaneFields(t).lease ?? null]),
        [
          [a.id, 'pending', null, null],
          [b.id, 'in_progress', 'w', null],
          [c.id, 'in_progress', 'cc', null],
        ],
      );
      assert.equal(tasklaneFields(await store.get(b.id)).failure?.reason, 'boom');
      assert.deepEqual(
        (await store.list({ state: ['failed'] })).map((x) => x.id),
        [b.id],
      );
      assert.equal((await store.claim({ owner: 'z' }))?.task.id, a.id);
    });

    it('claims, uncontended, exactly in the order ready shows (observation 10)', async () => {
      const store = await makeStore();
      // Ties on priority and critical path: an order picked at random among them shows at once.
      for (let i = 0; i < 8; i++) await store.create({ subject: `equal ${i}` });
      const head = await store.create({ subject: 'head of chain' });
      await store.create({ subject: 'tail', blockedBy: [head.id] });
      await store.create({ subject: 'urgent', priority: 3 });
      const ready = claimQueue(indexTasks(await store.list()), new Date()).map((t) => t.id);
      assert.deepEqual(ready, ['11', '9', '1', '2', '3', '4', '5', '6', '7', '8']);
      const taken: string[] = [];
      for (let c = await store.claim({ owner: 'w' }); c !== null; c = await store.claim({ owner: 'w' })) {
        taken.push(c.task.id);
      }
      assert.deepEqual(taken, ready);
    });

    it('claims tasks assigned to the claimer first, and never those assigned to others unless named', async () => {
      const store = await makeStore();
      const open = await store.create({ subject: 'anyone', priority: 5 });
      const mine = await store.create({ subject: 'for alice', owner: 'alice' });
      const bobs = await store.create({ subject: 'for bob', owner: 'bob', priority: 9 });
      assert.deepEqual(
        claimQueue(indexTasks(await store.list()), new Date(), 'alice').map((t) => t.id),
        [mine.id, open.id],
      );
      assert.equal((await store.claim({ owner: 'alice' }))?.task.id, mine.id);
      assert.equal((await store.claim({ owner: 'alice' }))?.task.id, open.id);
      assert.equal(await store.claim({ owner: 'alice' }), null, "bob's task is not alice's to take");
      await rejectsWith(store.claim({ owner: 'carol', taskId: bobs.id }), 'NOT_CLAIMABLE', /assigned to "bob"/);
      assert.equal((await store.claim({ owner: 'bob' }))?.task.id, bobs.id);
    });

    it('shows a task whose lease ran out as expired, lists it as ready, and lets anyone claim it', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      await store.create({ subject: 'B', priority: -1 });
      await store.claim({ owner: 'gone', taskId: a.id, leaseMs: 1 });
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        (await store.list({ state: ['expired'] })).map((t) => t.id),
        [a.id],
      );
      assert.equal((await store.stats()).byState.expired, 1);
      assert.equal((await store.stats()).byState.in_progress, 0);
      const ready = claimQueue(indexTasks(await store.list()), new Date()).map((t) => t.id);
      assert.deepEqual(ready, [a.id, '2']);
      const taken = await store.claim({ owner: 'alive' });
      assert.equal(taken?.task.id, a.id);
      assert.equal(taken?.task.owner, 'alive');
      assert.equal(tasklaneFields(taken.task).attempts, 2);
    });

    it('updates fields and edges all or nothing (observation 11)', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      const c = await store.create({ subject: 'C' });
      const before = await store.list();
      await rejectsWith(store.update(a.id, { subject: 'changed', addBlockedBy: ['999'] }), 'NOT_FOUND', /999/);
      await rejectsWith(store.update(c.id, { addBlocks: [a.id, '999'] }), 'NOT_FOUND', /999/);
      await rejectsWith(store.update(a.id, { subject: 'changed', addBlockedBy: [b.id] }), 'CYCLE', /2 -> 1 -> 2/);
      await rejectsWith(store.update(a.id, { addBlocks: [a.id] }), 'CYCLE', /itself/);
      await rejectsWith(
        store.update(a.id, { subject: 'changed', addBlocks: [c.id] }, { expectedRev: 1 }),
        'CONFLICT',
        /revision 2/,
      );
      assert.deepEqual(await store.list(), before, 'a refused update changes nothing');

      const u = await store.update(c.id, { subject: 'C2', addBlockedBy: [b.id], addBlocks: [] });
      assert.equal(u.subject, 'C2');
      assert.deepEqual(u.blockedBy, [b.id]);
      assert.deepEqual((await store.get(b.id)).blocks, [c.id]);
      const v = await store.update(b.id, { removeBlocks: [c.id], removeBlockedBy: [a.id], priority: 2 });
      assert.deepEqual([v.blocks, v.blockedBy], [[], []]);
      assert.deepEqual((await store.get(a.id)).blocks, []);
      assert.deepEqual((await store.get(c.id)).blockedBy, []);
    });

    it('moves the lease with the owner when a claimed task is given to someone else', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T' });
      const claim = await store.claim({ owner: 'w1' });
      assert.ok(claim);
      const moved = await store.update(t.id, { owner: 'w2' });
      const lease = tasklaneFields(moved).lease;
      assert.equal(lease?.owner, 'w2');
      assert.equal(lease?.token, claim.token, 'the claim keeps its token');
      assert.equal(lease?.expiresAt, claim.expiresAt);
      await rejectsWith(store.complete(t.id, { owner: 'w1', token: claim.token }), 'NOT_OWNER');
      assert.equal((await store.heartbeat(t.id, { owner: 'w2' })).task.owner, 'w2');
      assert.equal((await store.heartbeat(t.id, { token: claim.token })).task.owner, 'w2');
      const dropped = await store.update(t.id, { owner: null });
      assert.equal(tasklaneFields(dropped).lease, undefined, 'removing the owner ends the claim');
      assert.equal(dropped.status, 'pending', 'and the task waits again instead of staying in_progress');
    });

    it('completes with the agent-run record in the same write', async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'T' });
      const claim = await store.claim({ owner: 'w' });
      assert.ok(claim);
      const done = await store.complete(t.id, {
        owner: 'w',
        token: claim.token,
        result: 'ok',
        metadata: { agentRun: { exitCode: 0 } },
      });
      assert.deepEqual(done.metadata?.agentRun, { exitCode: 0 });
      assert.equal(tasklaneFields(done).result, 'ok');
      assert.equal(revisionOf(done), revisionOf(claim.task) + 1, 'one write');
    });

    it(`keeps only the last ${FAILURE_HISTORY_LIMIT} failures`, async () => {
      const store = await makeStore();
      const t = await store.create({ subject: 'flaky' });
      for (let i = 0; i < FAILURE_HISTORY_LIMIT + 3; i++) {
        await store.claim({ owner: 'w', taskId: t.id });
        await store.fail(t.id, { owner: 'w', reason: `try ${i}` });
        await store.retry(t.id);
      }
      const failures = tasklaneFields(await store.get(t.id)).failures ?? [];
      assert.equal(failures.length, FAILURE_HISTORY_LIMIT);
      assert.equal(failures.at(-1)?.reason, `try ${FAILURE_HISTORY_LIMIT + 2}`);
    });

    it('numbers every change with a list-wide seq and pages history with after and limit', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      await store.update(a.id, { subject: 'A2' });
      const claim = await store.claim({ owner: 'w', taskId: a.id });
      await store.heartbeat(a.id, { owner: 'w', token: claim?.token });
      await store.complete(a.id, { owner: 'w', result: 'ok' });
      await store.update(b.id, { subject: 'B2' });
      const all = await store.history();
      assert.ok(all.length >= 7);
      for (let i = 1; i < all.length; i++) {
        assert.ok((all[i]?.seq ?? 0) > (all[i - 1]?.seq ?? 0), 'seqs strictly increase in history order');
      }
      const hb = all.find((e) => e.kind === 'heartbeat');
      assert.ok(hb !== undefined && (hb.task === undefined || hb.task.id === a.id), 'a heartbeat may carry no task');
      assert.deepEqual(await store.history({ limit: 2 }), all.slice(-2), 'without after: the last entries');
      assert.deepEqual(
        await store.history({ after: (all[1] as { seq: number }).seq, limit: 3 }),
        all.slice(2, 5),
        'with after: the next page',
      );
      const paged = [];
      for (let after = 0; ; ) {
        const page = await store.history({ after, limit: 2 });
        if (page.length === 0) break;
        paged.push(...page);
        after = (page.at(-1) as { seq: number }).seq;
      }
      assert.deepEqual(paged, all, 'paging forwards visits every entry once');
      assert.deepEqual(
        (await store.history({ taskId: b.id, after: 0 })).map((e) => e.kind),
        (await store.history({ taskId: b.id })).map((e) => e.kind),
      );
      await rejectsWith(store.history({ after: -1 }), 'INVALID_INPUT', /after/);
    });

    it('watch({ since }) replays the changes after a cursor, then follows live, with no gap and no repeat', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const cursor = (await store.history({ limit: 1 }))[0]?.seq ?? 0;
      await store.create({ subject: 'B', blockedBy: [a.id] });
      await store.update(a.id, { subject: 'A2' });
      const replayed = (await store.history({ after: cursor })).map((e) => `${e.seq} ${e.kind} ${e.taskId}`);
      const controller = new AbortController();
      const seen: string[] = [];
      const feed = store.watch({ since: cursor, signal: controller.signal });
      let live: string[] = [];
      const done = (async () => {
        for await (const c of feed) {
          seen.push(`${c.seq} ${c.kind} ${c.taskId}`);
          if (c.kind === 'completed') break;
        }
      })();
      // Live changes while the replay may still be running.
      const c = await store.create({ subject: 'C' });
      await store.claim({ owner: 'w', taskId: c.id });
      await store.complete(c.id, { owner: 'w' });
      live = (await store.history({ after: cursor })).map((e) => `${e.seq} ${e.kind} ${e.taskId}`);
      const timer = setTimeout(() => controller.abort(), 10_000);
      await done;
      clearTimeout(timer);
      controller.abort();
      assert.deepEqual(seen.slice(0, replayed.length), replayed, 'the replay, in order');
      assert.deepEqual(seen, live, 'then every live change once, in order');
    });

    it('watch({ since }) refuses a cursor past the end of the history, before delivering anything', async () => {
      const store = await makeStore();
      await store.create({ subject: 'A' });
      const last = (await store.history({ limit: 1 }))[0]?.seq ?? 0;
      const controller = new AbortController();
      const iterate = async (since: number): Promise<void> => {
        for await (const _ of store.watch({ since, initial: true, signal: controller.signal })) break;
      };
      try {
        await rejectsWith(iterate(last + 1), 'USAGE', new RegExp(`ends at seq ${last}; since must be at most ${last}`));
        await rejectsWith(iterate(50), 'USAGE', /since must be at most/);
        await iterate(last); // the end itself is a valid cursor: --initial delivers at once
      } finally {
        controller.abort();
      }
    });

    it('counts tasks by state in stats', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      await store.create({ subject: 'B', blockedBy: [a.id] });
      await store.create({ subject: 'C' });
      await store.claim({ owner: 'w', taskId: a.id });
      const stats = await store.stats();
      assert.equal(stats.total, 3);
      assert.equal(stats.byState.in_progress, 1);
      assert.equal(stats.byState.blocked, 1);
      assert.equal(stats.byState.ready, 1);
      assert.deepEqual(stats.owners, { w: 1 });
    });

    it('bounds what grows by repetition or nests too deep: merged metadata, metadata depth, lease length', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const chunk = 'x'.repeat(100 * 1024);
      await store.update(a.id, { metadata: { a: chunk } });
      await store.update(a.id, { metadata: { b: chunk } });
      await rejectsWith(store.update(a.id, { metadata: { c: chunk } }), 'INVALID_INPUT', /after this change/);
      assert.deepEqual(Object.keys((await store.get(a.id)).metadata ?? {}).sort(), ['a', 'b', 'tasklane']);
      let deep: unknown = 1;
      for (let i = 0; i < 20_000; i++) deep = [deep];
      await rejectsWith(store.create({ subject: 'B', metadata: { deep } }), 'INVALID_INPUT', /levels deep/);
      await rejectsWith(store.update(a.id, { metadata: { deep } }), 'INVALID_INPUT', /levels deep/);
      await rejectsWith(
        store.claim({ owner: 'w', taskId: a.id, leaseMs: 25 * 24 * 3600 * 1000 }),
        'INVALID_INPUT',
        /longest duration/,
      );
      assert.equal((await store.get(a.id)).status, 'pending');
    });

    it('doctor reports a list kept through the store as consistent, and --fix on it changes nothing', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', blockedBy: [a.id] });
      const c = await store.create({ subject: 'C', blockedBy: [b.id], blocks: [] });
      await store.addDependency(a.id, c.id);
      await store.delete(b.id);
      const before = await store.list();
      const report = await store.doctor();
      assert.deepEqual(report.problems, []);
      assert.equal(report.consistent, true);
      assert.equal(report.list, store.listId);
      assert.deepEqual(await store.doctor({ fix: true }), report);
      assert.deepEqual(await store.list(), before);
    });

    it('gives the ready tasks in the order claim takes them', async () => {
      const store = await makeStore();
      const a = await store.create({ subject: 'A' });
      const b = await store.create({ subject: 'B', priority: 5 });
      const c = await store.create({ subject: 'C' });
      await store.create({ subject: 'D', blockedBy: [a.id] });
      const e = await store.create({ subject: 'E', blockedBy: [c.id] });
      await store.create({ subject: 'F', blockedBy: [e.id] });
      // B by priority, then C (a chain of two waits on it) before A (one), D, E and F are blocked.
      assert.deepEqual(
        (await store.ready()).map((t) => t.id),
        [b.id, c.id, a.id],
      );
      const claim = await store.claim({ owner: 'w' });
      assert.equal(claim?.task.id, b.id, 'claim takes the first ready task');
      assert.deepEqual(
        (await store.ready()).map((t) => t.id),
        [c.id, a.id],
      );
    });

    it('lists the lists of the store with counts by state and a last change time', async () => {
      const one = await makeStore('first');
      const two = await makeStore('second', one);
      const a = await one.create({ subject: 'A' });
      await one.create({ subject: 'B', blockedBy: [a.id] });
      const c = await two.create({ subject: 'C' });
      await two.claim({ owner: 'w', taskId: c.id });
      const before = Date.now() - 600_000;
      for (const store of [one, two]) {
        const lists = await store.lists();
        assert.deepEqual(
          lists.map((l) => [l.id, l.total, l.byState.ready, l.byState.blocked, l.byState.in_progress]),
          [
            ['first', 2, 1, 1, 0],
            ['second', 1, 0, 0, 1],
          ],
        );
        for (const l of lists) assert.ok(l.lastChange !== undefined && Date.parse(l.lastChange) > before);
      }
    });
  });
}
