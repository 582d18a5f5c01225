import assert from 'node:assert/strict';
import { subscribe } from 'node:diagnostics_channel';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type EngineEvent, EngineEvents } from '../src/engine/events.js';
import { type RunningBoard, startBoard } from '../src/http/server.js';
import { tasklaneFields } from '../src/model/index.js';
import { resolveLocation } from '../src/store/location.js';
import { openStore } from '../src/store/open.js';
import type { TaskStore } from '../src/store/types.js';
import { cleanEnv, spawnCli } from './cli-run.js';
import { repoRoot, tempDir } from './helpers.js';

// The board in a real browser (Debian's Chromium driven by playwright-core) against a real
// `tasklane board` server over a real socket, on a real file store. Every test has its own list;
// changes come from the store API, a separate CLI process, and files written as Claude Code
// writes them. Screenshots go to test-output/board/ (light and dark).

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
const SHOTS = join(repoRoot, 'test-output', 'board');
/** Generous: a loaded 2-core machine; these are waits for something to appear, not timings. */
const WAIT = 20_000;

const root = tempDir('tasklane-board-');
let board: RunningBoard;
let browser: Browser;
const stores: TaskStore[] = [];
let listCount = 0;

/**
 * The server's side of every connection to the board (Node's public `net.server.socket` channel):
 * destroying them drops the browser's stream as a network failure would.
 */
const serverSockets = new Set<Socket>();
subscribe('net.server.socket', (message) => {
  const socket = (message as { socket: Socket }).socket;
  if (board !== undefined && socket.localPort !== board.port) return;
  serverSockets.add(socket);
  socket.once('close', () => serverSockets.delete(socket));
});

before(async () => {
  const home = openStore(root, 'default');
  stores.push(home);
  board = await startBoard({ store: home, host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await board?.close();
  for (const s of stores) await s.close();
});

/** A fresh list of its own for one test, and a store on it. */
function freshList(): { list: string; store: TaskStore } {
  const list = `board-${++listCount}`;
  const store = openStore(root, list);
  stores.push(store);
  return { list, store };
}

interface Opened {
  context: BrowserContext;
  page: Page;
  /** Dialogs (alert, confirm, prompt) the page opened; a test that expects none checks it is empty. */
  dialogs: string[];
  /** How the next dialogs are answered: dismissed unless a test expects to confirm. */
  answer: { accept: boolean };
  /** Uncaught errors in the page, and anything the Content-Security-Policy refused. */
  errors: string[];
}

async function openBoard(list: string, opts: { scheme?: 'light' | 'dark'; hash?: string } = {}): Promise<Opened> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: opts.scheme ?? 'light',
  });
  const page = await context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  const answer = { accept: false };
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void (answer.accept ? d.accept() : d.dismiss());
  });
  await page.goto(`${board.origin}/${opts.hash ?? `#/list/${encodeURIComponent(list)}`}`);
  await page.locator('.status.live').waitFor({ timeout: WAIT });
  return { context, page, dialogs, errors, answer };
}

const card = (page: Page, id: string) => page.locator(`.card[data-id="${id}"]`);
const inColumn = (page: Page, column: string, id: string) =>
  page.locator(`.column[data-column="${column}"] .card[data-id="${id}"]`);

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function cli(list: string, args: string[]): Promise<string> {
  const r = await spawnCli(['--store', root, '--list', list, ...args], cleanEnv());
  assert.equal(r.status, 0, `tasklane ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Writes a task file as Claude Code does: JSON.stringify(task, null, 2), no trailing newline, a plain write. */
function claudeWrite(list: string, task: Record<string, unknown>): void {
  const dir = resolveLocation({ store: root, list }).listDir;
  const ordered = {
    id: task.id,
    subject: task.subject,
    description: task.description ?? '',
    activeForm: task.activeForm,
    status: task.status ?? 'pending',
    blocks: task.blocks ?? [],
    blockedBy: task.blockedBy ?? [],
    owner: task.owner,
    metadata: task.metadata,
  };
  writeFileSync(join(dir, `${String(task.id)}.json`), JSON.stringify(ordered, null, 2));
}

function readTaskFile(list: string, id: string): Record<string, unknown> {
  const dir = resolveLocation({ store: root, list }).listDir;
  return JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as Record<string, unknown>;
}

/** One task in each state the board shows, returned by name. */
async function everyState(store: TaskStore): Promise<Record<string, string>> {
  const done = await store.create({ subject: 'Design the API', priority: 2, labels: ['api'] });
  const ready = await store.create({ subject: 'Ready to start', labels: ['web'] });
  const blocked = await store.create({ subject: 'Waits for ready', blockedBy: [ready.id] });
  const running = await store.create({ subject: 'Being worked on' });
  const failing = await store.create({ subject: 'Will fail' });
  const assigned = await store.create({ subject: 'Assigned to alice', owner: 'alice' });
  const expired = await store.create({ subject: 'Lease ran out' });
  await store.claim({ owner: 'agent-1', taskId: done.id });
  await store.complete(done.id, { owner: 'agent-1', result: 'Designed: 14 routes' });
  await store.claim({ owner: 'agent-2', taskId: running.id, leaseMs: 10 * 60_000 });
  await store.claim({ owner: 'agent-3', taskId: failing.id });
  await store.fail(failing.id, { owner: 'agent-3', reason: 'exit 1: tests failed' });
  await store.claim({ owner: 'agent-4', taskId: expired.id, leaseMs: 1 });
  return {
    completed: done.id,
    ready: ready.id,
    blocked: blocked.id,
    in_progress: running.id,
    failed: failing.id,
    assigned: assigned.id,
    expired: expired.id,
  };
}

describe('board in a browser', () => {
  it('puts every task in the column of its state, in light and dark', async () => {
    const { list, store } = freshList();
    const ids = await everyState(store);
    for (const scheme of ['light', 'dark'] as const) {
      const { context, page, errors } = await openBoard(list, { scheme });
      await inColumn(page, 'ready', ids.ready as string).waitFor({ timeout: WAIT });
      assert.equal(await inColumn(page, 'blocked', ids.blocked as string).count(), 1, 'blocked');
      assert.equal(await inColumn(page, 'in_progress', ids.in_progress as string).count(), 1, 'in progress');
      assert.equal(await inColumn(page, 'completed', ids.completed as string).count(), 1, 'completed');
      assert.equal(await inColumn(page, 'failed', ids.failed as string).count(), 1, 'failed');
      // assigned and expired wait in Ready (src/board/columns.ts says why), marked as such.
      assert.equal(
        await inColumn(page, 'ready', ids.assigned as string)
          .locator('.badge.assigned')
          .count(),
        1,
      );
      assert.equal(
        await inColumn(page, 'ready', ids.expired as string)
          .locator('.badge.expired')
          .count(),
        1,
      );
      assert.equal(await page.locator('.card').count(), 7, 'each task once');
      // The card shows what a person needs.
      assert.match(
        (await card(page, ids.in_progress as string)
          .locator('.lease')
          .textContent()) ?? '',
        /^lease \d+:\d\d$/,
      );
      assert.match((await card(page, ids.completed as string).textContent()) ?? '', /Designed: 14 routes/);
      assert.match(
        (await card(page, ids.blocked as string).textContent()) ?? '',
        new RegExp(`blocked by #${ids.ready}`),
      );
      await shot(page, `columns-${scheme}`);
      // The task panel.
      await card(page, ids.failed as string).click();
      await page.locator('.panel').getByText('exit 1: tests failed').first().waitFor({ timeout: WAIT });
      await shot(page, `panel-${scheme}`);
      // The filter narrows the board to matching cards.
      await page.getByLabel('Filter tasks').fill('@alice');
      await waitFor(async () => (await page.locator('.card').count()) === 1, 'only the matching card shows');
      assert.equal(await card(page, ids.assigned as string).count(), 1);
      await page.getByLabel('Filter tasks').fill('');
      await waitFor(async () => (await page.locator('.card').count()) === 7, 'every card is back');
      assert.deepEqual(errors, []);
      await context.close();
    }
  });

  it('shows a change by a separate CLI process and one written as Claude Code writes it, without reload', async () => {
    const { list, store } = freshList();
    const first = await store.create({ subject: 'Already there' });
    const { context, page } = await openBoard(list);
    await card(page, first.id).waitFor({ timeout: WAIT });
    let navigations = 0;
    page.on('framenavigated', () => navigations++);

    const created = JSON.parse(await cli(list, ['create', 'Made by the CLI', '--json'])).task;
    await inColumn(page, 'ready', created.id).getByText('Made by the CLI').waitFor({ timeout: WAIT });
    await cli(list, ['claim', first.id, '--owner', 'cli-worker']);
    await inColumn(page, 'in_progress', first.id).waitFor({ timeout: WAIT });

    // Claude Code: a new task file with the next id, and an edit of an existing one, plain writes.
    claudeWrite(list, { id: '50', subject: 'Written by Claude Code', activeForm: 'Writing' });
    await inColumn(page, 'ready', '50').getByText('Written by Claude Code').waitFor({ timeout: WAIT });
    claudeWrite(list, { ...readTaskFile(list, created.id), subject: 'Renamed by Claude Code', status: 'completed' });
    await inColumn(page, 'completed', created.id).getByText('Renamed by Claude Code').waitFor({ timeout: WAIT });
    assert.equal(navigations, 0, 'the page was never reloaded');
    await shot(page, 'live-changes');
    await context.close();
  });

  it('loses nothing while its stream is down: the browser reconnects with Last-Event-ID', async () => {
    const { list, store } = freshList();
    const a = await store.create({ subject: 'Before the drop' });
    const { context, page } = await openBoard(list);
    await card(page, a.id).waitFor({ timeout: WAIT });
    await cli(list, ['create', 'Seen live']);
    await page.getByText('Seen live').waitFor({ timeout: WAIT });
    const reconnects: Promise<string | undefined>[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/events')) reconnects.push(r.allHeaders().then((headers) => headers['last-event-id']));
    });

    // Drop the stream (the server's end of every connection) and keep the browser from
    // reconnecting (offline) until the changes are made.
    await context.setOffline(true);
    for (const socket of serverSockets) socket.destroy();
    await page.locator('.status.reconnecting').waitFor({ timeout: WAIT });
    const missed = JSON.parse(await cli(list, ['create', 'Made while offline', '--json'])).task;
    await cli(list, ['update', a.id, '--subject', 'Renamed while offline']);
    await store.claim({ owner: 'offline-worker', taskId: a.id, leaseMs: 10 * 60_000 });
    claudeWrite(list, { id: '40', subject: 'Claude Code while offline' });
    await context.setOffline(false);

    await inColumn(page, 'ready', missed.id).getByText('Made while offline').waitFor({ timeout: WAIT });
    await inColumn(page, 'in_progress', a.id).getByText('Renamed while offline').waitFor({ timeout: WAIT });
    await inColumn(page, 'ready', '40').waitFor({ timeout: WAIT });
    await page.locator('.status.live').waitFor({ timeout: WAIT });
    const sent = await Promise.all(reconnects);
    assert.ok(sent.length >= 1, 'the stream was opened again');
    assert.ok(
      sent.some((id) => id !== undefined && id !== ''),
      `the browser sent back the last event id (${JSON.stringify(sent)})`,
    );
    assert.equal(await page.locator('.card').count(), 4, 'every task once, none twice');
    await context.close();
  });

  it('persists a dragged card, and moves a held task only after confirming the override', async () => {
    const { list, store } = freshList();
    const free = await store.create({ subject: 'Drag me' });
    const held = await store.create({ subject: 'Someone holds me' });
    await store.claim({ owner: 'agent-9', taskId: held.id, leaseMs: 10 * 60_000 });
    const { context, page, dialogs, answer } = await openBoard(list);
    await card(page, free.id).waitFor({ timeout: WAIT });

    await card(page, free.id).dragTo(page.locator('.column[data-column="in_progress"] .column-body'));
    await inColumn(page, 'in_progress', free.id).waitFor({ timeout: WAIT });
    await waitFor(async () => (await store.get(free.id)).status === 'in_progress', 'the drag reached the store');

    // The board's own claim moves on without an override.
    await card(page, free.id).dragTo(page.locator('.column[data-column="completed"] .column-body'));
    await inColumn(page, 'completed', free.id).waitFor({ timeout: WAIT });
    await waitFor(async () => (await store.get(free.id)).status === 'completed', 'the second drag reached the store');
    assert.deepEqual(dialogs, [], 'a free task, and one the board holds, move without asking');
    answer.accept = true;
    await card(page, held.id).dragTo(page.locator('.column[data-column="completed"] .column-body'));
    await inColumn(page, 'completed', held.id).waitFor({ timeout: WAIT });
    assert.equal(dialogs.length, 1, 'one confirmation');
    assert.match(dialogs.join('\n'), /^confirm: .*agent-9/, 'the confirmation names the holder');
    assert.equal((await store.get(held.id)).status, 'completed');
    await context.close();
  });

  it('works from the keyboard: a card opens with Enter, moves from its panel, closes with Escape', async () => {
    const { list, store } = freshList();
    const t = await store.create({ subject: 'Keyboard only' });
    const { context, page } = await openBoard(list);
    await card(page, t.id).waitFor({ timeout: WAIT });
    await card(page, t.id).focus();
    await page.keyboard.press('Enter');
    const panel = page.locator('.panel');
    await panel.getByText('Keyboard only').first().waitFor({ timeout: WAIT });
    await panel.getByLabel('Move to').selectOption('completed');
    await panel.getByRole('button', { name: 'Move', exact: true }).press('Enter');
    await inColumn(page, 'completed', t.id).waitFor({ timeout: WAIT });
    await waitFor(async () => (await store.get(t.id)).status === 'completed', 'the move reached the store');
    await panel.focus();
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached', timeout: WAIT });
    await context.close();
  });

  it('creates and edits tasks from forms, and shows a refused cycle with its ids', async () => {
    const { list, store } = freshList();
    const a = await store.create({ subject: 'First' });
    const b = await store.create({ subject: 'Second', blockedBy: [a.id] });
    const { context, page } = await openBoard(list);
    await card(page, b.id).waitFor({ timeout: WAIT });

    // Create.
    await page.getByRole('button', { name: 'New task' }).click();
    const form = page.locator('dialog form');
    await form.getByLabel('Subject').fill('Made in the browser');
    await form.getByLabel('Description').fill('with a description');
    await form.getByLabel('Labels').fill('ui, test');
    await form.getByLabel('Blocked by').fill(a.id);
    await form.getByRole('button', { name: 'Create' }).click();
    await page.locator('.column[data-column="blocked"]').getByText('Made in the browser').waitFor({ timeout: WAIT });
    const made = (await store.list()).find((t) => t.subject === 'Made in the browser');
    assert.ok(made, 'the store has the new task');
    assert.equal(made.description, 'with a description');
    assert.deepEqual(made.blockedBy, [a.id]);
    assert.deepEqual(tasklaneFields(made).labels, ['ui', 'test']);

    // Edit.
    await card(page, a.id).click();
    await page.locator('.panel').getByRole('button', { name: 'Edit' }).click();
    await form.getByLabel('Subject').fill('First, edited');
    await form.getByLabel('Priority').fill('5');
    await form.getByRole('button', { name: 'Save' }).click();
    await card(page, a.id).getByText('First, edited').waitFor({ timeout: WAIT });
    const edited = await store.get(a.id);
    assert.equal(edited.subject, 'First, edited');
    assert.equal(tasklaneFields(edited).priority, 5);

    // A blocker that would close a cycle: refused, the cycle shown.
    const input = page.locator('.panel').getByLabel('Add blocker (task id)');
    await input.fill(b.id);
    await page.locator('.panel').getByRole('button', { name: 'Add blocker' }).click();
    const error = page.locator('.errors .error').first();
    await error.waitFor({ timeout: WAIT });
    const text = (await error.textContent()) ?? '';
    assert.match(text, /CYCLE/);
    assert.match(text, new RegExp(`#${a.id}.*#${b.id}|#${b.id}.*#${a.id}`), text);
    assert.deepEqual((await store.get(a.id)).blockedBy, [], 'nothing changed');
    await shot(page, 'forms');
    await context.close();
  });

  it('draws the graph with the critical path marked; a node opens its task', async () => {
    const { list, store } = freshList();
    const a = await store.create({ subject: 'Schema', estimate: 3600 });
    const b = await store.create({ subject: 'API', estimate: 7200, blockedBy: [a.id] });
    const c = await store.create({ subject: 'Docs', estimate: 60, blockedBy: [a.id] });
    const d = await store.create({ subject: 'Release', blockedBy: [b.id, c.id] });
    for (const scheme of ['light', 'dark'] as const) {
      const { context, page } = await openBoard(list, { scheme, hash: `#/list/${list}/graph` });
      await page.locator('.node').first().waitFor({ timeout: WAIT });
      assert.equal(await page.locator('.node').count(), 4);
      assert.equal(await page.locator('.edge').count(), 4);
      const critical = await page
        .locator('.node.critical')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
      assert.deepEqual(critical.sort(), [a.id, b.id, d.id].sort(), 'the long chain is the critical path');
      assert.ok((await page.locator('.edge.critical').count()) >= 2);
      assert.match((await page.locator('.graph-summary').textContent()) ?? '', /Critical path/);
      await page.locator(`.node[data-id="${b.id}"] .node-subject`).getByText('API').waitFor({ timeout: WAIT });
      await shot(page, `graph-${scheme}`);
      await page.locator(`.node[data-id="${c.id}"]`).click();
      await page.locator('.panel .panel-title').getByText('Docs').waitFor({ timeout: WAIT });
      assert.match(page.url(), new RegExp(`/graph/task/${c.id}$`));
      await context.close();
    }
  });

  it('shows a run started with the board: agents running, their activity, cost, then the counts', async () => {
    const { list, store } = freshList();
    const a = await store.create({ subject: 'Agent task A' });
    const b = await store.create({ subject: 'Agent task B' });
    await store.create({ subject: 'Waits its turn', blockedBy: [a.id] });
    // What `tasklane run --board` hands the board: the executor's own event emitter.
    const source = new EngineEvents();
    const emit = (event: EngineEvent): void => source.emit(event);
    const runStore = openStore(root, list);
    stores.push(runStore);
    const runBoard = await startBoard({
      store: runStore,
      host: '127.0.0.1',
      port: 0,
      run: { source, list },
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${runBoard.origin}/#/list/${list}`);
      await page.locator('.status.live').waitFor({ timeout: WAIT });
      const strip = page.locator('.run');
      await strip.getByText('Run in progress').waitFor({ timeout: WAIT });
      const now = Date.now();
      for (const t of [a, b]) {
        emit({
          type: 'start',
          taskId: t.id,
          subject: t.subject,
          attempt: 1,
          owner: `agent-${t.id}`,
          log: '/nonexistent',
          at: now,
        });
      }
      emit({ type: 'activity', taskId: a.id, line: 'Editing src/<b>app</b>.ts', at: now });
      await strip.getByText('2 running').waitFor({ timeout: WAIT });
      await strip.getByText('Editing src/<b>app</b>.ts', { exact: false }).waitFor({ timeout: WAIT });
      emit({
        type: 'finish',
        taskId: a.id,
        subject: a.subject,
        outcome: 'completed',
        durationMs: 90_000,
        usage: { costUsd: 0.25 },
        at: now + 90_000,
      });
      await strip.getByText('1 running').waitFor({ timeout: WAIT });
      await strip.getByText('1 completed').waitFor({ timeout: WAIT });
      await strip.getByText('cost $0.25').waitFor({ timeout: WAIT });
      await strip.getByText(/about .* left/).waitFor({ timeout: WAIT });
      await shot(page, 'run');
      await context.close();
    } finally {
      await runBoard.close();
    }
  });

  it('renders task text holding HTML and script as inert text', async () => {
    const { list, store } = freshList();
    const subject = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const description = '<script>window.__pwned=3</script><b onclick="window.__pwned=4">bold</b>';
    const t = await store.create({ subject, description, labels: ['<i>label</i>'] });
    await store.claim({ owner: '<svg onload="window.__pwned=5">', taskId: t.id });
    await store.complete(t.id, {
      owner: '<svg onload="window.__pwned=5">',
      result: '<iframe src="javascript:window.__pwned=6">',
    });
    const { context, page, dialogs, errors } = await openBoard(list);
    await card(page, t.id).waitFor({ timeout: WAIT });
    assert.equal(await card(page, t.id).locator('.card-subject').textContent(), subject);
    await card(page, t.id).click();
    await page.locator('.panel .text').first().waitFor({ timeout: WAIT });
    assert.equal(await page.locator('.panel .text').first().textContent(), description);
    await shot(page, 'inert-text-board');
    await page.goto(`${board.origin}/#/list/${list}/graph`);
    await page.locator('.node').first().waitFor({ timeout: WAIT });
    // Evaluated in the page (a string: the test is compiled without the DOM's types).
    const found = await page.evaluate(`({
      pwned: window.__pwned,
      imgs: document.querySelectorAll('img, iframe, b, i').length,
      scripts: [...document.scripts].map((s) => s.getAttribute('src')),
    })`);
    assert.deepEqual(found, { pwned: undefined, imgs: 0, scripts: ['/app.js'] });
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
    await shot(page, 'inert-text-graph');
    await context.close();
  });
});

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + WAIT;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
