import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  checkStoredTask,
  isTasklaneError,
  LIMITS,
  mergeTaskFiles,
  parseTask,
  serializeTask,
  type Task,
  withTasklaneFields,
} from '../src/model/index.js';
import { decodeTask } from '../src/store/file/task-files.js';
import { cliIn, explain } from './cli-run.js';

// Top-level keys Tasklane does not model (one a newer Claude Code adds, say) are kept as stored,
// in their place, through every read and write: parse, serialize, the CLI, export, the git merge.

// A file as Claude Code might write it, with two keys Tasklane does not know: one between the
// known keys, one at the end.
const STORED = JSON.stringify(
  {
    id: '1',
    subject: 'CC task',
    description: '',
    status: 'pending',
    blocks: [],
    blockedBy: [],
    createdBy: 'session-abc',
    owner: 'me',
    metadata: { k: 1 },
    futureField: { n: 42, list: [1, 2] },
  },
  null,
  2,
);

describe('unknown top-level keys of a task', () => {
  it('survive parse and serialize byte for byte, in their place', () => {
    const task = parseTask(JSON.parse(STORED));
    assert.equal((task as unknown as Record<string, unknown>).createdBy, 'session-abc');
    assert.equal(serializeTask(task), STORED);
    // A Tasklane change keeps them where they were.
    const changed = serializeTask(withTasklaneFields({ ...task, status: 'completed' }, { priority: 1 }));
    assert.deepEqual(Object.keys(JSON.parse(changed)), [
      'id',
      'subject',
      'description',
      'status',
      'blocks',
      'blockedBy',
      'createdBy',
      'owner',
      'metadata',
      'futureField',
    ]);
  });

  it('known keys out of Claude Code order are put in it; an unknown key follows the known key before it', () => {
    const task = parseTask({
      x0: 0,
      subject: 's',
      id: '1',
      after: 'id',
      description: '',
      blockedBy: [],
      status: 'pending',
      blocks: [],
    });
    assert.deepEqual(Object.keys(JSON.parse(serializeTask(task))), [
      'x0',
      'id',
      'after',
      'subject',
      'description',
      'status',
      'blocks',
      'blockedBy',
    ]);
  });

  it('a key named __proto__ is kept as data, not taken as the prototype', () => {
    const text =
      '{"id":"1","subject":"s","description":"","status":"pending","blocks":[],"blockedBy":[],"__proto__":{"polluted":true}}';
    const task = parseTask(JSON.parse(text)) as unknown as Record<string, unknown>;
    assert.equal(task.polluted, undefined);
    assert.deepEqual(JSON.parse(serializeTask(task as unknown as Task)), JSON.parse(text));
    assert.match(serializeTask(task as unknown as Task), /"__proto__": \{/);
  });

  it('count toward the nesting-depth limit of a file', () => {
    let deep: unknown = 1;
    for (let i = 0; i < LIMITS.nestingDepth; i++) deep = [deep];
    const text = JSON.stringify({ ...JSON.parse(STORED), futureField: deep });
    assert.throws(
      () => decodeTask(Buffer.from(text), '/l/1.json'),
      (err: unknown) => isTasklaneError(err, 'INVALID_TASK') && /futureField nests more than/.test(err.message),
    );
  });

  it('count toward the size limit of a stored task, and the refusal names them', () => {
    const task = parseTask({ ...JSON.parse(STORED), futureField: 'x'.repeat(LIMITS.taskBytes) });
    assert.throws(
      () => checkStoredTask(task),
      (err: unknown) =>
        isTasklaneError(err, 'INVALID_INPUT') && /largest: keys Tasklane does not model/.test(err.message),
    );
  });

  it('the git merge takes a key changed on one side from that side, the later change when both changed it, and drops one removed', () => {
    const base = parseTask({ ...JSON.parse(STORED), id: 'abcdefgh' });
    const at = (t: Task, when: string): Task => withTasklaneFields(t, { rev: 2, updatedAt: when });
    const earlier = at({ ...base, createdBy: 'one side', gone: 1 } as Task, '2026-01-02T00:00:00.000Z');
    const later = at({ ...base, futureField: 'later', added: true } as Task, '2026-01-03T00:00:00.000Z');
    const base2 = { ...base, gone: 1 } as Task;
    for (const [b, x, y] of [
      [base2, earlier, later],
      [base2, later, earlier],
    ] as const) {
      const r = mergeTaskFiles(b, x, y);
      assert.ok(r.ok, r.ok ? '' : r.reason);
      const v = r.value as unknown as Record<string, unknown>;
      assert.equal(v.createdBy, 'one side');
      assert.equal(v.futureField, 'later');
      assert.equal(v.added, true);
      assert.equal('gone' in v, false, 'removed on one side, unchanged on the other: removed');
      assert.deepEqual(
        Object.keys(v).filter((k) => !['id', 'subject', 'description', 'status', 'blocks', 'blockedBy'].includes(k)),
        ['createdBy', 'owner', 'metadata', 'futureField', 'added'],
      );
    }
    // Both changed one key to different values: the later change wins, in either direction.
    const x = at({ ...base, futureField: 'x' } as Task, '2026-01-02T00:00:00.000Z');
    const y = at({ ...base, futureField: 'y' } as Task, '2026-01-03T00:00:00.000Z');
    for (const [p, q] of [
      [x, y],
      [y, x],
    ] as const) {
      const r = mergeTaskFiles(base, p, q);
      assert.ok(r.ok);
      assert.equal((r.value as unknown as Record<string, unknown>).futureField, 'y');
    }
  });

  it('the CLI keeps them through show --json, list --json, export, import and an update that rewrites the file', () => {
    const { dir, tl } = cliIn();
    mkdirSync(join(dir, 'default'));
    const file = join(dir, 'default', '1.json');
    writeFileSync(file, STORED);

    const show = tl(['show', '1', '--json']);
    assert.equal(show.status, 0, explain(show));
    assert.equal(show.json().task.createdBy, 'session-abc');
    assert.deepEqual(show.json().task.futureField, { n: 42, list: [1, 2] });
    const list = tl(['list', '--json']);
    assert.equal(list.status, 0, explain(list));
    assert.equal(list.json().tasks[0].createdBy, 'session-abc');

    const exported = tl(['export']);
    assert.equal(exported.status, 0, explain(exported));
    const taskLine = exported.stdout.split('\n').find((l) => l.startsWith('{"type":"task"'));
    assert.ok(taskLine, exported.stdout);
    assert.deepEqual(JSON.parse(taskLine).task, JSON.parse(STORED));

    const other = tl(['import', '--list', 'copy', '-'], { input: exported.stdout });
    assert.equal(other.status, 0, explain(other));
    const copied = JSON.parse(readFileSync(join(dir, 'copy', '1.json'), 'utf8'));
    assert.equal(copied.createdBy, 'session-abc');
    assert.deepEqual(copied.futureField, { n: 42, list: [1, 2] });

    const update = tl(['update', '1', '--priority', '1']);
    assert.equal(update.status, 0, explain(update));
    const after = readFileSync(file, 'utf8');
    const parsed = JSON.parse(after);
    assert.equal(parsed.createdBy, 'session-abc');
    assert.deepEqual(parsed.futureField, { n: 42, list: [1, 2] });
    assert.equal(parsed.metadata.tasklane.priority, 1);
    assert.deepEqual(Object.keys(parsed), Object.keys(JSON.parse(STORED)), 'every key in its place');
    assert.equal(after.replace(/,\n {4}"tasklane": \{[\s\S]*?\n {4}\}/, ''), STORED, 'the rest byte for byte');
  });
});
