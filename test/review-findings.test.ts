import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cleanEnv, cliIn, explain } from './cli-run.js';
import { cliPath } from './helpers.js';

// Findings of the adversarial review (helper "review"); each fails on the reviewed main.

test('review: creates after a task id above 2^53 never reuse an id (no acknowledged create is overwritten)', () => {
  const { dir, tl } = cliIn();
  assert.equal(tl(['create', 'A']).status, 0);
  const listDir = join(dir, 'default');
  const one = JSON.parse(readFileSync(join(listDir, '1.json'), 'utf8'));
  // A task file another program wrote, with a numeric id past Number.MAX_SAFE_INTEGER.
  writeFileSync(join(listDir, '9007199254740993.json'), JSON.stringify({ ...one, id: '9007199254740993' }));
  const ids: string[] = [];
  for (const subject of ['B', 'C']) {
    const r = tl(['create', subject, '--json']);
    if (r.status !== 0) continue; // refusing is acceptable; overwriting is not
    ids.push(r.json().task.id);
  }
  assert.equal(new Set(ids).size, ids.length, `two creates were acknowledged with the same id: ${ids.join(', ')}`);
  const subjects = readdirSync(listDir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(join(listDir, n), 'utf8')).subject);
  for (const s of ['B', 'C'].slice(0, ids.length)) assert.ok(subjects.includes(s), `task ${s} was lost`);
});

test('review: ready agrees with claim when a blocker file is corrupt', () => {
  const { dir, tl } = cliIn();
  assert.equal(tl(['create', 'A']).status, 0);
  assert.equal(tl(['create', 'B']).status, 0);
  assert.equal(tl(['create', 'C', '--blocked-by', '1', '--priority', '9']).status, 0);
  writeFileSync(join(dir, 'default', '1.json'), '{bad');
  const ready = tl(['ready', '--json']);
  assert.equal(ready.status, 0, explain(ready));
  const first = ready.json().tasks[0]?.id;
  const claim = tl(['claim', '--owner', 'w', '--json']);
  assert.equal(claim.status, 0, explain(claim));
  assert.equal(claim.json().task.id, first, `ready shows #${first} first, claim took #${claim.json().task.id}`);
});

test('review: a.b does not reach task a-b', () => {
  const { dir, tl } = cliIn();
  assert.equal(tl(['create', 'A']).status, 0);
  const listDir = join(dir, 'default');
  const one = JSON.parse(readFileSync(join(listDir, '1.json'), 'utf8'));
  writeFileSync(join(listDir, 'a-b.json'), JSON.stringify({ ...one, id: 'a-b' }));
  const r = tl(['show', 'a.b', '--json']);
  assert.notEqual(r.status, 0, `show a.b answered task a-b: ${r.stdout.slice(0, 200)}`);
});

test('review: the MCP server answers every request it carried out before it exits on end of input', () => {
  const { dir, tl } = cliIn();
  assert.equal(tl(['create', 'A']).status, 0);
  const req = (id: number, method: string, params: object) => JSON.stringify({ jsonrpc: '2.0', id, method, params });
  const lines = [
    req(1, 'initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'x', version: '1' } }),
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    ...[2, 3, 4, 5].map((id) =>
      req(id, 'tools/call', { name: 'TaskCreate', arguments: { subject: `S${id}`, description: 'd' } }),
    ),
  ];
  // Through a pipe that closes as soon as the lines are written, as a shell pipeline does.
  const file = join(dir, 'requests.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const r = spawnSync('sh', ['-c', 'cat "$1" | "$2" "$3" --dir "$4" mcp', 'sh', file, process.execPath, cliPath, dir], {
    encoding: 'utf8',
    env: cleanEnv(),
  });
  const answered = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).id)
    .filter((id) => id > 1);
  const stored = tl(['list', '--all', '--json']).json().tasks.length - 1;
  assert.equal(
    answered.length,
    stored,
    `${stored} tasks were created but only ${answered.length} answers were sent (ids ${answered.join(',')}); dir ${dir}`,
  );
});

test('review: a holder can always fail its task, however long the failure history', () => {
  const { tl } = cliIn();
  assert.equal(tl(['create', 'A']).status, 0);
  const reason = 'r'.repeat(1_000_000); // within the 1 MiB text limit
  for (let i = 1; i <= 9; i++) {
    const c = tl(['claim', '1', '--owner', 'w']);
    assert.equal(c.status, 0, `claim ${i}: ${explain(c)}`);
    const f = tl(['fail', '1', '--owner', 'w', '--reason-file', '-'], { input: reason });
    assert.equal(f.status, 0, `fail ${i}: ${explain(f).slice(0, 400)}`);
    assert.equal(tl(['retry', '1']).status, 0);
  }
});

test('review: a mistyped postgres: URL is refused, not made a directory, and its password is never printed', () => {
  const { dir, tl } = cliIn();
  for (const text of ['postgres:/bob:s3cretPW@db/x', 'postgres:bob:s3cretPW@db/x', 'file:///tmp/x%00y']) {
    const r = tl(['--store', text, 'create', 'A']);
    assert.equal(r.status, 2, `${text}: ${explain(r)}`);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cretPW/);
    assert.doesNotMatch(r.stderr, /this is a bug/);
  }
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith('postgres')),
    [],
    'no directory was made from the URL',
  );
});
