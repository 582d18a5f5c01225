import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../src/store/open.js';
import { cliPath, repoRoot, runCli, tempDir } from './helpers.js';

// `tasklane watch` and `tasklane wait` as real processes, with the changes made by other processes.

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function start(args: string[]): {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  waitFor: (n: number, what: string) => Promise<void>;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  children.push(child);
  const lines: string[] = [];
  let buf = '';
  let stderr = '';
  let notify = (): void => {};
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
    notify();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (n: number, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}: ${lines.length} lines; stderr: ${stderr}`)),
        45_000,
      );
      notify = () => {
        if (lines.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      };
      notify();
    });
  return { child, lines, stderr: () => stderr, waitFor, exit };
}

/** Runs a node script (ESM) that uses the built store; resolves with its exit code. */
function runNode(script: string): Promise<number | null> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

const openJs = JSON.stringify(join(repoRoot, 'dist/src/store/open.js'));

test('watch --json in one process receives all 1,000 changes another process writes, in order per task', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'big' });
  const TASKS = 10;
  const ROUNDS = 100;
  for (let i = 1; i <= TASKS; i++) await store.create({ subject: `task ${i}` });

  const watch = start(['watch', '--json', '--initial', '--dir', dir, '--list', 'big']);
  await watch.waitFor(TASKS, 'the initial tasks (the watcher is running)');

  const code = await runNode(`
    import { openStore } from ${openJs};
    const store = openStore({ dir: ${JSON.stringify(dir)}, list: 'big' });
    for (let round = 1; round <= ${ROUNDS}; round++)
      for (let id = 1; id <= ${TASKS}; id++) await store.update(String(id), { description: 'round ' + round });
  `);
  assert.equal(code, 0, 'the writer finished');
  await watch.waitFor(TASKS + TASKS * ROUNDS, 'all 1,000 changes');
  await new Promise((r) => setTimeout(r, 500)); // and nothing more (no duplicates)
  watch.child.kill('SIGTERM');
  assert.equal(await watch.exit, 0, 'watch exits cleanly on SIGTERM');

  const changes = watch.lines
    .slice(TASKS)
    .map((l) => JSON.parse(l) as { kind: string; taskId: string; rev: number; task: { description: string } });
  assert.equal(changes.length, TASKS * ROUNDS, 'exactly 1,000 changes, no duplicates');
  for (let id = 1; id <= TASKS; id++) {
    const mine = changes.filter((c) => c.taskId === String(id));
    assert.deepEqual(
      mine.map((c) => c.rev),
      Array.from({ length: ROUNDS }, (_, i) => i + 2),
      `task ${id}: every revision once, in order`,
    );
    assert.equal(mine.at(-1)?.task.description, `round ${ROUNDS}`);
  }
  assert.ok(changes.every((c) => c.kind === 'updated'));
});

test('wait: exits 0 when another process completes the tasks', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'w' });
  const a = await store.create({ subject: 'A' });
  const b = await store.create({ subject: 'B', blockedBy: [a.id] });
  const waiter = start(['wait', a.id, b.id, '--json', '--dir', dir, '--list', 'w']);
  const ready = start(['wait', b.id, '--until', 'ready', '--dir', dir, '--list', 'w']);
  await new Promise((r) => setTimeout(r, 300));
  await store.complete(a.id, {});
  assert.equal(await ready.exit, 0, `B became ready when A completed; stderr: ${ready.stderr()}`);
  await store.complete(b.id, {});
  assert.equal(await waiter.exit, 0, `stderr: ${waiter.stderr()}`);
  const out = JSON.parse(waiter.lines.join('\n')) as { reached: boolean; tasks: { id: string; state: string }[] };
  assert.equal(out.reached, true);
  assert.deepEqual(
    out.tasks.map((t) => `${t.id}:${t.state}`),
    ['1:completed', '2:completed'],
  );
});

test('wait: exit 5 on timeout, 1 when a waited task fails or is deleted or does not exist', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'w' });
  const a = await store.create({ subject: 'A' });
  const b = await store.create({ subject: 'B' });
  const loc = ['--dir', dir, '--list', 'w'];

  assert.equal(runCli(['wait', a.id, '--timeout', '0.3', ...loc]).status, 5, 'timed out');

  const failing = start(['wait', a.id, ...loc]);
  const deleting = start(['wait', b.id, ...loc]);
  await new Promise((r) => setTimeout(r, 300));
  await store.claim({ owner: 'w', taskId: a.id });
  await store.fail(a.id, { owner: 'w', reason: 'no' });
  await store.delete(b.id);
  assert.equal(await failing.exit, 1, 'a failed task ends the wait with 1');
  assert.equal(await deleting.exit, 1, 'a deleted task ends the wait with 1');

  const missing = runCli(['wait', '42', ...loc]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no task 42/);
  assert.equal(runCli(['wait', a.id, '--until', 'soon', ...loc]).status, 2, 'a bad --until is a usage error');
});

test('watch --since past the end of the history exits 2 at once; --since at the end follows the next changes', async () => {
  const dir = tempDir();
  assert.equal(runCli(['--dir', dir, 'create', 'A']).status, 0);
  const bad = runCli(['--dir', dir, 'watch', '--since', '50']);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /ends at seq 1; since must be at most 1, got 50/);
  assert.equal(bad.stdout, '');

  const watch = start(['watch', '--json', '--since', '1', '--dir', dir]);
  const b = runCli(['--dir', dir, 'create', 'B']);
  assert.equal(b.status, 0, b.stderr);
  await watch.waitFor(1, 'the change after the cursor');
  watch.child.kill('SIGTERM');
  assert.equal(await watch.exit, 0, watch.stderr());
  const first = JSON.parse(watch.lines[0] ?? '') as { kind: string; taskId: string; seq: number };
  assert.deepEqual([first.kind, first.taskId, first.seq], ['created', '2', 2]);
});
