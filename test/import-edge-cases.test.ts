import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTasklaneError } from '../src/model/index.js';
import { readPeer } from '../src/store/peers/index.js';
import { cliIn, explain } from './cli-run.js';
import { tempDir } from './helpers.js';

// Peer imports against inputs a review turned up: keys named __proto__, a directory where a file
// was expected, and YAML that expands an alias too many times.

function backlogWith(name: string, text: string): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'backlog', 'tasks'), { recursive: true });
  writeFileSync(join(dir, 'backlog', 'tasks', name), text);
  return dir;
}

function refusal(fn: () => unknown): Error & { code?: string; file?: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isTasklaneError(err), `a Tasklane error, got ${String(err)}`);
    return err as Error & { code?: string; file?: string };
  }
  assert.fail('expected a refusal');
}

describe('keys named __proto__', () => {
  it('a peer id __proto__ is kept in the report idMap, and in its JSON', () => {
    const file = join(tempDir(), 'issues.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({ id: '__proto__', title: 't', status: 'open', priority: 2 })}\n${JSON.stringify({ id: 'bd-2', title: 'u', status: 'open', priority: 2 })}\n`,
    );
    const { report } = readPeer('beads', file, 'issues.jsonl');
    assert.deepEqual(Object.keys(report.idMap), ['__proto__', 'bd-2']);
    assert.equal(Object.getPrototypeOf(report.idMap), Object.prototype);
    assert.match(JSON.stringify(report), /"idMap":\{"__proto__":"1","bd-2":"2"\}/);
  });

  it('a Backlog.md front-matter key __proto__ stays a key of metadata.imported, in the task file too', () => {
    const dir = backlogWith(
      'task-1 - T.md',
      '---\nid: task-1\ntitle: T\nstatus: To Do\n__proto__:\n  polluted: yes\n---\n\nbody\n',
    );
    const { records } = readPeer('backlog', dir, 'b');
    const record = records.find((r) => r.type === 'task');
    assert.ok(record?.type === 'task');
    const imported = record.task.metadata?.imported as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(imported), Object.prototype, 'the prototype is untouched');
    assert.ok(Object.hasOwn(imported, '__proto__'));
    assert.equal((imported as { polluted?: unknown }).polluted, undefined);
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'backlog', dir, '--json']);
    assert.equal(r.status, 0, explain(r));
    const written = readFileSync(join(dst.dir, 'default', '1.json'), 'utf8');
    assert.match(written, /"__proto__": \{\s*"polluted": "yes"\s*\}/);
  });
});

describe('a directory where a file was expected', () => {
  it('is refused with a Tasklane error naming it, for each peer format', () => {
    const backlog = tempDir();
    mkdirSync(join(backlog, 'backlog', 'tasks', 'task-1 - T.md'), { recursive: true });
    const beads = tempDir();
    mkdirSync(join(beads, '.beads', 'issues.jsonl'), { recursive: true });
    const claude = tempDir();
    mkdirSync(join(claude, '1.json'));
    for (const [format, dir, file] of [
      ['backlog', backlog, join('in', 'backlog', 'tasks', 'task-1 - T.md')],
      ['beads', beads, join('in', '.beads', 'issues.jsonl')],
      ['claude', claude, join('in', '1.json')],
    ] as const) {
      const err = refusal(() => readPeer(format, dir, 'in'));
      assert.equal(err.code, 'INVALID_INPUT', `${format}: ${err.message}`);
      assert.equal(err.file, file);
      assert.match(err.message, /is a directory/);
      assert.doesNotMatch(err.message, /EISDIR/);
    }
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'backlog', backlog]);
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /task-1 - T\.md: is a directory/);
    assert.deepEqual(readdirSync(dst.dir), []);
  });
});

describe('YAML that expands aliases too many times', () => {
  it('is malformed input naming the file, in a task and in config.yml', () => {
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const n of ['b', 'c', 'd', 'e']) {
      const prev = laughs.length === 1 ? 'a' : String.fromCharCode(n.charCodeAt(0) - 1);
      laughs.push(`${n}: &${n} [${Array(12).fill(`*${prev}`).join(', ')}]`);
    }
    const dir = backlogWith('task-1 - T.md', `---\nid: task-1\ntitle: T\nstatus: To Do\n${laughs.join('\n')}\n---\n`);
    const err = refusal(() => readPeer('backlog', dir, 'in'));
    assert.equal(err.code, 'INVALID_INPUT', err.message);
    assert.equal(err.file, join('in', 'backlog', 'tasks', 'task-1 - T.md'));
    assert.match(err.message, /Excessive alias count/);
    const config = tempDir();
    mkdirSync(join(config, 'backlog'));
    writeFileSync(join(config, 'backlog', 'config.yml'), `${laughs.join('\n')}\nstatuses: [To Do]\n`);
    const err2 = refusal(() => readPeer('backlog', config, 'in'));
    assert.equal(err2.code, 'INVALID_INPUT', err2.message);
    assert.equal(err2.file, join('in', 'backlog', 'config.yml'));
  });
});
