import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBoardApp } from '../src/http/app.js';
import { startBoard } from '../src/http/server.js';
import { appCall, rawRequest, SseStream, tempStore } from './http-helpers.js';

// Found by an adversarial review of the board (issue 9): each test names what broke.

/** Claude Code's TaskUpdate: read the file, change it, write it back with a plain write. */
function claudeWrite(root: string, id: string, patch: Record<string, unknown>): void {
  const file = join(root, 'default', `${id}.json`);
  const task = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...task, ...patch }, null, 2));
}

/** `n` tasks written as Claude Code writes them, each blocked by one or two of the 5 before it. */
function writeChainedList(root: string, n: number): void {
  type T = { id: string; subject: string; description: string; status: string; blocks: string[]; blockedBy: string[] };
  const tasks: T[] = [];
  for (let i = 1; i <= n; i++) {
    tasks.push({ id: String(i), subject: `task ${i}`, description: '', status: 'pending', blocks: [], blockedBy: [] });
  }
  for (let i = 2; i <= n; i++) {
    for (const back of new Set([1, 1 + (i % 5)])) {
      const b = Math.max(1, i - back);
      const blocker = tasks[b - 1] as T;
      const blocked = tasks[i - 1] as T;
      if (b === i || blocked.blockedBy.includes(blocker.id)) continue;
      blocked.blockedBy.push(blocker.id);
      blocker.blocks.push(blocked.id);
    }
  }
  for (const t of tasks) writeFileSync(join(root, 'default', `${t.id}.json`), JSON.stringify(t, null, 2));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('review of the board', () => {
  it('a board restarted while Claude Code wrote: a tab resuming from its old cursor still gets the write', async () => {
    const { root, store } = tempStore();
    await store.create({ subject: 'one' });
    await store.create({ subject: 'two' });
    const first = await startBoard({ store, port: 0, assetsDir: null });
    const tab = new SseStream(`${first.origin}/api/events`);
    const snap = await tab.next((e) => e.event === 'snapshot');
    tab.close();
    await first.close();

    claudeWrite(root, '2', { subject: 'two, written by Claude Code while the board was down' });

    const second = await startBoard({ store, port: 0, assetsDir: null });
    after(() => second.close());
    // Another tab opens first and is handed the new process's start cursor.
    const other = new SseStream(`${second.origin}/api/events`);
    after(() => other.close());
    await other.next((e) => e.event === 'snapshot');
    // The old tab reconnects with the cursor the first process gave it.
    const back = new SseStream(`${second.origin}/api/events`, { 'last-event-id': snap.id as string });
    after(() => back.close());
    const seen = await back.next(
      (e) =>
        (e.event === 'snapshot' && e.json.tasks.some((t: { subject: string }) => t.subject.includes('Claude Code'))) ||
        (e.event === 'change' && String(e.json.task.subject).includes('Claude Code')),
      0,
      3000,
    );
    assert.ok(seen);
  });

  it('a feed restarted after the linger: a tab resuming from its old cursor still gets a write made meanwhile', async () => {
    const { root, store } = tempStore();
    await store.create({ subject: 'one' });
    const board = await startBoard({ store, port: 0, assetsDir: null, lingerMs: 50 });
    after(() => board.close());
    const url = `${board.origin}/api/events`;
    const tab = new SseStream(url);
    const snap = await tab.next((e) => e.event === 'snapshot');
    tab.close();
    await sleep(400); // the feed stops
    claudeWrite(root, '1', { subject: 'one, by Claude Code with no feed running' });
    const other = new SseStream(url);
    after(() => other.close());
    await other.next((e) => e.event === 'snapshot');
    const back = new SseStream(url, { 'last-event-id': snap.id as string });
    after(() => back.close());
    await back.next(
      (e) =>
        (e.event === 'snapshot' && e.json.tasks.some((t: { subject: string }) => t.subject.includes('Claude Code'))) ||
        (e.event === 'change' && String(e.json.task.subject).includes('Claude Code')),
      0,
      3000,
    );
  });

  it('laying out a graph of 1,000 tasks does not hold the server for seconds', async () => {
    const { root, store } = tempStore();
    await store.create({ subject: 'seed' }); // makes the list directory
    writeChainedList(root, 1000);
    const board = createBoardApp({ store, port: 4800, assetsDir: null });
    after(() => board.close());
    const call = appCall(board.app);
    const started = performance.now();
    const r = await call('GET', '/api/lists/default/graph');
    const ms = performance.now() - started;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.nodes.length, 1000);
    assert.ok(ms < 3000, `the layout took ${Math.round(ms)} ms on the event loop`);
    // Still a layout: blockers left of what they block, no two nodes on one spot.
    const at = new Map<string, { x: number; y: number }>(
      r.json.nodes.map((n: { id: string; x: number; y: number }) => [n.id, n]),
    );
    for (const e of r.json.edges as { from: string; to: string; points: { x: number }[] }[]) {
      assert.ok((at.get(e.from)?.x ?? 0) < (at.get(e.to)?.x ?? 0), `${e.from} -> ${e.to}`);
      assert.ok(e.points.length >= 2);
    }
    assert.equal(new Set([...at.values()].map((p) => `${p.x},${p.y}`)).size, 1000);
    assert.ok(r.json.criticalPath.length > 0);
  });

  it('another site cannot make the board do work through GET (Sec-Fetch-Site cross-site or same-site)', async () => {
    const { store } = tempStore();
    const board = createBoardApp({ store, port: 4800, assetsDir: null });
    after(() => board.close());
    const call = appCall(board.app);
    for (const path of ['/api/lists/default/graph', '/api/lists/other/tasks', '/api/info', '/%61pi/info', '/app.js']) {
      for (const site of ['cross-site', 'same-site']) {
        const r = await call('GET', path, undefined, { 'sec-fetch-site': site });
        assert.equal(r.status, 403, `${site} ${path}`);
        assert.equal(r.json.error.code, 'FORBIDDEN');
      }
    }
    // The board's own page, and a link to it from elsewhere, still work.
    assert.equal((await call('GET', '/api/info', undefined, { 'sec-fetch-site': 'same-origin' })).status, 200);
    assert.equal((await call('GET', '/api/info', undefined, { 'sec-fetch-site': 'none' })).status, 200);
    assert.equal(
      (await call('GET', '/', undefined, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' })).status,
      500, // the not-built page: served, not refused
    );
    const link = await call('GET', '/api/info', undefined, {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'navigate',
    });
    assert.equal(link.status, 403, 'a link to an API route is not followed');
  });

  it('two boards on one machine each keep their own token cookie (cookies ignore the port)', async () => {
    const a = await startBoard({ store: tempStore().store, host: '0.0.0.0', port: 0, assetsDir: null });
    after(() => a.close());
    const b = await startBoard({ store: tempStore().store, host: '0.0.0.0', port: 0, assetsDir: null });
    after(() => b.close());
    const nameOf = async (url: string) =>
      String((await rawRequest(url)).headers['set-cookie'])
        .split('=')[0]
        ?.trim();
    const [ca, cb] = [await nameOf(a.url), await nameOf(b.url)];
    assert.notEqual(ca, cb, 'the second login would overwrite the first board cookie');
  });
});

describe('review of the board: memory', () => {
  it('the ring of recent events is bounded by size too: an event carries every task the changed one blocks', async () => {
    const { ListHub } = await import('../src/http/list-feed.js');
    const { store } = tempStore();
    await store.create({ subject: 'setup' });
    for (let i = 0; i < 40; i++)
      await store.create({ subject: `t${i}`, description: 'x'.repeat(5000), blockedBy: ['1'] });
    const limit = 1024 * 1024;
    const hub = new ListHub(store, 'default', { seq: -1, n: 0 }, () => {}, 60_000, limit);
    await hub.start();
    after(() => hub.stop());
    // Each change of task 1 carries its 40 dependents, about 200 kB.
    for (let i = 0; i < 20; i++) await store.update('1', { activeForm: `step ${i}` });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && hub.heldBytes < limit * 0.5) await sleep(50);
    await sleep(500);
    assert.ok(hub.heldBytes > 0, 'the feed saw the changes');
    assert.ok(hub.heldBytes <= limit, `the ring holds ${hub.heldBytes} bytes; the bound is ${limit}`);
  });
});

describe('review of the board: the stream refuses what the other routes refuse', () => {
  it('an unknown query parameter on /api/events is a 400 naming it, before any stream starts', async () => {
    const { store } = tempStore();
    const board = createBoardApp({ store, port: 4800, assetsDir: null });
    after(() => board.close());
    const r = await appCall(board.app)('GET', '/api/events?lsit=default');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'INVALID_INPUT');
    assert.equal(r.json.error.field, 'lsit');
    assert.equal(board.board.hubs.running, 0);
  });
});
