import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  checkStoredTask,
  isTasklaneError,
  LIMITS,
  MAX_TIMER_MS,
  type Task,
  timerDelay,
  tooDeep,
  withTasklaneFields,
} from '../src/model/index.js';
import { cleanEnv, cliIn, explain } from './cli-run.js';
import { cliPath } from './helpers.js';

// Issue 7, observations 7 and 8 (limits): a task file nested 20,000 levels deep, metadata that
// grows past its limit through repeated patches, a failure history that grows without bound, and
// durations past what Node's timers hold.

function nested(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

function listWithDeepTask() {
  const { dir, tl } = cliIn();
  const l = (args: string[]) => tl(['--list', 'L', ...args]);
  assert.equal(l(['create', 'plain']).status, 0);
  assert.equal(l(['create', 'deep']).status, 0);
  // Another program rewrites task 2 with metadata nested 20,000 levels deep.
  const file = join(dir, 'L', '2.json');
  const text = readFileSync(file, 'utf8').replace('"metadata": {', `"metadata": {"deep": ${nested(20_000)},`);
  writeFileSync(file, text);
  return { l, file, dir };
}

describe('a task file nested 20,000 levels deep (observation 7)', () => {
  it('show refuses it as INVALID_TASK naming the file, without crashing', () => {
    const { l, file } = listWithDeepTask();
    const r = l(['show', '2', '--json']);
    assert.equal(r.status, 1, explain(r));
    const error = r.json().error;
    assert.equal(error.code, 'INVALID_TASK');
    assert.equal(error.file, file);
    assert.match(error.message, /nests more than 100 levels/);
    assert.doesNotMatch(r.stderr, /this is a bug/);
  });

  it('list --json skips it with a warning naming the file and lists the rest', () => {
    const { l, file } = listWithDeepTask();
    const r = l(['list', '--json']);
    assert.equal(r.status, 0, explain(r));
    assert.deepEqual(
      r.json().tasks.map((t: { id: string }) => t.id),
      ['1'],
    );
    assert.match(r.stderr, new RegExp(`warning: skipping ${file}: metadata nests more than 100 levels`));
  });

  it('claim skips it and takes the other ready task', () => {
    const { l } = listWithDeepTask();
    const r = l(['claim', '--owner', 'w', '--json']);
    assert.equal(r.status, 0, explain(r));
    assert.equal(r.json().task.id, '1');
    assert.doesNotMatch(r.stderr, /this is a bug/);
  });

  it('watch --initial skips it with a warning and follows the rest', async () => {
    const { dir } = listWithDeepTask();
    const child = spawn(process.execPath, [cliPath, '--dir', dir, '--list', 'L', 'watch', '--initial', '--json'], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
        if (stdout.includes('\n')) resolve();
      });
      child.on('close', () => resolve());
    });
    child.kill('SIGTERM');
    await exited;
    assert.equal(JSON.parse(stdout.split('\n')[0] as string).taskId, '1', stderr);
    assert.match(stderr, /skipping .*2\.json: metadata nests more than 100 levels/);
    assert.doesNotMatch(stderr, /this is a bug|Maximum call stack/);
  });

  it('doctor names it as an invalid file', () => {
    const { l, file } = listWithDeepTask();
    const r = l(['doctor', '--json']);
    assert.equal(r.status, 1, explain(r));
    assert.deepEqual(
      r.json().problems.map((p: { kind: string; file?: string }) => [p.kind, p.file]),
      [['invalid-file', file]],
    );
  });

  it('create and update refuse metadata nested past the limit, naming the key', () => {
    const { tl } = cliIn();
    const r = tl(['create', 'x', '--meta', `k=${nested(20_000)}`, '--json']);
    assert.equal(r.status, 1, explain(r));
    assert.equal(r.json().error.code, 'INVALID_INPUT');
    assert.equal(r.json().error.field, 'metadata.k');
    assert.equal(tl(['create', 'x']).status, 0);
    const u = tl(['update', '1', '--meta', `k=${nested(LIMITS.nestingDepth)}`, '--json']);
    assert.equal(u.status, 1, explain(u));
    assert.equal(u.json().error.field, 'metadata.k');
    assert.equal(tl(['update', '1', '--meta', `k=${nested(LIMITS.nestingDepth - 2)}`]).status, 0, 'within the limit');
  });
});

describe('sizes that grow by repetition (observation 8)', () => {
  it('repeated metadata patches cannot grow a task past the metadata limit', () => {
    const { tl } = cliIn();
    assert.equal(tl(['create', 'x']).status, 0);
    const chunk = 'x'.repeat(100 * 1024); // each patch is within the limit
    assert.equal(tl(['update', '1', '--meta', `a=${chunk}`]).status, 0);
    assert.equal(tl(['update', '1', '--meta', `b=${chunk}`]).status, 0);
    const r = tl(['update', '1', '--meta', `c=${chunk}`, '--json']);
    assert.equal(r.status, 1, explain(r));
    assert.equal(r.json().error.code, 'INVALID_INPUT');
    assert.match(
      r.json().error.message,
      /metadata of task 1 would be 300\.0 KiB after this change; the limit is 256\.0 KiB/,
    );
    assert.equal(tl(['update', '1', '--meta', 'a=null', '--meta', `c=${chunk}`]).status, 0, 'room made first');
  });

  it('a task whose failure history grows past the stored limit is refused, naming the history', () => {
    const failures = Array.from({ length: 9 }, (_, i) => ({
      reason: 'r'.repeat(1024 * 1024 - 10),
      at: '2026-01-01T00:00:00.000Z',
      attempt: i + 1,
    }));
    const task: Task = { id: '4', subject: 's', description: '', status: 'pending', blocks: [], blockedBy: [] };
    assert.throws(
      () => checkStoredTask(withTasklaneFields(task, { failures })),
      (err: unknown) =>
        isTasklaneError(err, 'INVALID_INPUT') &&
        /task 4 would be 9\.0 MiB stored.*failure history 9\.0 MiB/.test(err.message),
    );
    checkStoredTask(withTasklaneFields(task, { failures: failures.slice(0, 7) }));
  });
});

describe('durations past what a timer holds (observation 8)', () => {
  it('run, plan and claim refuse durations past 24 days with a clear error', () => {
    const { tl } = cliIn();
    assert.equal(tl(['create', 'x']).status, 0);
    for (const args of [
      ['run', '--timeout', '9999999', '--sim-if-missing'],
      ['run', '--lease', '600h', '--sim-if-missing'],
      ['claim', '--owner', 'w', '--lease', '600h'],
    ]) {
      const r = tl([...args, '--json']);
      assert.equal(r.status, 2, `${args.join(' ')}: ${explain(r)}`);
      assert.match(
        r.json().error.message,
        /is longer than the longest duration, 24 days \(2073600 s\)/,
        args.join(' '),
      );
    }
    const show = tl(['show', '1', '--json']);
    assert.equal(show.json().task.status, 'pending', 'nothing was claimed or run');
  });

  it('a refusal just past a limit says so exactly, not "24 days; the limit is 24 days"', () => {
    const { tl, dir } = cliIn();
    const estimate = tl(['create', 'x', '--estimate', '2073601', '--json']);
    assert.equal(estimate.status, 2, explain(estimate));
    assert.match(estimate.json().error.message, /^--estimate 2073601 is longer than the longest duration, 24 days/);
    const file = join(dir, 'big.txt');
    writeFileSync(file, 'x'.repeat(1024 * 1024 + 1));
    const big = tl(['create', 'x', '--description-file', file, '--json']);
    assert.equal(big.status, 1, explain(big));
    assert.match(big.json().error.message, /is 1048577 bytes; the limit is 1048576 bytes \(1\.0 MiB\)/);
    // Characters as people count them: 600 emoji are 600 characters (1,200 UTF-16 units).
    const emoji = tl(['create', '😀'.repeat(600), '--json']);
    assert.equal(emoji.status, 0, explain(emoji));
    const long = tl(['create', '😀'.repeat(1001), '--json']);
    assert.equal(long.status, 1, explain(long));
    assert.match(long.json().error.message, /subject is 1001 characters; the limit is 1000/);
  });

  it('timerDelay clamps what a Node timer cannot hold', () => {
    assert.equal(timerDelay(9_999_999_000), MAX_TIMER_MS);
    assert.equal(timerDelay(Number.POSITIVE_INFINITY), MAX_TIMER_MS);
    assert.equal(timerDelay(0), 1);
    assert.equal(timerDelay(1500.2), 1501);
  });

  it('tooDeep looks iteratively and names the top-level key', () => {
    assert.equal(tooDeep({ a: 1, b: JSON.parse(nested(200_000)) }, 100), 'b');
    assert.equal(tooDeep({ a: JSON.parse(nested(99)) }, 100), undefined); // 100 levels with the root object
    assert.equal(tooDeep({ a: JSON.parse(nested(100)) }, 100), 'a');
    assert.equal(tooDeep('text', 0), undefined);
  });
});
