import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBoardApp } from '../src/http/app.js';
import { startBoard } from '../src/http/server.js';
import type { TaskStore } from '../src/store/types.js';
import { snapshot } from './cli-run.js';
import { appCall, type Call, socketCall, tempStore } from './http-helpers.js';

// Every API route, good input and bad, through the app object and over a real socket. Bad input
// gets a 4xx with a JSON error naming what is wrong, and the store's files stay byte for byte.

const ACTOR = 'board-tester';

/** Exercises every route with good input; returns ids the bad-input pass can refer to. */
async function goodRoutes(call: Call, store: TaskStore): Promise<void> {
  const info = await call('GET', '/api/info');
  assert.equal(info.status, 200);
  assert.equal(info.json.list, 'default');
  assert.equal(info.json.version, '9.9.9');
  assert.equal(info.json.actor, ACTOR);
  assert.equal(typeof info.json.store.location, 'string');

  const a = await call('POST', '/api/lists/default/tasks', { subject: 'Write API', priority: 2, labels: ['api'] });
  assert.equal(a.status, 201, a.text);
  assert.equal(a.json.task.id, '1');
  assert.equal(a.json.task.state, 'ready');
  assert.equal(a.json.task.metadata.tasklane.priority, 2);
  const b = await call('POST', '/api/lists/default/tasks', { subject: 'Write UI', blockedBy: ['1'], estimate: 60 });
  assert.equal(b.status, 201, b.text);
  assert.equal(b.json.task.state, 'blocked');

  const lists = await call('GET', '/api/lists');
  assert.equal(lists.status, 200);
  assert.deepEqual(
    lists.json.lists.map((l: { id: string }) => l.id),
    ['default'],
  );
  assert.equal(lists.json.lists[0].total, 2);

  const all = await call('GET', '/api/lists/default/tasks');
  assert.equal(all.status, 200);
  assert.equal(all.json.list, 'default');
  assert.equal(typeof all.json.seq, 'number');
  assert.ok(all.json.seq >= 2);
  assert.deepEqual(
    all.json.tasks.map((t: { id: string; state: string }) => [t.id, t.state]),
    [
      ['1', 'ready'],
      ['2', 'blocked'],
    ],
  );

  const one = await call('GET', '/api/lists/default/tasks/1');
  assert.equal(one.status, 200);
  assert.equal(one.json.task.subject, 'Write API');
  assert.deepEqual(one.json.unblocks, ['2']);

  const rev = one.json.task.metadata.tasklane.rev as number;
  const patched = await call('PATCH', '/api/lists/default/tasks/1', {
    subject: 'Write the API',
    metadata: { pr: 12 },
    ifRev: rev,
  });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.task.subject, 'Write the API');
  assert.equal(patched.json.task.metadata.pr, 12);
  const stale = await call('PATCH', '/api/lists/default/tasks/1', { subject: 'Lost update', ifRev: rev });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.error.code, 'CONFLICT');

  const c = await call('POST', '/api/lists/default/tasks', { subject: 'Docs' });
  assert.equal(c.status, 201);
  const dep = await call('POST', '/api/lists/default/dependencies', { blocker: '1', blocked: '3' });
  assert.equal(dep.status, 201, dep.text);
  assert.deepEqual(dep.json, {});
  assert.deepEqual((await store.get('3')).blockedBy, ['1']);
  const cycle = await call('POST', '/api/lists/default/dependencies', { blocker: '3', blocked: '1' });
  assert.equal(cycle.status, 409);
  assert.equal(cycle.json.error.code, 'CYCLE');
  assert.deepEqual(cycle.json.error.cycle, ['3', '1', '3']);
  const undep = await call('DELETE', '/api/lists/default/dependencies?blocker=1&blocked=3');
  assert.equal(undep.status, 200, undep.text);
  assert.deepEqual((await store.get('3')).blockedBy, []);

  const graph = await call('GET', '/api/lists/default/graph');
  assert.equal(graph.status, 200);
  assert.equal(graph.json.nodes.length, 3);
  assert.deepEqual(graph.json.criticalPath, ['1', '2']);
  const edge = graph.json.edges.find((e: { from: string; to: string }) => e.from === '1' && e.to === '2');
  assert.equal(edge.critical, true);
  assert.ok(edge.points.length >= 2);
  const node1 = graph.json.nodes.find((n: { id: string }) => n.id === '1');
  assert.equal(node1.critical, true);
  assert.equal(node1.state, 'ready');
  assert.ok(graph.json.width > 0 && graph.json.height > 0);

  // Moves: start, finish (which unblocks 2), a held task refused without override, then taken.
  const started = await call('POST', '/api/lists/default/tasks/1/move', { to: 'in_progress' });
  assert.equal(started.status, 200, started.text);
  assert.equal(started.json.task.state, 'in_progress');
  assert.equal(started.json.task.owner, ACTOR);
  const done = await call('POST', '/api/lists/default/tasks/1/move', { to: 'completed' });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.task.state, 'completed');
  assert.equal((await call('GET', '/api/lists/default/tasks/2')).json.task.state, 'ready');
  await store.claim({ owner: 'w1', taskId: '2' });
  const held = await call('POST', '/api/lists/default/tasks/2/move', { to: 'pending' });
  assert.equal(held.status, 409);
  assert.equal(held.json.error.code, 'NOT_CLAIMABLE');
  assert.match(held.json.error.message, /w1/);
  assert.equal((await store.get('2')).owner, 'w1');
  const taken = await call('POST', '/api/lists/default/tasks/2/move', {
    to: 'failed',
    override: true,
    reason: 'stuck',
  });
  assert.equal(taken.status, 200, taken.text);
  assert.equal(taken.json.task.state, 'failed');
  assert.equal(taken.json.task.metadata.tasklane.failure.reason, 'stuck');
  const retried = await call('POST', '/api/lists/default/tasks/2/retry');
  assert.equal(retried.status, 200, retried.text);
  assert.equal(retried.json.task.state, 'ready');
  const back = await call('POST', '/api/lists/default/tasks/1/move', { to: 'pending' });
  assert.equal(back.status, 200, back.text);
  assert.equal(back.json.task.status, 'pending');
  assert.equal(back.json.task.state, 'ready', 'back to pending is unowned, as a release leaves it');

  // History pages forwards.
  const page1 = await call('GET', '/api/lists/default/history?limit=2&after=0');
  assert.equal(page1.status, 200);
  assert.equal(page1.json.entries.length, 2);
  assert.equal(page1.json.next, page1.json.entries[1].seq);
  const page2 = await call('GET', `/api/lists/default/history?limit=2&after=${page1.json.next}`);
  assert.equal(page2.json.entries[0].seq, page1.json.next + 1);
  const mine = await call('GET', '/api/lists/default/history?task=3&limit=50');
  assert.ok(mine.json.entries.length >= 1);
  assert.ok(mine.json.entries.every((e: { taskId: string }) => e.taskId === '3'));
  assert.equal(mine.json.next, undefined);

  // Runs and logs.
  const noRun = await call('GET', '/api/lists/default/run');
  assert.equal(noRun.status, 404);
  assert.equal(noRun.json.error.code, 'NOT_FOUND');
  mkdirSync(join(store.artifactsDir, 'logs'), { recursive: true });
  const aggregate = { list: 'default', ok: true, tasks: [], counts: {}, totals: {} };
  writeFileSync(
    join(store.artifactsDir, 'last-run.json'),
    JSON.stringify({ version: 1, savedAt: new Date().toISOString(), aggregate }),
  );
  const run = await call('GET', '/api/lists/default/run');
  assert.equal(run.status, 200);
  assert.deepEqual(run.json, aggregate);
  const live = await call('GET', '/api/lists/default/run/live');
  assert.equal(live.status, 404);
  const noLog = await call('GET', '/api/lists/default/tasks/1/log');
  assert.equal(noLog.status, 404);
  writeFileSync(join(store.artifactsDir, 'logs', '1.log'), 'first line\nlast line\n');
  const log = await call('GET', '/api/lists/default/tasks/1/log');
  assert.deepEqual(log.json, { text: 'first line\nlast line\n', size: 21, truncated: false });
  const tail = await call('GET', '/api/lists/default/tasks/1/log?bytes=10');
  assert.deepEqual(tail.json, { text: 'last line\n', size: 21, truncated: true });

  const deleted = await call('DELETE', '/api/lists/default/tasks/3');
  assert.equal(deleted.status, 200, deleted.text);
  assert.equal(deleted.json.task.id, '3');
  assert.equal((await call('GET', '/api/lists/default/tasks/3')).status, 404);

  // Another list of the same store opens on demand.
  const other = await call('POST', '/api/lists/side/tasks', { subject: 'Elsewhere' });
  assert.equal(other.status, 201, other.text);
  assert.deepEqual(
    (await call('GET', '/api/lists')).json.lists.map((l: { id: string }) => l.id),
    ['default', 'side'],
  );
}

/** Bad input: each a 4xx with a JSON error; `field` when a field is to blame. */
const BAD: [string, string, unknown, number, string, string?][] = [
  ['POST', '/api/lists/default/tasks', '{not json', 400, 'INVALID_INPUT', '(body)'],
  ['POST', '/api/lists/default/tasks', [1, 2], 400, 'INVALID_INPUT', '(body)'],
  ['POST', '/api/lists/default/tasks', {}, 400, 'INVALID_INPUT', 'subject'],
  ['POST', '/api/lists/default/tasks', { subject: 'x', colour: 'red' }, 400, 'INVALID_INPUT', 'colour'],
  ['POST', '/api/lists/default/tasks', { subject: 42 }, 400, 'INVALID_INPUT', 'subject'],
  ['POST', '/api/lists/default/tasks', { subject: 'x', priority: 1.5 }, 400, 'INVALID_INPUT', 'priority'],
  ['POST', '/api/lists/default/tasks', { subject: 'x', labels: 'a' }, 400, 'INVALID_INPUT', 'labels'],
  ['POST', '/api/lists/default/tasks', { subject: 'x', blockedBy: ['999'] }, 404, 'NOT_FOUND'],
  ['POST', '/api/lists/default/tasks', { subject: 'x', blockedBy: ['../etc'] }, 400, 'INVALID_INPUT', 'blockedBy'],
  ['POST', '/api/lists/default/tasks', { subject: '' }, 400, 'INVALID_INPUT', 'subject'],
  ['PATCH', '/api/lists/default/tasks/1', {}, 400, 'INVALID_INPUT', '(body)'],
  ['PATCH', '/api/lists/default/tasks/1', { status: 'deleted' }, 400, 'INVALID_INPUT', 'status'],
  ['PATCH', '/api/lists/default/tasks/1', { owner: 7 }, 400, 'INVALID_INPUT', 'owner'],
  ['PATCH', '/api/lists/default/tasks/1', { ifRev: -1, subject: 'x' }, 400, 'INVALID_INPUT', 'ifRev'],
  ['PATCH', '/api/lists/default/tasks/1', { addBlockedBy: ['1'] }, 409, 'CYCLE'],
  ['PATCH', '/api/lists/default/tasks/404', { subject: 'x' }, 404, 'NOT_FOUND'],
  ['DELETE', '/api/lists/default/tasks/404', undefined, 404, 'NOT_FOUND'],
  ['POST', '/api/lists/default/tasks/1/move', { to: 'done' }, 400, 'INVALID_INPUT', 'to'],
  ['POST', '/api/lists/default/tasks/1/move', { to: 'completed', override: 'yes' }, 400, 'INVALID_INPUT', 'override'],
  ['POST', '/api/lists/default/tasks/1/move', {}, 400, 'INVALID_INPUT', 'to'],
  ['POST', '/api/lists/default/tasks/2/move', { to: 'in_progress' }, 409, 'NOT_CLAIMABLE'],
  ['POST', '/api/lists/default/tasks/1/retry', { now: true }, 400, 'INVALID_INPUT', 'now'],
  ['POST', '/api/lists/default/dependencies', { blocker: '1' }, 400, 'INVALID_INPUT', 'blocked'],
  ['POST', '/api/lists/default/dependencies', { blocker: '2', blocked: '1' }, 409, 'CYCLE'],
  ['POST', '/api/lists/default/dependencies', { blocker: '1', blocked: '77' }, 404, 'NOT_FOUND'],
  ['DELETE', '/api/lists/default/dependencies', undefined, 400, 'INVALID_INPUT', 'blocker'],
  ['GET', '/api/lists/default/history?limit=0', undefined, 400, 'INVALID_INPUT', 'limit'],
  ['GET', '/api/lists/default/history?after=abc', undefined, 400, 'INVALID_INPUT', 'after'],
  ['GET', '/api/lists/default/history?since=1', undefined, 400, 'INVALID_INPUT', 'since'],
  ['GET', '/api/lists/default/tasks/1/log?bytes=0', undefined, 400, 'INVALID_INPUT', 'bytes'],
  ['GET', '/api/lists/..%2Fescape/tasks', undefined, 400, 'INVALID_LIST_ID'],
  ['POST', '/api/lists/..%2Fescape/tasks', { subject: 'x' }, 400, 'INVALID_LIST_ID'],
  ['GET', '/api/lists/default/tasks/..%2F1', undefined, 400, 'INVALID_INPUT', 'id'],
  ['GET', '/api/no-such-route', undefined, 404, 'NOT_FOUND'],
];

async function badRoutes(call: Call, root: string): Promise<void> {
  const before = snapshot(root);
  for (const [method, path, body, status, code, field] of BAD) {
    const r = await call(method, path, body);
    const what = `${method} ${path} ${JSON.stringify(body)}: ${r.status} ${r.text}`;
    assert.equal(r.status, status, what);
    assert.equal(r.json?.error?.code, code, what);
    assert.equal(typeof r.json.error.message, 'string', what);
    assert.ok(r.json.error.message.length > 0, what);
    if (field !== undefined) assert.equal(r.json.error.field, field, what);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/, what);
  }
  assert.deepEqual(snapshot(root), before, 'bad input changed nothing in the store');
}

/** A list with task 1 ready and task 2 blocked by it, for the bad-input pass. */
async function seed(store: TaskStore): Promise<void> {
  await store.create({ subject: 'one' });
  await store.create({ subject: 'two', blockedBy: ['1'] });
}

describe('HTTP API through the app object', () => {
  it('every route answers good input', async () => {
    const { store } = tempStore();
    const board = createBoardApp({ store, actor: ACTOR, version: '9.9.9', port: 4800, assetsDir: null });
    after(() => board.close());
    await goodRoutes(appCall(board.app), store);
  });

  it('bad input gets a 4xx with a JSON error and changes nothing', async () => {
    const { root, store } = tempStore();
    await seed(store);
    const board = createBoardApp({ store, actor: ACTOR, port: 4800, assetsDir: null });
    after(() => board.close());
    await badRoutes(appCall(board.app), root);
  });
});

describe('moves (a card dragged between columns)', () => {
  it('map to the transitions: held tasks need override, own claims do not, blocked ones cannot start', async () => {
    const { store } = tempStore();
    const board = createBoardApp({ store, actor: ACTOR, port: 4800, assetsDir: null });
    after(() => board.close());
    const call = appCall(board.app);
    const move = (id: string, body: Record<string, unknown>) =>
      call('POST', `/api/lists/default/tasks/${id}/move`, body);
    await store.create({ subject: 'a' });
    await store.create({ subject: 'b', blockedBy: ['1'] });
    await store.create({ subject: 'c' });
    await store.create({ subject: 'd' });

    const blocked = await move('2', { to: 'in_progress' });
    assert.equal(blocked.status, 409);
    assert.match(blocked.json.error.message, /blocked by #1/);

    // Held by another on a live lease: refused, then released with override (as its holder).
    await store.claim({ owner: 'w1', taskId: '1' });
    const same = await move('1', { to: 'in_progress' });
    assert.equal(same.status, 200, 'already there: nothing to do');
    assert.equal((await move('1', { to: 'completed' })).status, 409);
    const released = await move('1', { to: 'pending', override: true });
    assert.equal(released.status, 200, released.text);
    assert.equal(released.json.task.state, 'ready');

    // The board's own claim moves without override.
    await store.claim({ owner: ACTOR, taskId: '3' });
    const own = await move('3', { to: 'completed' });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.json.task.state, 'completed');

    // A lease that ran out: moving it to in_progress claims it afresh for the board.
    await store.claim({ owner: 'w2', taskId: '4', leaseMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const revived = await move('4', { to: 'in_progress' });
    assert.equal(revived.status, 200, revived.text);
    assert.equal(revived.json.task.owner, ACTOR);
    assert.equal(revived.json.task.state, 'in_progress');

    const failed = await move('4', { to: 'failed', reason: 'broke' });
    assert.equal(failed.json.task.state, 'failed');
    assert.equal((await move('4', { to: 'in_progress' })).status, 409, 'a failed task is retried first');
    const ready = await move('4', { to: 'pending' });
    assert.equal(ready.json.task.state, 'ready', 'pending from failed is a retry');
  });
});

describe('HTTP API over a real socket', () => {
  it('every route answers good input', async () => {
    const { store } = tempStore();
    const running = await startBoard({ store, port: 0, actor: ACTOR, version: '9.9.9', assetsDir: null });
    after(() => running.close());
    assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    await goodRoutes(socketCall(running.origin), store);
  });

  it('bad input gets a 4xx with a JSON error and changes nothing', async () => {
    const { root, store } = tempStore();
    await seed(store);
    const running = await startBoard({ store, port: 0, actor: ACTOR, assetsDir: null });
    after(() => running.close());
    await badRoutes(socketCall(running.origin), root);
  });

  it('a port in use is a clear error naming it and --port', async () => {
    const { store } = tempStore();
    const first = await startBoard({ store, port: 0, assetsDir: null });
    after(() => first.close());
    await assert.rejects(startBoard({ store, port: first.port, assetsDir: null }), (err: Error) => {
      assert.match(err.message, new RegExp(`port ${first.port}`));
      assert.match(err.message, /--port/);
      return true;
    });
  });
});

describe('web app files', () => {
  it('serves the built files with their content types, and a clear page when not built', async () => {
    const { root, store } = tempStore();
    const dir = join(root, 'board-fixture');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title><script src="/app.js"></script>');
    writeFileSync(join(dir, 'app.js'), 'console.log(1);');
    writeFileSync(join(dir, 'app.css'), 'body{}');
    const built = createBoardApp({ store, port: 4800, assetsDir: dir });
    after(() => built.close());
    const call = appCall(built.app);
    const index = await call('GET', '/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(index.text, /app\.js/);
    assert.match((await call('GET', '/app.js')).headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match((await call('GET', '/app.css')).headers.get('content-type') ?? '', /^text\/css/);
    assert.equal((await call('GET', '/index.html')).status, 200);
    for (const path of ['/missing.js', '/..%2F..%2Fetc%2Fpasswd', '/.hidden']) {
      const r = await call('GET', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.json.error.code, 'NOT_FOUND', path);
    }
    const bare = createBoardApp({ store, port: 4800, assetsDir: null });
    after(() => bare.close());
    const page = await appCall(bare.app)('GET', '/');
    assert.equal(page.status, 500);
    assert.match(page.text, /not built/);
    assert.match(page.text, /npm run build/);
  });
});
