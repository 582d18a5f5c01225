import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTasklaneError, listDirName, type Task } from '../src/model/index.js';
import { lock, lockDirFor } from '../src/store/file/lock.js';
import { openStore } from '../src/store/open.js';
import { cleanEnv, type SpawnedRun, spawnCli } from './cli-run.js';
import { type Fixture, start } from './fixtures/store/procs.js';
import { tempDir } from './helpers.js';

// Issue 7, observation 1: a lock holder that is paused (SIGSTOP, Ctrl-Z, a stalled fsync) for
// longer than the 10 s staleness age must not be overtaken by another Tasklane process, and a
// write whose lock was taken over anyway (by Claude Code, which judges every lock by age) must
// not land. Real processes throughout; the test stops and continues them.

const LIST = 'paused';

/** Makes a lock directory look `seconds` old, as if its holder had been paused that long. */
function age(path: string, seconds: number): void {
  const then = new Date(Date.now() - seconds * 1000);
  utimesSync(path, then, then);
}

async function listWithOneTask(): Promise<{ dir: string; listDir: string; file: string }> {
  const dir = tempDir();
  const store = openStore({ dir, list: LIST });
  await store.create({ subject: 'the task' });
  const listDir = join(dir, listDirName(LIST));
  return { dir, listDir, file: join(listDir, '1.json') };
}

function readTask(file: string): Task {
  return JSON.parse(readFileSync(file, 'utf8')) as Task;
}

/** A writer (fixture paused-writer) that stops itself with SIGSTOP inside its critical section. */
async function pausedWriter(dir: string, mode: 'update' | 'claim', name: string): Promise<Fixture> {
  const writer = start('paused-writer', [dir, LIST, '1', mode, name, 'yes']);
  await writer.line((l) => l === 'paused');
  // It says `paused` just before it stops itself: wait until it has, or a SIGCONT could come first.
  while (!isStopped(writer.pid)) await sleep(10);
  return writer;
}

/** Whether a process is stopped by a signal (state T in /proc/PID/stat). */
function isStopped(pid: number): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
}

/** A second writer of the same task, started now; it reports when done. */
async function rival(dir: string, mode: 'update' | 'claim', name: string): Promise<Fixture> {
  const writer = start('paused-writer', [dir, LIST, '1', mode, name, 'no']);
  await writer.line((l) => l === 'ready');
  writer.send('go');
  return writer;
}

/** The report line of a writer fixture: `applied ...`, `claimed ...` or `refused CODE ...`. */
async function outcome(f: Fixture): Promise<string> {
  return f.line((l) => /^(applied|claimed|refused|fatal) /.test(l));
}

function cli(args: string[], env: NodeJS.ProcessEnv, prefix: string[] = []): Promise<SpawnedRun> {
  return spawnCli(args, env, { prefix });
}

const hasStrace = spawnSync('strace', ['-V']).status === 0;

describe('locks: a paused holder keeps its lock', () => {
  it('a compare-and-swap update stopped (SIGSTOP) for over 10 s mid-write is not overtaken: exactly one of two updates at the same revision is acknowledged', async () => {
    const { dir, file } = await listWithOneTask();
    const a = await pausedWriter(dir, 'update', 'A');
    await sleep(11_000); // past the 10 s staleness age, in real time: A's lock directory is not refreshed
    const b = await rival(dir, 'update', 'B');
    await sleep(1_500); // B is now waiting for the lock (before the fix it took it over at once)
    a.child.kill('SIGCONT');
    const [ra, rb] = [await outcome(a), await outcome(b)];
    assert.equal(ra, 'applied 2', `A, the holder, commits: ${ra}`);
    assert.match(rb, /^refused CONFLICT /, `B sees A's write and refuses: ${rb}`);
    assert.equal(readTask(file).metadata?.who, 'A');
  });

  it('a claim stopped (SIGSTOP) mid-write while its lock ages past 10 s is not overtaken: never two owners', async () => {
    const { dir, file } = await listWithOneTask();
    const a = await pausedWriter(dir, 'claim', 'alice');
    age(lockDirFor(file), 20); // as if alice had been stopped for 20 s
    const b = await rival(dir, 'claim', 'bob');
    await sleep(1_500);
    a.child.kill('SIGCONT');
    const outcomes = [await outcome(a), await outcome(b)];
    assert.deepEqual(
      outcomes.filter((o) => o.startsWith('claimed ')),
      ['claimed alice'],
      `one owner: ${outcomes.join(' | ')}`,
    );
    assert.match(outcomes[1] as string, /^refused NOT_CLAIMABLE /);
    assert.equal(readTask(file).owner, 'alice');
  });

  it("the issue's delayed fsync: update --if-rev 1 stalled 16 s in fdatasync, the same update 12 s in: exactly one succeeds", {
    skip: hasStrace ? false : 'strace is not installed',
  }, async () => {
    const { dir, file } = await listWithOneTask();
    const env = cleanEnv();
    const update = (who: string) => [
      '--dir',
      dir,
      '--list',
      LIST,
      'update',
      '1',
      '--meta',
      `who=${who}`,
      '--if-rev',
      '1',
    ];
    const strace = ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'inject=fdatasync:delay_exit=16000000:when=1'];
    const first = cli(update('A'), env, strace);
    await sleep(12_000);
    const second = cli(update('B'), env);
    const [ra, rb] = await Promise.all([first, second]);
    const ok = [ra, rb].filter((r) => r.status === 0);
    assert.equal(ok.length, 1, `exactly one acknowledged:\nA: ${ra.status} ${ra.stderr}\nB: ${rb.status} ${rb.stderr}`);
    const loser = ra.status === 0 ? rb : ra;
    assert.ok(
      loser.status === 4 || /LOCK_TIMEOUT|locked by|held by/.test(loser.stderr),
      `the other gets CONFLICT (or a lock timeout naming the holder): ${loser.status} ${loser.stderr}`,
    );
    assert.equal(readTask(file).metadata?.who, ra.status === 0 ? 'A' : 'B', 'the file holds the acknowledged write');
  });

  it("a write whose lock Claude Code took over by age never lands: CONFLICT, and Claude Code's change stays", async () => {
    const { dir, file } = await listWithOneTask();
    const a = await pausedWriter(dir, 'update', 'A');
    // Claude Code (proper-lockfile) sees a lock older than 10 s: removes it with rmdir, takes it,
    // rewrites the task in place (its rev unchanged), and releases.
    const lockDir = lockDirFor(file);
    age(lockDir, 20);
    rmdirSync(lockDir);
    mkdirSync(lockDir);
    writeFileSync(file, JSON.stringify({ ...readTask(file), subject: 'edited by Claude Code' }, null, 2));
    rmdirSync(lockDir);
    a.child.kill('SIGCONT');
    assert.match(await outcome(a), /^refused CONFLICT /);
    const after = readTask(file);
    assert.equal(after.subject, 'edited by Claude Code');
    assert.equal(after.metadata?.who, undefined, "A's write did not land");
  });

  it("a waiter that cannot get a live holder's lock fails with LOCK_TIMEOUT naming the holder, however old the lock looks", async () => {
    const { file } = await listWithOneTask();
    const holder = start('lock-holder', [file]);
    await holder.line((l) => l === 'locked');
    age(lockDirFor(file), 60);
    await assert.rejects(lock(file, { timeoutMs: 300, what: 'task 1' }), (err: unknown) => {
      assert.ok(isTasklaneError(err, 'LOCK_TIMEOUT'), String(err));
      assert.match(err.message, new RegExp(`pid ${holder.pid}\\b`));
      assert.ok(err.message.includes(hostname()), err.message);
      return true;
    });
    holder.child.kill('SIGKILL');
    await holder.exit;
  });

  it('Claude Code can still take a stale lock of ours with rmdir: the lock directory holds nothing', async () => {
    const { file } = await listWithOneTask();
    const holder = start('lock-holder', [file]);
    await holder.line((l) => l === 'locked');
    const lockDir = lockDirFor(file);
    assert.deepEqual(readdirSync(lockDir), [], 'the holder record is not inside the lock directory');
    age(lockDir, 20);
    rmdirSync(lockDir); // proper-lockfile's stale removal
    holder.child.kill('SIGKILL');
    await holder.exit;
  });

  it("a dead holder's lock is taken over at once, not after 10 s", async () => {
    const { dir, file } = await listWithOneTask();
    const holder = start('lock-holder', [file]);
    await holder.line((l) => l === 'locked');
    holder.child.kill('SIGKILL');
    await holder.exit;
    // A timeout shorter than the staleness age: only a takeover judged by liveness can succeed.
    const handle = await lock(file, { timeoutMs: 2_000, what: 'task 1' });
    handle.release();

    const again = start('lock-holder', [file]);
    await again.line((l) => l === 'locked');
    again.child.kill('SIGKILL');
    await again.exit;
    const r = await cli(['--dir', dir, '--list', LIST, 'update', '1', '--subject', 'after a crash'], cleanEnv());
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readTask(file).subject, 'after a crash');
    assert.deepEqual(
      readdirSync(join(dir, listDirName(LIST))).filter((n) => n.includes('.lock') && n !== '.lock'),
      [],
      'no lock debris is left',
    );
  });
});
