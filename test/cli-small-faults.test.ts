import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import { cliIn, explain, type Json, type Run } from './cli-run.js';
import { cliPath, tempDir } from './helpers.js';

// Observation 13's smaller faults, each through the built CLI (or the plan parser it runs).

/** The CLI, killed if it runs past 60 s (the old code hung on these inputs), stdin from a file (such as /dev/zero) or empty. */
function tlTimed(args: string[], stdinPath?: string): Run {
  const fd = stdinPath === undefined ? 'ignore' : openSync(stdinPath, 'r');
  try {
    const r = spawnSync(process.execPath, [cliPath, ...args], {
      stdio: [fd, 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(r.signal, null, `tasklane ${args.join(' ')} was still running after 60 s`);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}

describe('small faults of observation 13', () => {
  it('a.b, "a b" and a%b do not reach task a-b: a lookup finds only the exact id', async () => {
    const { tl, dir } = cliIn();
    const store = openStore({ dir, list: 'default' });
    await store.create({ subject: 'One' });
    await store.close();
    // A task whose id is "a-b", as another program may write it.
    const listDir = join(dir, 'default');
    const task = JSON.parse(readFileSync(join(listDir, '1.json'), 'utf8'));
    const file = join(listDir, 'a-b.json');
    writeFileSync(file, JSON.stringify({ ...task, id: 'a-b', subject: 'Dashed' }, null, 2));
    const before = readFileSync(file, 'utf8');
    assert.equal(tl(['show', 'a-b', '--json']).json().task.subject, 'Dashed');
    for (const id of ['a.b', 'a b', 'a%b']) {
      const show = tl(['show', id, '--json']);
      assert.equal(show.status, 1, explain(show));
      assert.equal(show.json().error.code, 'NOT_FOUND', `show ${id}`);
      const update = tl(['update', id, '--subject', 'Overwritten']);
      assert.equal(update.status, 1, explain(update));
      assert.match(update.stderr, /no task/);
    }
    assert.equal(readFileSync(file, 'utf8'), before, 'a-b.json is untouched');
  });

  it('a description, result or plan read from /dev/zero is refused at the limit, naming the file', () => {
    const dir = tempDir();
    for (const args of [
      ['create', 'x', '--description-file', '/dev/zero'],
      ['create', 'x', '--description-file', '/dev/zero', '--json'],
      ['done', '1', '--result-file', '/dev/zero'],
      ['plan', '/dev/zero'],
    ]) {
      const r = tlTimed(['--dir', dir, ...args]);
      assert.equal(r.status, 1, explain(r));
      assert.match(
        args.includes('--json') ? r.json().error.message : r.stderr,
        /\/dev\/zero: the \w+ is over the limit/,
      );
    }
    for (const args of [
      ['create', 'x', '--description-file', '-'],
      ['plan', '-'],
    ]) {
      const r = tlTimed(['--dir', dir, ...args], '/dev/zero');
      assert.equal(r.status, 1, explain(r));
      assert.match(r.stderr, /stdin: the \w+ is over the limit/);
    }
    const big = join(tempDir(), 'big.txt');
    writeFileSync(big, 'x'.repeat(2 * 1024 * 1024));
    const r = tlTimed(['--dir', dir, 'create', 'x', '--description-file', big, '--json']);
    assert.equal(r.json().error.code, 'INVALID_INPUT');
    assert.equal(r.json().error.field, 'description');
    assert.match(r.json().error.message, /big\.txt: the description is 2\.0 MiB; the limit is 1\.0 MiB/);
  });

  it('a plan nested thousands of levels deep, or a YAML alias bomb, is refused naming the file', () => {
    const { tl } = cliIn();
    const dir = tempDir();
    const deep = 20_000;
    const cases: [string, string, RegExp][] = [
      [
        'deep.json',
        `{"tasks":[{"key":"a","subject":"a","metadata":{"x":${'['.repeat(deep)}${']'.repeat(deep)}}}]}`,
        /deep\.json: .*nests more than \d+ levels deep/,
      ],
      [
        'deep.yaml',
        `tasks:\n  - key: a\n    subject: a\n    metadata:\n      x: ${'['.repeat(deep)}${']'.repeat(deep)}\n`,
        /deep\.yaml:\d+: not valid YAML: nested too deeply/,
      ],
      [
        'bomb.yaml',
        [
          'a: &a [x, x, x, x, x, x, x, x, x]',
          ...'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(', ')}]`),
          'tasks:',
          '  - key: a',
          '    subject: *j',
        ].join('\n'),
        /bomb\.yaml: .*aliases expand too far/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const r = tl(['plan', file, '--dry-run', '--json']);
      assert.equal(r.status, 1, explain(r));
      const error: Json = r.json().error;
      assert.equal(error.code, 'INVALID_INPUT', `${name}: ${error.message}`);
      assert.match(error.message, message);
      assert.equal(error.file, file);
    }
  });

  it('a markdown plan with "after #1 and #1 and ... !" and hundreds of references is read in linear time', () => {
    // 28 references took over a minute before; these would never finish. The subjects stay under
    // 1,000 characters, so the plan is valid.
    const refs = Array(130).fill('#1').join(' and ');
    const commas = Array(300).fill('#1').join(',');
    const blanks = ' '.repeat(200_000);
    const file = join(tempDir(), 'plan.md');
    writeFileSync(
      file,
      [
        '- First',
        `- x after ${refs} !`,
        `- y after ${commas} !`,
        `- z after ${refs}`,
        // Other lines that were quadratic: runs of blanks before a trailing label or the end.
        `- w after #1${blanks}#a!`,
        `- v${blanks}z!`,
      ].join('\n'),
    );
    const r = tlTimed(['--dir', tempDir(), 'plan', file, '--dry-run', '--json']);
    assert.equal(r.status, 0, explain(r));
    const tasks: Json[] = r.json().plan.tasks;
    assert.deepEqual(
      tasks.map((t) => t.subject),
      ['First', `x after ${refs} !`, `y after ${commas} !`, 'z', 'w after #1 #a!', 'v z!'],
    );
    assert.deepEqual(tasks[3].after, [tasks[0].key]);
    // Many "after"s: refused for the subject's length, but answered.
    const afters = join(tempDir(), 'afters.md');
    writeFileSync(afters, `- z ${'after '.repeat(100_000)}\n`);
    const many = tlTimed(['--dir', tempDir(), 'plan', afters, '--dry-run']);
    assert.equal(many.status, 1, explain(many));
    assert.match(many.stderr, /subject is \d+ characters/);
  });

  it('list --json says how many completed tasks it left out', async () => {
    const { tl, dir } = cliIn();
    const store = openStore({ dir, list: 'default' });
    await store.create({ subject: 'Open' });
    const done = await store.create({ subject: 'Done' });
    await store.complete(done.id, {});
    await store.close();
    const open = tl(['list', '--json']).json();
    assert.deepEqual(
      open.tasks.map((t: Json) => t.id),
      ['1'],
    );
    assert.equal(open.hiddenCompleted, 1);
    const all = tl(['list', '--all', '--json']).json();
    assert.equal(all.tasks.length, 2);
    assert.equal(all.hiddenCompleted, 0);
  });
});
