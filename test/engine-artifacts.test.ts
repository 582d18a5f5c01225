import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Aggregate } from '../src/engine/aggregate.js';
import { TaskLog } from '../src/engine/log-file.js';
import { tasklaneFields } from '../src/model/index.js';
import { cli, makeList, readRecords, runArgs } from './engine-helpers.js';
import { tempDir } from './helpers.js';

// A run's artifacts (issue 8, build 7): task logs capped and rotated, the last run's aggregate
// kept and printed again by `tasklane results`, and plan parents completing by themselves.
// Real runs of the built CLI with the stand-in agent.

const KiB = 1024;
const MiB = 1024 * 1024;

// A tmux server of our own (its socket under TMUX_TMPDIR), killed before its directory is removed.
const tmuxDir = mkdtempSync(join(tmpdir(), 'tasklane-tmux-'));
const tmuxEnv = { TMUX_TMPDIR: tmuxDir, TMUX: '' };
after(() => {
  spawnSync('tmux', ['kill-server'], { env: { ...process.env, ...tmuxEnv }, stdio: 'ignore' });
  rmSync(tmuxDir, { recursive: true, force: true });
});

/** The log and its rotated file: each under the cap, the tail kept. */
function assertCapped(log: string, cap: number, lastLine: string): void {
  const size = statSync(log).size;
  const rotated = statSync(`${log}.1`).size;
  assert.ok(size <= cap, `the log holds ${size} bytes, over the cap of ${cap}`);
  assert.ok(rotated <= cap, `the rotated log holds ${rotated} bytes, over the cap of ${cap}`);
  // The rotated file was filled up to its last whole line (the stand-in's lines are 121 bytes).
  assert.ok(size > 0 && rotated > cap - 121, `both files are in use, the rotated one full (${size}, ${rotated})`);
  assert.ok(!existsSync(`${log}.2`), 'one rotated file, no more');
  const text = readFileSync(log, 'utf8');
  assert.ok(text.endsWith(`${lastLine}\n`), `the tail is kept: ${JSON.stringify(text.slice(-200))}`);
  assert.match(
    text,
    new RegExp(`^--- tasklane: log rotated at ${cap} bytes; the output before this line is in \\d+\\.log\\.1`),
  );
}

describe('task logs', () => {
  it('TaskLog fills a log to its last whole line under the cap, rotates, and keeps the end of a write larger than both files', () => {
    const dir = tempDir();
    const cap = 4096;
    const path = join(dir, '7.log');
    const log = new TaskLog(path, cap);
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) lines.push(`line ${String(i).padStart(4, '0')} ${'y'.repeat(i % 50)}\n`);
    // Chunks that cut lines anywhere, as a pipe delivers them.
    const all = Buffer.from(lines.join(''));
    for (let at = 0; at < all.length; at += 777) log.write(all.subarray(at, at + 777));
    const text = readFileSync(path, 'utf8');
    const older = readFileSync(`${path}.1`, 'utf8');
    assert.ok(statSync(path).size <= cap && statSync(`${path}.1`).size <= cap);
    assert.ok(older.endsWith('\n') && statSync(`${path}.1`).size > cap - 60, 'the rotated file is full, to a line end');
    assert.ok(text.endsWith(lines[499] as string), 'the newest line is at the end');
    // Nothing is lost between the two files: they hold the end of what was written, in order.
    const body = (s: string): string => s.replace(/^--- tasklane: log rotated .*\n/, '');
    const kept = body(older) + body(text);
    assert.ok(all.toString().endsWith(kept), 'the two files hold the end of the output, in order');

    log.write(Buffer.alloc(10 * cap, 'z')); // one line far longer than the cap
    assert.ok(statSync(path).size <= cap && statSync(`${path}.1`).size <= cap);
    assert.match(readFileSync(path, 'utf8'), /^--- tasklane: log rotated .*\nz+$/);
    log.write('last\n');
    log.close();
    assert.ok(readFileSync(path, 'utf8').endsWith('last\n'));
    assert.ok(!existsSync(`${path}.2`));

    // A log already over the cap (a smaller --log-max than last time) rotates at its first write.
    const big = join(dir, '8.log');
    writeFileSync(big, 'x'.repeat(3 * cap));
    const again = new TaskLog(big, cap);
    again.write('new\n');
    again.close();
    assert.equal(statSync(`${big}.1`).size, 3 * cap);
    assert.match(readFileSync(big, 'utf8'), /^--- tasklane: log rotated at 4096 bytes; .*\nnew\n$/);
  });

  it('an agent printing far past --log-max leaves a log and one rotated file, each under the cap, ending with its last line; the run reports as usual', async () => {
    const cap = 64 * KiB;
    const f = await makeList([
      // Attempt 1 floods and fails (its stderr line must still be the failure reason); attempt 2 floods and completes.
      { subject: 'Runaway', standin: { flood: { stdout: 3 * MiB, stderr: 1 * MiB }, failAttempts: 1 } },
      { subject: 'After it', after: [0] },
    ]);
    const r = await cli(
      runArgs(f, ['--log-max', '64K', '--retries', '1', '--retry-delay', '0.05', '--json']),
      f.env,
      tempDir(),
    );
    assert.equal(r.code, 0, `run failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as Aggregate;
    const [a, b] = f.ids as [string, string];
    assert.equal(out.ok, true);
    assert.deepEqual(
      out.tasks.map((t) => [t.id, t.status, t.attempts]),
      [
        [a, 'completed', 2],
        [b, 'completed', 1],
      ],
    );
    assert.equal(out.tasks[0]?.result, `result of #${a}`);
    assert.equal(readRecords(f.records).filter((x) => x.id === a).length, 2, 'the runaway ran twice');
    const failures = tasklaneFields(await f.store.get(a)).failures ?? [];
    assert.equal(failures[0]?.reason, 'exit 1: standin failure on attempt 1', 'the failure reason survives the flood');

    const log = out.tasks[0]?.log as string;
    assert.ok(log.endsWith(`${a}.log`), log);
    assertCapped(log, cap, `flood done by #${a}`);
  });

  it('with --tmux the pane program caps and rotates the log the same way', async () => {
    const cap = 64 * KiB;
    const f = await makeList([
      { subject: 'Runaway in a pane', standin: { flood: { stdout: 2 * MiB, stderr: 1 * MiB } } },
    ]);
    const r = await cli(runArgs(f, ['--tmux', '--log-max', '64K', '--json']), { ...f.env, ...tmuxEnv }, tempDir());
    assert.equal(r.code, 0, `run failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as Aggregate;
    const a = f.ids[0] as string;
    assert.equal(out.tasks[0]?.status, 'completed');
    assert.equal(out.tasks[0]?.result, `result of #${a}`);
    assertCapped(out.tasks[0]?.log as string, cap, `flood done by #${a}`);
  });

  it('--log-max below 4K or not a size is a usage error that runs nothing', async () => {
    const f = await makeList([{ subject: 'Never run' }]);
    for (const bad of ['1K', 'lots', '8X', '-1M']) {
      const r = await cli(runArgs(f, [`--log-max=${bad}`]), f.env, tempDir());
      assert.equal(r.code, 2, `--log-max ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--log-max must be a size of at least 4K/);
    }
    assert.equal(readRecords(f.records).length, 0);
  });
});

describe('tasklane results', () => {
  it("prints the last run's aggregate again, as the run printed it (markdown, --json), with its exit status", async () => {
    const f = await makeList([
      { subject: 'Works', standin: { result: 'the first result' } },
      { subject: 'Breaks', standin: { exit: 7 } },
      { subject: 'Waits on the broken one', after: [1] },
    ]);
    const work = tempDir();
    const where = ['--dir', f.dir, '--list', f.list];
    const run = await cli(runArgs(f), f.env, work);
    assert.equal(run.code, 1, `the run fails (a task failed): ${run.stderr}`);
    assert.match(run.stdout, /^# Tasklane run: 1 of 3 tasks completed, 1 failed, 1 blocked by a failure/);

    const again = await cli(['results', ...where], f.env, work);
    assert.equal(again.code, 1, 'the same exit status as the run');
    assert.equal(again.stdout, run.stdout, 'the same markdown as the run printed');
    assert.match(again.stderr, /^tasklane: the last run of list "work", ended \d{4}-\d\d-\d\dT/);

    const json = await cli(['results', '--json', ...where], f.env, work);
    assert.equal(json.code, 1);
    const a = JSON.parse(json.stdout) as Aggregate;
    assert.equal(a.list, 'work');
    assert.equal(a.ok, false);
    assert.deepEqual(
      a.tasks.map((t) => t.status),
      ['completed', 'failed', 'blocked'],
    );
    assert.equal(a.tasks[0]?.result, 'the first result');
    assert.equal(a.counts.total, 3);
    // show says how long a completed task took, in the one duration format.
    const shown = await cli(['show', f.ids[0] as string, ...where], f.env, work);
    assert.match(shown.stdout, /\n {2}took +\d+(\.\d)? (ms|s)\n/);

    // The next run replaces it: the failed task is retried and passes this time.
    await f.store.update(f.ids[1] as string, { metadata: { standin: {} } });
    const second = await cli(runArgs(f, ['--retry-failed', '--json']), f.env, work);
    assert.equal(second.code, 0, second.stderr);
    const latest = await cli(['results', '--json', ...where], f.env, work);
    assert.equal(latest.code, 0);
    assert.equal(latest.stdout, second.stdout, 'the JSON the latest run printed');
  });

  it('says plainly when the list has no recorded run, and names a file that is not one', async () => {
    const f = await makeList([{ subject: 'Never run' }]);
    const where = ['--dir', f.dir, '--list', f.list];
    const none = await cli(['results', ...where], f.env, tempDir());
    assert.equal(none.code, 1);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /no run of list "work" has been recorded \(.*last-run\.json does not exist\)/);

    const path = join(f.dir, '.tasklane', 'work', 'last-run.json');
    assert.equal(path, join(f.store.artifactsDir, 'last-run.json'), 'the file is in the list artifacts');
    writeFileSync(path, '{"version": 1, "savedAt": "x"}');
    const bad = await cli(['results', ...where], f.env, tempDir());
    assert.equal(bad.code, 1);
    assert.ok(bad.stderr.includes(`${path} is not a saved run result`), bad.stderr);
  });
});

describe('plan parents', () => {
  const plan = (tasks: object[]): string => JSON.stringify({ tasks });

  it('a parent completes by itself when its subtasks do: no agent, the store transition, a result that says so and carries theirs on', async () => {
    const f = await makeList([]);
    const work = tempDir();
    writeFileSync(
      join(work, 'plan.json'),
      plan([
        { key: 'api', subject: 'Build the API' },
        { key: 'notes', subject: 'Notes endpoints', parent: 'api', metadata: { standin: { result: 'notes done' } } },
        { key: 'auth', subject: 'Login and sessions', parent: 'api', metadata: { standin: { result: 'auth done' } } },
        { key: 'client', subject: 'Build the client', after: ['api'] },
      ]),
    );
    const r = await cli(runArgs(f, ['plan.json', '--json']), f.env, work);
    assert.equal(r.code, 0, `run failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as Aggregate;
    const tasks = await f.store.list();
    const idOf = (subject: string): string => tasks.find((t) => t.subject === subject)?.id as string;
    const [api, notes, auth, client] = [
      'Build the API',
      'Notes endpoints',
      'Login and sessions',
      'Build the client',
    ].map(idOf) as [string, string, string, string];

    const records = readRecords(f.records);
    assert.deepEqual(
      records.map((x) => x.id).sort(),
      [notes, auth, client].sort(),
      'agents ran the three, never the parent',
    );

    const parent = await f.store.get(api);
    const fields = tasklaneFields(parent);
    assert.equal(parent.status, 'completed');
    assert.match(parent.owner ?? '', /^run:/, 'completed by the run that claimed it');
    assert.equal(fields.attempts, 1, 'claimed once, as any task');
    assert.ok(fields.startedAt !== undefined && fields.completedAt !== undefined, 'claimed, then completed');
    assert.match(
      fields.result ?? '',
      /^Completed by itself when all 2 tasks it waited for .*: #\d+, #\d+\. No agent ran\./,
    );
    assert.match(fields.result ?? '', /notes done[\s\S]*auth done|auth done[\s\S]*notes done/);

    const row = out.tasks.find((t) => t.id === api);
    assert.equal(row?.status, 'completed');
    assert.equal(row?.completedBy, 'subtasks');
    assert.equal(out.tasks.find((t) => t.id === notes)?.completedBy, undefined);
    assert.equal(out.ok, true);

    // What waits for the parent sees its subtasks' results through it.
    const dependent = records.find((x) => x.id === client);
    assert.ok(dependent?.prompt.includes('notes done') && dependent.prompt.includes('auth done'), dependent?.prompt);

    // The markdown says so too, and `results` prints it again.
    const md = await cli(['results', '--dir', f.dir, '--list', f.list], f.env, work);
    assert.match(md.stdout, new RegExp(`\\| ${api} \\| Build the API \\| completed by its subtasks \\|`));
  });

  it("a parent's own check still runs when its subtasks complete: a failing one fails the parent, with no agent run", async () => {
    const f = await makeList([]);
    const work = tempDir();
    writeFileSync(
      join(work, 'plan.json'),
      plan([
        {
          key: 'api',
          subject: 'Build the API',
          verify: 'test -f api-ready || { echo "api-ready is missing"; exit 4; }',
        },
        { key: 'notes', subject: 'Notes endpoints', parent: 'api' },
      ]),
    );
    const r = await cli(runArgs(f, ['plan.json', '--json']), f.env, work);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as Aggregate;
    const row = out.tasks.find((t) => t.subject === 'Build the API');
    assert.equal(row?.status, 'failed');
    assert.match(row?.failure ?? '', /^the check `test -f api-ready .*` failed: exit 4: api-ready is missing/);
    assert.equal(readRecords(f.records).filter((x) => x.id === row?.id).length, 0, 'no agent ran for the parent');
  });

  it('a parent whose subtask fails is not completed: it is blocked, and never handed to an agent', async () => {
    const f = await makeList([]);
    const work = tempDir();
    writeFileSync(
      join(work, 'plan.json'),
      plan([
        { key: 'api', subject: 'Build the API' },
        { key: 'notes', subject: 'Notes endpoints', parent: 'api' },
        { key: 'auth', subject: 'Login and sessions', parent: 'api', metadata: { standin: { exit: 3 } } },
      ]),
    );
    const r = await cli(runArgs(f, ['plan.json', '--json']), f.env, work);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as Aggregate;
    const row = out.tasks.find((t) => t.subject === 'Build the API');
    assert.equal(row?.status, 'blocked');
    assert.equal(row?.completedBy, undefined);
    assert.equal(readRecords(f.records).filter((x) => x.id === row?.id).length, 0);
    assert.equal((await f.store.get(row?.id as string)).status, 'pending');
  });
});
