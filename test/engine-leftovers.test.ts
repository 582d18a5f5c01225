import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isFailed } from '../src/model/index.js';
import {
  type AgentRecord,
  alive,
  cli,
  killAll,
  makeList,
  readRecords,
  runArgs,
  startCli,
  until,
} from './engine-helpers.js';
import { cliPath } from './helpers.js';

// Nothing left behind (issue 8, observations 8 and 9): whatever way a run ends, no process an agent
// started outlives it, a setsid child holding the agent's stdout included, and no task stays
// in_progress. Every check is by pid, on real processes.

const leftovers: number[] = [];
after(() => killAll(leftovers));

/** The processes a stand-in recorded: itself and the children it started. */
function pidsOf(rec: AgentRecord): number[] {
  return [rec.pid, rec.grandchild, rec.setsidChild, rec.lingerChild].filter((p): p is number => p !== undefined);
}

async function allGone(pids: number[]): Promise<void> {
  // Polling briefly: a killed orphan is reaped by init, not by us.
  await until(`processes ${pids.join(', ')} to be gone`, () => pids.every((p) => !alive(p)), 5000).catch(() => {});
  for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} is still running`);
}

function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

describe('an agent that leaves a setsid child holding its stdout', () => {
  const ways = [
    { how: 'timeout', signal: undefined, code: 1, status: 'failed' },
    { how: 'Ctrl-C', signal: 'SIGINT', code: 130, status: 'pending' },
    { how: 'SIGTERM', signal: 'SIGTERM', code: 143, status: 'pending' },
    { how: 'SIGHUP', signal: 'SIGHUP', code: 129, status: 'pending' },
  ] as const;
  for (const way of ways) {
    it(`does not hold the run on ${way.how}: the run ends and no process of it is left`, {
      timeout: 60_000,
    }, async () => {
      const f = await makeList([
        { subject: 'Hangs with an escaped child', standin: { hang: true, setsidChild: true } },
      ]);
      const run = startCli(runArgs(f, way.signal === undefined ? ['--timeout', '1'] : []), f.env);
      const rec = await until('the agent and its setsid child', () =>
        readRecords(f.records).find((r) => r.setsidChild !== undefined),
      );
      leftovers.push(...pidsOf(rec));
      if (way.signal !== undefined) run.child.kill(way.signal);
      const exit = await run.done;
      assert.equal(exit.code, way.code, exit.stderr);
      await allGone(pidsOf(rec));
      const task = await f.store.get('1');
      assert.equal(isFailed(task) ? 'failed' : task.status, way.status);
    });
  }

  it('that exits by itself: its task completes and the child is stopped', { timeout: 60_000 }, async () => {
    const f = await makeList([{ subject: 'Leaves a daemon', standin: { ms: 50, setsidChild: true } }]);
    const exit = await cli(runArgs(f), f.env);
    const rec = readRecords(f.records)[0] as AgentRecord;
    leftovers.push(...pidsOf(rec));
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal((await f.store.get('1')).status, 'completed');
    await allGone(pidsOf(rec));
  });
});

describe('Ctrl-Z', () => {
  it('stops the agents and all they started with the run; fg resumes them', { timeout: 60_000 }, async () => {
    const f = await makeList([{ subject: 'Hangs', standin: { hang: true, grandchild: true, setsidChild: true } }]);
    const run = startCli(runArgs(f), f.env);
    const rec = await until('the agent and its children', () =>
      readRecords(f.records).find((r) => r.setsidChild !== undefined),
    );
    const pids = pidsOf(rec);
    leftovers.push(...pids);
    const runPid = run.child.pid as number;
    run.child.kill('SIGTSTP');
    await until('everything stopped', () => [runPid, ...pids].every((p) => state(p) === 'T'));
    run.child.kill('SIGCONT');
    await until('everything running again', () => [runPid, ...pids].every((p) => state(p) !== 'T'));
    run.child.kill('SIGINT');
    const exit = await run.done;
    assert.equal(exit.code, 130, exit.stderr);
    await allGone(pids);
  });
});

describe('a closed output', () => {
  it('`run 2>&1 | head -1` leaves no agent behind and no task in_progress', { timeout: 60_000 }, async () => {
    const f = await makeList([
      { subject: 'Finishes after a while', standin: { ms: 3000 } },
      { subject: 'Hangs with an escaped child', standin: { hang: true, setsidChild: true } },
      { subject: 'Hangs with a child', standin: { hang: true, grandchild: true } },
    ]);
    // The reader takes one line, then keeps the pipe open until the agents run (the file $GO
    // appears), so that the pipe closes under running agents. The shell only wires the pipe:
    // the run's words come as its arguments, never in the script.
    const go = join(f.dir, 'go');
    const script = '"$0" "$@" 2>&1 | { head -1; while [ ! -e "$GO" ]; do sleep 0.05; done; }';
    const sh = spawn('/bin/sh', ['-c', script, process.execPath, cliPath, ...runArgs(f, ['-j', '3'])], {
      cwd: f.dir,
      env: { ...process.env, NO_COLOR: '1', ...f.env, GO: go },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    sh.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const closed = new Promise((resolve) => sh.on('close', resolve));
    const hangers = await until('both hanging agents', () => {
      const recs = readRecords(f.records).filter((r) => r.id !== '1');
      return recs.length === 2 ? recs : undefined;
    });
    const pids = hangers.flatMap(pidsOf);
    leftovers.push(...pids);
    writeFileSync(go, '');
    await closed;
    assert.match(out, /^tasklane: running list "work"/);
    await allGone(pids);
    const list = await cli(['list', '--dir', f.dir, '--list', f.list, '--json'], {});
    const statuses = (JSON.parse(list.stdout).tasks as { status: string }[]).map((t) => t.status);
    assert.equal(statuses.includes('in_progress'), false, `statuses: ${statuses.join(', ')}`);
  });
});

// A tmux server of our own (its socket under TMUX_TMPDIR), killed before its directory is removed.
const tmuxDir = mkdtempSync(join(tmpdir(), 'tasklane-tmux-'));
const tmuxEnv = { TMUX_TMPDIR: tmuxDir, TMUX: '' };
after(() => {
  spawnSync('tmux', ['kill-server'], { env: { ...process.env, ...tmuxEnv }, stdio: 'ignore' });
  rmSync(tmuxDir, { recursive: true, force: true });
});

describe('--tmux', () => {
  it('finishes a task when its agent does, not after the grace period (--grace 10m)', { timeout: 60_000 }, async () => {
    // Each agent leaves a child in the pane's group, which the SIGTERM after its exit ends at once.
    const f = await makeList([
      { subject: 'Quick in tmux', standin: { lingerChild: true } },
      { subject: 'Then this', after: [0], standin: { lingerChild: true } },
    ]);
    const r = await cli(runArgs(f, ['--tmux', '--grace', '10m', '--json']), { ...f.env, ...tmuxEnv });
    assert.equal(r.code, 0, r.stderr);
    await allGone(readRecords(f.records).flatMap(pidsOf));
    assert.deepEqual(
      JSON.parse(r.stdout).tasks.map((t: { status: string }) => t.status),
      ['completed', 'completed'],
    );
  });
});
