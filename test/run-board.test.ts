import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import { cleanEnv, cliIn, spawnCli } from './cli-run.js';
import { cliPath, tempDir } from './helpers.js';

// `tasklane run --board` as a real process: the board serves the run's live state while its agents
// work, and (stderr not a terminal) closes with the run.

describe('tasklane run --board', () => {
  it('serves the run live while it runs, then closes with it', async () => {
    const dir = tempDir('tasklane-run-board-');
    const store = openStore(dir, 'rb');
    const slow = await store.create({ subject: 'Slow agent task', metadata: { sim: { ms: 2500 } } });
    await store.create({ subject: 'After it', blockedBy: [slow.id], metadata: { sim: { ms: 100 } } });
    await store.close();

    const child = spawn(
      process.execPath,
      [
        cliPath,
        'run',
        '--preset',
        'sim',
        '-j',
        '2',
        '--board',
        '--board-port',
        '0',
        '--no-open',
        '--dir',
        dir,
        '--list',
        'rb',
      ],
      { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
        const m = /board at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
        if (m) resolve(m[1] as string);
      });
      child.on('close', () => reject(new Error(`run exited before its board was up:\n${stderr}`)));
    });

    // While the slow task's agent runs, the board names it as running, with its subject.
    let live: { active: boolean; tasks: { taskId: string; subject?: string; running: boolean }[] } | undefined;
    for (let i = 0; i < 100; i++) {
      live = (await (await fetch(`${url}api/lists/rb/run/live`)).json()) as typeof live;
      if (live?.tasks.some((t) => t.taskId === slow.id && t.running)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(live?.active, true, JSON.stringify(live));
    const running = live?.tasks.find((t) => t.taskId === slow.id);
    assert.equal(running?.running, true, JSON.stringify(live));
    assert.equal(running?.subject, 'Slow agent task');
    const tasks = (await (await fetch(`${url}api/lists/rb/tasks`)).json()) as {
      tasks: { id: string; state: string }[];
    };
    assert.equal(tasks.tasks.find((t) => t.id === slow.id)?.state, 'in_progress');

    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /2 of 2 tasks completed/);
    // Not a terminal: the board closed with the run.
    await assert.rejects(fetch(`${url}api/info`));
  });

  it('takes any free port when the default one is taken', async () => {
    const dir = tempDir('tasklane-run-board-port-');
    const store = openStore(dir, 'rb');
    await store.create({ subject: 'Quick', metadata: { sim: { ms: 50 } } });
    await store.close();
    // Port 4800 held by another server (another board, say); if something already holds it, the same.
    const blocker = createServer();
    await new Promise<void>((resolve) => {
      blocker.once('error', () => resolve());
      blocker.listen(4800, '127.0.0.1', () => resolve());
    });
    try {
      const r = await spawnCli(
        ['run', '--preset', 'sim', '--board', '--no-open', '--dir', dir, '--list', 'rb'],
        cleanEnv(),
      );
      assert.equal(r.status, 0, r.stderr);
      const port = Number(/board at http:\/\/127\.0\.0\.1:(\d+)\//.exec(r.stderr)?.[1]);
      assert.ok(port > 0 && port !== 4800, r.stderr);
    } finally {
      blocker.close();
    }
  });

  it('refuses --board-port and --no-open without --board', () => {
    const { tl } = cliIn();
    for (const flag of [['--board-port', '0'], ['--no-open']]) {
      const r = tl(['run', '--preset', 'sim', ...flag]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${flag[0]} goes with --board`));
    }
  });
});
