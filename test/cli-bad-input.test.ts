import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import { cleanEnv, cliIn, explain, type Json, type Run, run, snapshot } from './cli-run.js';
import { cliPath, tempDir } from './helpers.js';

// Issue 2's bad-input acceptance, through the built CLI: each bad input gets a clear message
// naming the culprit, a non-zero exit, and no change to anything else on disk.

/** A list with three good tasks (2 blocked by 1, 3 blocked by 2), as the background for each case. */
async function listWithTasks(): Promise<ReturnType<typeof cliIn> & { listDir: string }> {
  const c = cliIn();
  // Set up through the store in-process (quicker than three CLI runs); the command under test runs as a process.
  const store = openStore({ dir: c.dir, list: 'default' });
  await store.create({ subject: 'One' });
  await store.create({ subject: 'Two', blockedBy: ['1'] });
  await store.create({ subject: 'Three', blockedBy: ['2'] });
  await store.close();
  return { ...c, listDir: join(c.dir, 'default') };
}

/** Runs a command that must fail, and checks it changed nothing under `root`. */
function refused(root: string, exec: () => Run, exit: number, culprit: RegExp): Run {
  const before = snapshot(root);
  const r = exec();
  assert.equal(r.status, exit, `expected exit ${exit}\n${explain(r)}`);
  assert.match(r.stderr, /^tasklane: error: /, 'the message is on stderr, marked as an error');
  assert.match(r.stderr, culprit, `the message names the culprit\n${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout without --json');
  assert.deepEqual(snapshot(root), before, 'nothing changed on disk');
  return r;
}

/** Lists the good tasks despite a bad file: names the file on stderr and leaves it as it was. */
async function listsAroundBadFile(fileName: string, bytes: Buffer | string, why: RegExp): Promise<void> {
  const { tl, dir, listDir } = await listWithTasks();
  const path = join(listDir, fileName);
  writeFileSync(path, bytes);
  const before = snapshot(dir);
  const r = tl(['list', '--json']);
  assert.equal(r.status, 0, explain(r));
  assert.deepEqual(
    r.json().tasks.map((t: Json) => t.id),
    ['1', '2', '3'],
    'the good tasks are all listed',
  );
  assert.match(r.stderr, new RegExp(`^tasklane: warning: .*${fileName.replace('.', '\\.')}`, 'm'), r.stderr);
  assert.match(r.stderr, why);
  assert.deepEqual(snapshot(dir), before, 'the bad file and everything else are left untouched');
  assert.deepEqual(readFileSync(path), Buffer.from(bytes));
  const human = tl(['list']);
  assert.equal(human.status, 0, explain(human));
  assert.match(human.stdout, /#3\s+blocked/);
}

describe('bad task files on disk are skipped, named, and left alone', () => {
  it('corrupt JSON', async () => {
    await listsAroundBadFile('4.json', '{"id": "4", "subject": "half writ', /not valid JSON/);
  });

  it('wrong types', async () => {
    const bad = { id: '4', subject: 'x', description: '', status: 'pending', blocks: [], blockedBy: '1' };
    await listsAroundBadFile('4.json', JSON.stringify(bad), /blockedBy must be an array/);
  });

  it('an unknown status', async () => {
    const bad = { id: '4', subject: 'x', description: '', status: 'done', blocks: [], blockedBy: [] };
    await listsAroundBadFile('4.json', JSON.stringify(bad), /status must be one of pending, in_progress, completed/);
  });

  it('a file that is not a task', async () => {
    await listsAroundBadFile('notes.json', JSON.stringify([1, 2, 3]), /not a JSON object/);
  });

  it('a task file holding another id', async () => {
    const other = { id: '9', subject: 'x', description: '', status: 'pending', blocks: [], blockedBy: [] };
    await listsAroundBadFile('4.json', JSON.stringify(other), /holds task id "9"/);
  });

  it('bytes that are not UTF-8', async () => {
    const head = Buffer.from('{"id": "4", "subject": "caf');
    const tail = Buffer.from('", "description": "", "status": "pending", "blocks": [], "blockedBy": []}');
    await listsAroundBadFile('4.json', Buffer.concat([head, Buffer.from([0xe9]), tail]), /not valid UTF-8/);
  });

  it('show of a corrupt task names its file and exits 1', async () => {
    const { tl, dir, listDir } = await listWithTasks();
    writeFileSync(join(listDir, '2.json'), '{"id": "2", ');
    refused(dir, () => tl(['show', '2']), 1, /2\.json: not valid JSON/);
  });
});

describe('bad input on the command line is refused, named, and changes nothing', () => {
  it('a list id containing ../ (flag or environment)', async () => {
    const base = tempDir();
    const root = join(base, 'root');
    mkdirSync(root);
    const { tl } = cliIn(root);
    refused(base, () => tl(['--list', '../evil', 'create', 'x']), 2, /list id "\.\.\/evil" looks like a path/);
    refused(base, () => tl(['create', 'x'], { env: { TASKLANE_LIST: '../../evil' } }), 2, /"\.\.\/\.\.\/evil"/);
    assert.deepEqual(readdirSync(base), ['root'], 'no directory made outside the root');
    const j = tl(['--list', '../evil', 'list', '--json']);
    assert.equal(j.json().error.code, 'INVALID_LIST_ID');
    assert.equal(j.json().error.list, '../evil');
  });

  it('limit messages say the limit: a priority out of range, an export to a missing directory', async () => {
    const { tl, dir } = await listWithTasks();
    refused(
      dir,
      () => tl(['create', 'x', '--priority', '1000001']),
      1,
      /priority must be an integer from -1000000 to 1000000, got 1000001/,
    );
    const missing = join(tempDir(), 'no', 'such', 'x.jsonl');
    const r = tl(['export', '--output', missing]);
    assert.equal(r.status, 1, explain(r));
    assert.equal(r.stderr, `tasklane: error: cannot write ${missing}: no such file or directory (ENOENT)\n`);
  });

  it('a transition by another owner on a completed task says it is completed, not held', async () => {
    const { tl, dir } = await listWithTasks();
    for (const args of [
      ['claim', '1', '--owner', 'w1'],
      ['done', '1', '--owner', 'w1'],
    ]) {
      const r = tl(args);
      assert.equal(r.status, 0, explain(r));
    }
    refused(
      dir,
      () => tl(['heartbeat', '1', '--owner', 'w2']),
      4,
      /task 1 is completed \(its owner: "w1"\); "w2" does not hold it/,
    );
  });

  it('list --label given two different labels is refused (the filter takes one), not filtered on the last', async () => {
    const { tl, dir } = await listWithTasks();
    refused(dir, () => tl(['list', '--label', 'api', '--label', 'ui']), 2, /--label takes one label; got "api", "ui"/);
    const same = tl(['list', '--label', 'api', '--label', 'api']);
    assert.equal(same.status, 0, explain(same));
  });

  it('an unknown task id', async () => {
    const { tl, dir } = await listWithTasks();
    refused(dir, () => tl(['show', '99']), 1, /no task 99 in list default/);
    refused(dir, () => tl(['done', '99']), 1, /no task 99/);
    refused(dir, () => tl(['update', '99', '--subject', 'x']), 1, /no task 99/);
    refused(dir, () => tl(['dep', 'add', '1', '99']), 1, /blocked: no task 99/);
    refused(dir, () => tl(['create', 'x', '--blocked-by', '99']), 1, /blockedBy: no task 99/);
    refused(dir, () => tl(['claim', '99', '--owner', 'w']), 1, /no task 99/);
    refused(dir, () => tl(['delete', '99']), 1, /no task 99/);
    refused(dir, () => tl(['restore', '99']), 1, /no task 99/);
  });

  it('a task blocked by itself', async () => {
    const { tl, dir } = await listWithTasks();
    refused(dir, () => tl(['dep', 'add', '2', '2']), 1, /task 2 cannot block itself/);
    refused(dir, () => tl(['create', 'Me first', '--blocked-by', '4']), 1, /task 4 cannot block itself/);
  });

  it('an edge that closes a cycle names the cycle', async () => {
    const { tl, dir } = await listWithTasks();
    const r = refused(dir, () => tl(['dep', 'add', '3', '1']), 1, /would close a cycle: 3 -> 1 -> 2 -> 3/);
    assert.ok(r.stderr.length > 0);
    const before = snapshot(dir);
    const j = tl(['dep', 'add', '3', '1', '--json']);
    assert.equal(j.status, 1);
    assert.deepEqual(j.json().error.cycle, ['3', '1', '2', '3']);
    assert.equal(j.json().error.code, 'CYCLE');
    assert.deepEqual(snapshot(dir), before);
  });

  it('a 10 MB description (by file or stdin) and a 10 MB result', async () => {
    const { tl, dir } = await listWithTasks();
    const big = join(tempDir(), 'big.txt');
    const tenMB = 'x'.repeat(10 * 1024 * 1024);
    writeFileSync(big, tenMB);
    refused(
      dir,
      () => tl(['create', 'Huge', '--description-file', big]),
      1,
      /description is 10\.0 MiB; the limit is 1\.0 MiB/,
    );
    // From stdin, reading stops past the limit (so the size is not known, and the input is one byte over:
    // a writer with more would see EPIPE).
    refused(
      dir,
      () => tl(['update', '1', '--description-file', '-'], { input: 'x'.repeat(1024 * 1024 + 1) }),
      1,
      /--description-file stdin: the description is over the limit of 1\.0 MiB/,
    );
    refused(dir, () => tl(['done', '1', '--result-file', big]), 1, /result is 10\.0 MiB/);
    const j = tl(['create', 'Huge', '--description-file', big, '--json']);
    assert.equal(j.json().error.code, 'INVALID_INPUT');
    assert.equal(j.json().error.field, 'description');
  });

  it('text that is not UTF-8, from a file, stdin or the command line', async () => {
    const { tl, dir } = await listWithTasks();
    const bad = join(tempDir(), 'latin1.txt');
    writeFileSync(bad, Buffer.from([0x63, 0x61, 0x66, 0xe9])); // "café" in Latin-1
    refused(
      dir,
      () => tl(['create', 'x', '--description-file', bad]),
      2,
      /--description-file .*latin1\.txt: not valid UTF-8/,
    );
    const stdin = Buffer.from([0xff, 0xfe, 0x41]);
    refused(
      dir,
      () => tl(['done', '1', '--result-file', '-'], { input: stdin }),
      2,
      /--result-file stdin: not valid UTF-8/,
    );
    // Raw bytes in argv: only a shell can put them there; Node decodes them to U+FFFD.
    const viaShell = (flagValue: string): Run => {
      const script = `exec "$0" "$1" --dir "$2" create x --description "$(printf '${flagValue}')"`;
      const r = spawnSync('/bin/sh', ['-c', script, process.execPath, cliPath, dir], {
        env: cleanEnv(),
        encoding: 'utf8',
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
    };
    refused(dir, () => viaShell('caf\\351'), 2, /--description is not valid UTF-8/);
  });

  it('unknown flags, named, with a suggestion when one is close', async () => {
    const { tl, dir } = await listWithTasks();
    refused(dir, () => tl(['create', 'x', '--colour']), 2, /unknown option --colour for 'tasklane create'/);
    refused(dir, () => tl(['list', '--stauts', 'pending']), 2, /unknown option --stauts .*did you mean --status\?/);
    refused(dir, () => tl(['--owner', 'w1', 'claim']), 2, /unknown option --owner before the command/);
    refused(dir, () => tl(['done', '1', '-x']), 2, /unknown option -x/);
  });

  it('malformed values and missing arguments are usage errors naming the flag', async () => {
    const { tl, dir } = await listWithTasks();
    refused(dir, () => tl(['create', 'x', '--priority', 'high']), 2, /--priority must be a whole number, got "high"/);
    refused(dir, () => tl(['create', 'x', '--estimate', '-5']), 2, /--estimate needs a value|--estimate must be/);
    refused(dir, () => tl(['create', 'x', '--estimate', 'soon']), 2, /--estimate must be a positive duration/);
    refused(dir, () => tl(['claim', '--owner', 'w', '--lease', '0']), 2, /--lease must be a positive duration/);
    refused(
      dir,
      () => tl(['update', '1', '--status', 'done']),
      2,
      /--status must be one of pending, in_progress, completed; got "done"/,
    );
    refused(dir, () => tl(['update', '1', '--status', 'deleted']), 2, /tasklane delete 1/);
    refused(dir, () => tl(['list', '--state', 'stuck']), 2, /--state must be one of ready, expired, blocked/);
    refused(dir, () => tl(['update', '1']), 2, /nothing to change/);
    refused(dir, () => tl(['update', '1', '--if-rev', 'x', '--subject', 'y']), 2, /--if-rev must be a whole number/);
    refused(
      dir,
      () => tl(['update', '1', '--owner', 'a', '--no-owner']),
      2,
      /--owner and --no-owner cannot be used together/,
    );
    refused(dir, () => tl(['update', '1', '--meta', 'novalue']), 2, /--meta "novalue" must be KEY=VALUE/);
    refused(dir, () => tl(['update', '1', '--meta', 'tasklane={}']), 1, /metadata\.tasklane is reserved/);
    refused(dir, () => tl(['show']), 2, /show: missing ID/);
    refused(dir, () => tl(['show', '1', '2']), 2, /unexpected argument "2"/);
    refused(dir, () => tl(['dep', 'add', '1']), 2, /give BLOCKER and BLOCKED/);
    refused(dir, () => tl(['dep', 'link', '1', '2']), 2, /unknown action "link"/);
    refused(dir, () => tl(['fail', '1']), 2, /--reason is required/);
    refused(dir, () => tl(['create', 'x', '--description']), 2, /--description needs a value/);
    refused(
      dir,
      () => tl(['create', 'x', '--description', 'a', '--description-file', 'f']),
      2,
      /cannot be used together/,
    );
    refused(
      dir,
      () => tl(['create', 'x', '--description-file', join(dir, 'nope.txt')]),
      2,
      /nope\.txt: cannot read it \(no such file\)/,
    );
    refused(dir, () => tl(['create', '   ']), 1, /subject must be a non-empty string/);
  });

  it('a --dir that is a file is an I/O error naming the path, not a crash', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    const r = refused(
      dirname(file),
      () => run(['--dir', file, 'create', 'x']),
      1,
      /cannot mkdir .*not-a-dir\/default: not a directory \(ENOTDIR\)/,
    );
    assert.doesNotMatch(r.stderr, /bug/);
    const j = run(['--dir', file, 'list', '--json']);
    assert.equal(j.status, 1);
    assert.equal(j.json().error.code, 'IO');
  });

  it('--json errors on stdout have the documented shape', async () => {
    const { tl, dir } = await listWithTasks();
    const before = snapshot(dir);
    const r = tl(['create', 'x', '--priority', 'high', '--json']);
    assert.equal(r.status, 2);
    assert.deepEqual(r.json(), {
      error: { code: 'USAGE', message: '--priority must be a whole number, got "high"', field: '--priority' },
    });
    assert.deepEqual(snapshot(dir), before);
  });

  it('a stale lock file is not mistaken for a task', async () => {
    const { tl, listDir } = await listWithTasks();
    mkdirSync(join(listDir, '1.json.lock'));
    writeFileSync(join(dirname(listDir), 'README.txt'), 'not a list');
    const r = run(['--dir', dirname(listDir), 'list', '--json']);
    assert.equal(r.status, 0, explain(r));
    assert.equal(r.stderr, '');
    assert.equal(tl(['list', '--json']).json().tasks.length, 3);
  });
});
