import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cycleFor, findCycles, indexTasks, oneSidedEdges, type Task } from '../src/model/index.js';
import { cliIn, explain, type Json } from './cli-run.js';
import { start } from './fixtures/store/procs.js';

// Issue 7, observation 5: a crash between the two files of an edge leaves it on one task only.
// Cycle checks count such an edge, refuse while a task file is unreadable, and `doctor --fix`
// writes the missing side. The crash is simulated by writing one side only, as a crash leaves it.

function setup(n: number) {
  const cli = cliIn();
  const tl = (args: string[]) => cli.tl(['--list', 'L', ...args]);
  for (let i = 1; i <= n; i++) {
    const r = tl(['create', `task ${i}`]);
    assert.equal(r.status, 0, explain(r));
  }
  const file = (id: string) => join(cli.dir, 'L', `${id}.json`);
  const read = (id: string): Task => JSON.parse(readFileSync(file(id), 'utf8'));
  /** Writes one task's file only, as a process killed between the two writes of an edge leaves it. */
  const edit = (id: string, change: (t: Task) => void): void => {
    const t = read(id);
    change(t);
    writeFileSync(file(id), JSON.stringify(t, null, 2));
  };
  return { dir: cli.dir, tl, file, read, edit };
}

describe('one-sided edges (observation 5)', () => {
  it('a cycle through an edge recorded only in the blocker (blocks) is refused', () => {
    const l = setup(3);
    assert.equal(l.tl(['dep', 'add', '2', '3']).status, 0);
    l.edit('1', (t) => t.blocks.push('2')); // 1 blocks 2, written on 1 only
    const r = l.tl(['dep', 'add', '3', '1', '--json']);
    assert.equal(r.status, 1, explain(r));
    assert.equal(r.json().error.code, 'CYCLE');
    assert.deepEqual(r.json().error.cycle, ['3', '1', '2', '3']);
    assert.deepEqual(l.read('1').blockedBy, [], 'the refused edge changed nothing');
  });

  it('a cycle through an edge recorded only in the blocked task (blockedBy) is refused', () => {
    const l = setup(3);
    assert.equal(l.tl(['dep', 'add', '2', '3']).status, 0);
    l.edit('2', (t) => t.blockedBy.push('1')); // 1 blocks 2, written on 2 only
    const r = l.tl(['dep', 'add', '3', '1', '--json']);
    assert.equal(r.status, 1, explain(r));
    assert.equal(r.json().error.code, 'CYCLE');
  });

  it('create with blockers and blocked tasks refuses a cycle through a one-sided edge', () => {
    const l = setup(2);
    l.edit('2', (t) => t.blockedBy.push('1')); // 1 blocks 2 on 2 only
    const r = l.tl(['create', 'closes it', '--blocked-by', '2', '--blocks', '1', '--json']);
    assert.equal(r.status, 1, explain(r));
    assert.equal(r.json().error.code, 'CYCLE');
    assert.deepEqual(
      readdirSync(join(l.dir, 'L')).filter((n) => n === '3.json'),
      [],
    );
  });

  it('a cycle check refuses, naming the file, while a task file on the path is unreadable', () => {
    const l = setup(3);
    assert.equal(l.tl(['dep', 'add', '1', '2']).status, 0);
    assert.equal(l.tl(['dep', 'add', '2', '3']).status, 0);
    // Task 2 is being rewritten in place by another program: a scan that skips it sees no path 1 -> 3.
    writeFileSync(l.file('2'), '{"id": "2", "subject": "task 2", "blocks": ["3"');
    const r = l.tl(['dep', 'add', '3', '1', '--json']);
    assert.equal(r.status, 1, explain(r));
    const error = r.json().error;
    assert.equal(error.code, 'INVALID_TASK');
    assert.equal(error.file, l.file('2'));
    assert.match(error.message, /cycle/);
    assert.deepEqual(l.read('3').blocks, [], 'nothing written');
    assert.deepEqual(l.read('1').blockedBy, [], 'nothing written');
  });

  it('doctor finds a one-sided edge and --fix writes the missing side', () => {
    const l = setup(3);
    l.edit('1', (t) => t.blocks.push('2'));
    l.edit('3', (t) => t.blockedBy.push('2'));
    const before = l.tl(['doctor', '--json']);
    assert.equal(before.status, 1, explain(before));
    const found: Json[] = before.json().problems;
    assert.deepEqual(
      found.map((p) => [p.kind, p.task, p.fixed]),
      [
        ['one-sided-edge', '2', undefined],
        ['one-sided-edge', '2', undefined],
      ],
    );
    assert.equal(before.json().consistent, false);
    const fixed = l.tl(['doctor', '--fix', '--json']);
    assert.equal(fixed.status, 0, explain(fixed));
    assert.ok(fixed.json().problems.every((p: Json) => typeof p.fixed === 'string'));
    assert.deepEqual(l.read('2').blockedBy, ['1']);
    assert.deepEqual(l.read('2').blocks, ['3']);
    const after = l.tl(['doctor', '--json']);
    assert.equal(after.status, 0, explain(after));
    assert.deepEqual(after.json(), { list: 'L', location: join(l.dir, 'L'), problems: [], consistent: true });
  });

  it('doctor --fix leaves a one-sided edge that would close a cycle, and reports the cycle', () => {
    const l = setup(2);
    assert.equal(l.tl(['dep', 'add', '1', '2']).status, 0);
    l.edit('2', (t) => t.blocks.push('1')); // 2 blocks 1 on 2 only: a ring 1 -> 2 -> 1
    const r = l.tl(['doctor', '--fix', '--json']);
    assert.equal(r.status, 1, explain(r));
    const kinds = r.json().problems.map((p: Json) => [p.kind, p.fixed === undefined]);
    assert.deepEqual(kinds, [
      ['one-sided-edge', true],
      ['cycle', true],
    ]);
    assert.deepEqual(r.json().problems[1].cycle, ['1', '2', '1']);
    assert.match(r.json().problems[1].advice, /tasklane dep rm 2 1/);
    assert.deepEqual(l.read('1').blockedBy, [], 'the cycle was not made whole');
  });

  it('doctor --fix drops references to missing tasks, removes dead temp files and stale locks, and never touches an invalid file', () => {
    const l = setup(2);
    l.edit('1', (t) => t.blocks.push('9')); // a delete that crashed after removing 9.json
    const temp = join(l.dir, 'L', '.2.json.tmp-999999999-0'); // no such pid
    writeFileSync(temp, '{"id": "2"');
    const lockDir = join(l.dir, 'L', '2.json.lock');
    mkdirSync(lockDir);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockDir, old, old);
    const bad = join(l.dir, 'L', '5.json');
    writeFileSync(bad, 'not json');
    const r = l.tl(['doctor', '--fix', '--json']);
    assert.equal(r.status, 1, explain(r)); // the invalid file remains
    const byKind = new Map<string, Json>(r.json().problems.map((p: Json) => [p.kind, p]));
    assert.equal(byKind.get('missing-reference').fixed, "removed #9 from #1's blocks");
    assert.ok(byKind.get('temp-file').fixed);
    assert.ok(byKind.get('stale-lock').fixed);
    assert.equal(byKind.get('invalid-file').file, bad);
    assert.equal(byKind.get('invalid-file').fixed, undefined);
    assert.deepEqual(l.read('1').blocks, []);
    assert.deepEqual(
      readdirSync(join(l.dir, 'L')).sort(),
      ['.lock', '1.json', '2.json', '5.json'],
      'temp file and lock directory removed',
    );
    assert.equal(readFileSync(bad, 'utf8'), 'not json', 'the invalid file is left as found');
  });

  it('doctor without --fix changes nothing, and prints each problem with what to do', () => {
    const l = setup(2);
    l.edit('1', (t) => t.blocks.push('2'));
    const before = readFileSync(l.file('2'), 'utf8');
    const r = l.tl(['doctor']);
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stdout, /one-sided-edge {2}#1 blocks #2 according to #1 only/);
    assert.match(r.stdout, /tasklane doctor --fix writes the missing side/);
    assert.equal(readFileSync(l.file('2'), 'utf8'), before);
  });
});

describe('doctor and lock holders', () => {
  it('doctor never reports a live holder lock however old it looks, and reports a dead holder lock at once', async () => {
    const { dir, tl } = cliIn();
    assert.equal(tl(['create', 'A']).status, 0);
    assert.equal(tl(['create', 'B']).status, 0);
    const listDir = join(dir, 'default');
    const paused = start('lock-holder', [join(listDir, '1.json')]);
    const dead = start('lock-holder', [join(listDir, '2.json')]);
    try {
      await paused.line((l) => l === 'locked');
      await dead.line((l) => l === 'locked');
      paused.child.kill('SIGSTOP'); // as Ctrl-Z would: it stops refreshing its lock
      const old = new Date(Date.now() - 60_000);
      utimesSync(join(listDir, '1.json.lock'), old, old);
      dead.child.kill('SIGKILL');
      await dead.exit;
      const r = tl(['doctor', '--json']);
      const locks = (r.json().problems as Json[]).filter((p) => p.kind === 'stale-lock').map((p) => p.file as string);
      assert.deepEqual(
        locks.map((f) => f.slice(listDir.length + 1)),
        ['2.json.lock'],
        explain(r),
      );
      assert.match(JSON.stringify(r.json().problems), /which is gone/);
    } finally {
      paused.child.kill('SIGKILL');
      await paused.exit;
    }
  });
});

describe('restore and cycles', () => {
  it('restore leaves out an edge that would close a cycle made while the task was deleted, and says so', () => {
    const l = setup(3);
    assert.equal(l.tl(['dep', 'add', '1', '2']).status, 0);
    assert.equal(l.tl(['dep', 'add', '2', '3']).status, 0);
    assert.equal(l.tl(['delete', '2']).status, 0);
    assert.equal(l.tl(['dep', 'add', '3', '1']).status, 0); // no cycle while 2 is gone
    const r = l.tl(['restore', '2']);
    assert.equal(r.status, 0, explain(r));
    assert.match(r.stderr, /left out #2 blocking #3: it would close a cycle/);
    assert.deepEqual([l.read('2').blockedBy, l.read('2').blocks], [['1'], []]);
    assert.deepEqual(l.read('1').blocks, ['2'], 'the kept edge is back on both sides');
    const doctor = l.tl(['doctor']);
    assert.equal(doctor.status, 0, explain(doctor));
  });
});

describe('graph over edges recorded on either side', () => {
  const task = (id: string, blocks: string[], blockedBy: string[]): Task => ({
    id,
    subject: id,
    description: '',
    status: 'pending',
    blocks,
    blockedBy,
  });

  it('cycleFor follows blockedBy-only edges', () => {
    const byId = indexTasks([task('1', [], []), task('2', ['3'], ['1']), task('3', [], ['2'])]);
    assert.deepEqual(cycleFor(byId, '3', '1'), ['3', '1', '2', '3']);
  });

  it('findCycles names each ring once and oneSidedEdges names the task that holds the edge', () => {
    const byId = indexTasks([task('1', ['2'], ['3']), task('2', [], []), task('3', [], ['2']), task('4', ['4'], [])]);
    assert.deepEqual(findCycles(byId), [
      ['1', '2', '3', '1'],
      ['4', '4'],
    ]);
    assert.deepEqual(oneSidedEdges(byId), [
      { blocker: '1', blocked: '2', heldBy: 'blocker' },
      { blocker: '2', blocked: '3', heldBy: 'blocked' },
      { blocker: '3', blocked: '1', heldBy: 'blocked' },
      { blocker: '4', blocked: '4', heldBy: 'blocker' },
    ]);
  });

  it('findCycles walks a 20,000-task ring without overflowing the stack', () => {
    const n = 20_000;
    const tasks: Task[] = [];
    for (let i = 1; i <= n; i++) tasks.push(task(String(i), i < n ? [String(i + 1)] : ['1'], []));
    const cycles = findCycles(indexTasks(tasks));
    assert.equal(cycles.length, 1);
    assert.equal(cycles[0]?.length, n + 1);
  });
});
