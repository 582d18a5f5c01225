import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EngineEvents } from '../src/engine/events.js';
import { createBoardApp } from '../src/http/app.js';
import { startBoard } from '../src/http/server.js';
import type { TaskStore } from '../src/store/types.js';
import { cleanEnv, explain, run } from './cli-run.js';
import { cliPath } from './helpers.js';
import { appCall, type SseEvent, SseStream, tempStore } from './http-helpers.js';

// The live stream over a real socket: a snapshot first, then every change from any process (the
// CLI, Claude Code writing a task file itself), each with a cursor; a reconnect with
// Last-Event-ID gets exactly what it missed, or the journal and a snapshot when the cursor is
// no longer held.

const isChange =
  (taskId: string, test: (e: SseEvent) => boolean = () => true) =>
  (e: SseEvent) =>
    e.event === 'change' && e.json?.taskId === taskId && test(e);

/** Claude Code's TaskUpdate: read the file, change it, write it back with a plain (non-atomic) write. */
function claudeWrite(root: string, id: string, patch: Record<string, unknown>): void {
  const file = join(root, 'default', `${id}.json`);
  const task = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...task, ...patch }, null, 2));
}

async function seeded(): Promise<{ root: string; store: TaskStore }> {
  const t = tempStore();
  await t.store.create({ subject: 'one' });
  await t.store.create({ subject: 'two', blockedBy: ['1'] });
  return t;
}

describe('HTTP event stream', () => {
  it('sends a snapshot, then changes from the CLI and from Claude Code; a reconnect resumes exactly', async () => {
    const { root, store } = await seeded();
    const board = await startBoard({ store, port: 0, assetsDir: null, lingerMs: 10_000 });
    after(() => board.close());
    const url = `${board.origin}/api/events?list=default`;
    const tab = new SseStream(url);
    const witness = new SseStream(url);
    after(() => {
      tab.close();
      witness.close();
    });

    const first = await tab.next(() => true);
    assert.equal(first.event, 'snapshot');
    assert.equal(first.json.list, 'default');
    assert.deepEqual(
      first.json.tasks.map((t: { id: string; state: string }) => [t.id, t.state]),
      [
        ['1', 'ready'],
        ['2', 'blocked'],
      ],
    );
    // A feed's start cursor is SEQ.N with an N no earlier feed issued (Claude Code may have written meanwhile).
    assert.match(first.id ?? '', /^\d+\.\d+$/);
    await witness.next((e) => e.event === 'snapshot');

    const cli = run(['--dir', root, 'update', '1', '--subject', 'one, by the CLI']);
    assert.equal(cli.status, 0, explain(cli));
    const fromCli = await tab.next(isChange('1', (e) => e.json.task.subject === 'one, by the CLI'));
    assert.match(fromCli.id ?? '', /^\d+$/);
    assert.equal(fromCli.json.kind, 'updated');
    assert.equal(fromCli.json.task.state, 'ready');
    assert.equal(fromCli.id, String(fromCli.json.seq));

    claudeWrite(root, '2', { subject: 'two, by Claude Code' });
    const fromClaude = await tab.next(isChange('2', (e) => e.json.task.subject === 'two, by Claude Code'));
    assert.match(fromClaude.id ?? '', /^\d+\.\d+$/, 'a change no journal line covers is SEQ.N');
    assert.equal(fromClaude.id?.split('.')[0], fromCli.id);

    // The tab drops; meanwhile the CLI completes task 1 and Claude Code edits task 2.
    tab.close();
    const done = run(['--dir', root, 'done', '1', '--result', 'shipped']);
    assert.equal(done.status, 0, explain(done));
    const seen = witness.events.length;
    const completed = await witness.next(
      isChange('1', (e) => e.json.kind === 'completed'),
      seen,
    );
    // Task 2's state follows its blocker without a write of its own: carried as a dependent.
    assert.equal(completed.json.dependents[0].id, '2');
    assert.equal(completed.json.dependents[0].state, 'ready');
    claudeWrite(root, '2', { activeForm: 'Claude is on it' });
    await witness.next(
      isChange('2', (e) => e.json.task.activeForm === 'Claude is on it'),
      seen,
    );
    const droppedAt = witness.events.findIndex((e) => e.id === fromClaude.id);
    assert.ok(droppedAt > 0, witness.describe());
    const missed = witness.events.slice(droppedAt + 1).filter((e) => e.event === 'change');
    assert.ok(missed.length >= 2);

    const back = new SseStream(url, { 'last-event-id': fromClaude.id as string });
    after(() => back.close());
    const last = missed.at(-1) as SseEvent;
    await back.next((e) => e.id === last.id);
    assert.deepEqual(
      back.events.map((e) => [e.event, e.id]),
      missed.map((e) => [e.event, e.id]),
      'exactly the missed events, no snapshot',
    );
    assert.ok(
      back.events.some((e) => /^\d+\.\d+$/.test(e.id ?? '')),
      "Claude Code's change is among them",
    );

    // A cursor the server no longer holds: the journal's changes after its SEQ, then a snapshot.
    const stale = new SseStream(url, { 'last-event-id': '1.999' });
    after(() => stale.close());
    const snap = await stale.next((e) => e.event === 'snapshot');
    const replayed = stale.events.slice(0, stale.events.indexOf(snap));
    assert.ok(replayed.length >= 2, stale.describe());
    assert.ok(replayed.every((e) => e.event === 'change' && /^\d+$/.test(e.id ?? '') && Number(e.id) > 1));
    assert.deepEqual(
      replayed.map((e) => Number(e.id)),
      [...replayed.map((e) => Number(e.id))].sort((a, b) => a - b),
    );
    assert.equal(snap.json.tasks.find((t: { id: string }) => t.id === '2').activeForm, 'Claude is on it');
    assert.equal(snap.json.tasks.find((t: { id: string }) => t.id === '1').state, 'completed');
  });

  it('a lone tab that reconnects within the linger resumes from its cursor, without a snapshot', async () => {
    const { root, store } = await seeded();
    const board = await startBoard({ store, port: 0, assetsDir: null, lingerMs: 30_000 });
    after(() => board.close());
    const url = `${board.origin}/api/events`;
    const tab = new SseStream(url);
    const snap = await tab.next((e) => e.event === 'snapshot');
    tab.close();
    const r = run(['--dir', root, 'update', '2', '--priority', '5']);
    assert.equal(r.status, 0, explain(r));
    const back = new SseStream(url, { 'last-event-id': snap.id as string });
    after(() => back.close());
    const change = await back.next(isChange('2', (e) => e.json.task.metadata.tasklane.priority === 5));
    assert.equal(back.events[0], change, back.describe());
  });

  it('a fresh server given an old cursor replays the journal and sends a snapshot', async () => {
    const { root, store } = await seeded();
    const r = run(['--dir', root, 'update', '2', '--priority', '5']);
    assert.equal(r.status, 0, explain(r));
    const board = await startBoard({ store, port: 0, assetsDir: null });
    after(() => board.close());
    const s = new SseStream(`${board.origin}/api/events`, { 'last-event-id': '1' });
    after(() => s.close());
    const snap = await s.next((e) => e.event === 'snapshot');
    const before = s.events.slice(0, s.events.indexOf(snap));
    assert.deepEqual(
      before.map((e) => [e.id, e.json.taskId]),
      [
        ['2', '2'],
        ['3', '1'],
        ['4', '2'],
      ],
      s.describe(),
    );
    assert.equal(snap.id?.split('.')[0], '4');
  });

  it('stops the feed when the last tab leaves and forwards run events', async () => {
    const { store } = await seeded();
    const events = new EngineEvents();
    const board = createBoardApp({ store, port: 4800, assetsDir: null, lingerMs: 0, run: { source: events } });
    after(() => board.close());
    const res = await board.app.request('http://127.0.0.1:4800/api/events');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /^retry: 1000$/m);
    assert.equal(board.board.hubs.running, 1);

    events.emit({ type: 'start', taskId: '1', subject: 'one', attempt: 1, owner: 'w1', log: '/tmp/x.log', at: 1 });
    events.emit({ type: 'activity', taskId: '1', line: 'editing files', at: 2 });
    while (!text.includes('editing files')) text += new TextDecoder().decode((await reader.read()).value);
    const runBlock = text.split('\n\n').find((b) => b.includes('editing files')) as string;
    assert.match(runBlock, /^event: run$/m);
    assert.doesNotMatch(runBlock, /^id:/m, 'run events carry no cursor');
    const live = await appCall(board.app)('GET', '/api/lists/default/run/live');
    assert.equal(live.status, 200);
    assert.equal(live.json.active, true);
    assert.deepEqual(live.json.tasks[0].activity, { line: 'editing files', at: 2 });
    assert.equal(live.json.tasks[0].running, true);

    await reader.cancel();
    for (let i = 0; i < 50 && board.board.hubs.running > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(board.board.hubs.running, 0, 'the feed stopped with its last tab');
  });
});

describe('tasklane board', () => {
  it('prints the URL, serves /api/info, and exits 0 on SIGTERM', async () => {
    const { root } = tempStore();
    const env = cleanEnv({ NO_COLOR: '1' });
    const child = spawn(process.execPath, [cliPath, '--dir', root, 'board', '--no-open', '--port', '0'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed; stderr: ${stderr}`)), 15_000);
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
        const line = stdout.split('\n')[0] as string;
        if (stdout.includes('\n')) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const info = await fetch(`${url}api/info`);
    assert.equal(info.status, 200);
    assert.equal(((await info.json()) as { list: string }).list, 'default');
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });

  it("other commands load none of the server: the bundle's entry does not import it statically", () => {
    const dir = dirname(cliPath);
    const seen = new Set<string>();
    const queue = [basename(cliPath)];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/(?:^|[;}])\s*import\s*(?:[^'"()]*?from\s*)?["']\.\/([^"']+)["']/g)) {
        queue.push(m[1] as string);
      }
    }
    for (const file of seen) {
      assert.doesNotMatch(readFileSync(join(dir, file), 'utf8'), /streamSSE|dagre|frame-ancestors/, file);
    }
  });

  it('--help documents the options', () => {
    const r = run(['board', '--help']);
    assert.equal(r.status, 0);
    for (const option of ['--port', '--host', '--no-open', 'token', '4800']) assert.match(r.stdout, new RegExp(option));
  });
});
