import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OUTSIDE_BAND, revisionOf, type Task, tasklaneFields } from '../src/model/index.js';
import { resolveLocation } from '../src/store/location.js';
import { openStore } from '../src/store/open.js';
import { ClaudeTask } from './claude-task-schema.js';
import { tempDir } from './helpers.js';

// Byte-level compatibility with Claude Code's task files (facts in shared/DESIGN.md section 2).

// Claude Code builds the object in this order before JSON.stringify(task, null, 2).
function claudeBytes(t: ClaudeTask): string {
  return JSON.stringify(
    {
      id: t.id,
      subject: t.subject,
      description: t.description,
      activeForm: t.activeForm,
      status: t.status,
      blocks: t.blocks,
      blockedBy: t.blockedBy,
      owner: t.owner,
      metadata: t.metadata,
    },
    null,
    2,
  );
}

/** Claude Code's TaskUpdate: read, validate (dropping unknown keys), merge, plain write. */
function claudeUpdate(
  listDir: string,
  id: string,
  patch: Partial<ClaudeTask> & { metadata?: Record<string, unknown> },
): void {
  const file = join(listDir, `${id}.json`);
  const current = ClaudeTask.parse(JSON.parse(readFileSync(file, 'utf8')));
  const metadata = { ...(current.metadata ?? {}) };
  for (const [k, v] of Object.entries(patch.metadata ?? {})) {
    if (v === null) delete metadata[k];
    else metadata[k] = v;
  }
  writeFileSync(file, claudeBytes({ ...current, ...patch, metadata }));
}

function claudeList(root: string, list: string): string {
  const dir = join(root, list);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.lock'), '');
  const tasks: ClaudeTask[] = [
    {
      id: '1',
      subject: 'Set up repo',
      description: 'init',
      activeForm: 'Setting up repo',
      status: 'completed',
      blocks: ['2'],
      blockedBy: [],
    },
    {
      id: '2',
      subject: 'Write API',
      description: 'REST',
      status: 'in_progress',
      blocks: ['5'],
      blockedBy: ['1'],
      owner: 'claude-1',
    },
    {
      id: '5',
      subject: 'Ship',
      description: '',
      status: 'pending',
      blocks: [],
      blockedBy: ['2'],
      metadata: { team: 'core' },
    },
  ];
  for (const t of tasks) writeFileSync(join(dir, `${t.id}.json`), claudeBytes(t));
  writeFileSync(join(dir, '.highwatermark'), '7');
  return dir;
}

describe('Claude Code compatibility', () => {
  it('reads a list written byte-for-byte by Claude Code and follows its id rule', async () => {
    const root = tempDir();
    const dir = claudeList(root, 'proj');
    const store = openStore({ dir: root, list: 'proj' });
    const tasks = await store.list();
    assert.deepEqual(
      tasks.map((t) => [t.id, t.status, t.owner]),
      [
        ['1', 'completed', undefined],
        ['2', 'in_progress', 'claude-1'],
        ['5', 'pending', undefined],
      ],
    );
    assert.equal(tasks[0]?.activeForm, 'Setting up repo');
    const { tasklane, ...userMeta } = tasks[2]?.metadata ?? {};
    assert.deepEqual(userMeta, { team: 'core' });
    // Never written by Tasklane: read at a revision from its content, given where --if-rev reads it (revision.ts).
    assert.deepEqual(Object.keys(tasklane as object), ['rev', 'fp']);
    assert.equal((tasklane as { rev: unknown }).rev, revisionOf(tasks[2] as Task));
    const created = await store.create({ subject: 'Next' });
    assert.equal(created.id, '8', 'max(5 from files, 7 from .highwatermark) + 1');
    assert.equal(readFileSync(join(dir, '.highwatermark'), 'utf8'), '7', 'create does not raise the mark');
    assert.equal(
      readFileSync(join(dir, '1.json'), 'utf8'),
      claudeBytes(ClaudeTask.parse(JSON.parse(readFileSync(join(dir, '1.json'), 'utf8')))),
    );
  });

  it('writes files that pass Claude Code’s schema with its exact bytes and key order', async () => {
    const root = tempDir();
    const dir = claudeList(root, 'proj');
    const store = openStore({ dir: root, list: 'proj' });
    const a = await store.create({
      subject: 'A',
      description: 'd',
      activeForm: 'Doing A',
      blockedBy: ['5'],
      priority: 3,
      labels: ['x'],
    });
    await store.update('5', { owner: 'me', metadata: { extra: true } });
    await store.update('2', { status: 'completed' });
    await store.claim({ owner: 'me', taskId: '5' });
    await store.complete('5', { owner: 'me', result: 'shipped' });
    await store.claim({ owner: 'w2', taskId: a.id });
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const bytes = readFileSync(join(dir, name), 'utf8');
      const parsed = ClaudeTask.parse(JSON.parse(bytes));
      assert.equal(bytes, claudeBytes(parsed), `${name} has Claude Code's exact formatting`);
      assert.ok(!bytes.endsWith('\n'), `${name} has no trailing newline`);
      const keys = Object.keys(JSON.parse(bytes));
      const order = [
        'id',
        'subject',
        'description',
        'activeForm',
        'status',
        'blocks',
        'blockedBy',
        'owner',
        'metadata',
      ];
      assert.deepEqual(
        keys,
        order.filter((k) => keys.includes(k)),
        `${name} key order`,
      );
    }
  });

  it('keeps every Tasklane field when Claude Code rewrites a task', async () => {
    const root = tempDir();
    const dir = claudeList(root, 'proj');
    const store = openStore({ dir: root, list: 'proj' });
    const t = await store.create({ subject: 'T', priority: 4, labels: ['api'], estimate: 30 });
    const claim = await store.claim({ owner: 'w1', taskId: t.id });
    assert.ok(claim);
    const before = tasklaneFields(await store.get(t.id));
    // A stray top-level key, as a careless tool might add; Claude Code drops it on rewrite.
    const file = join(dir, `${t.id}.json`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"id"', '"priority": 9,\n  "id"'));
    claudeUpdate(dir, t.id, { subject: 'T (edited in Claude Code)', metadata: { note: 'from claude', gone: null } });
    const after = await store.get(t.id);
    assert.equal(after.subject, 'T (edited in Claude Code)');
    assert.equal(after.metadata?.note, 'from claude');
    // Every field kept; only the revision moved up, by the content, because the task changed (revision.ts).
    const { rev: revBefore, fp: _fpBefore, ...keptBefore } = before;
    const { rev: revAfter, fp: _fpAfter, ...keptAfter } = tasklaneFields(after);
    assert.deepEqual(keptAfter, keptBefore);
    assert.ok(
      (revAfter ?? 0) > (revBefore ?? 0) && (revAfter ?? 0) <= (revBefore ?? 0) + OUTSIDE_BAND,
      String(revAfter),
    );
    const done = await store.complete(t.id, { owner: 'w1', token: claim.token, result: 'r' });
    assert.equal(tasklaneFields(done).priority, 4);
    assert.deepEqual(tasklaneFields(done).labels, ['api']);
  });

  it('raises .highwatermark on delete, as plain decimal text with no newline', async () => {
    const root = tempDir();
    const dir = claudeList(root, 'proj');
    const store = openStore({ dir: root, list: 'proj' });
    const t = await store.create({ subject: 'x' });
    assert.equal(t.id, '8');
    await store.delete('8');
    assert.equal(readFileSync(join(dir, '.highwatermark'), 'utf8'), '8');
    assert.equal((await store.create({ subject: 'y' })).id, '9');
    assert.deepEqual((await store.get('1')).blocks, ['2']);
    await store.delete('2');
    assert.deepEqual((await store.get('1')).blocks, [], 'references removed from other tasks');
    assert.deepEqual((await store.get('5')).blockedBy, []);
  });

  it('sees exactly the list Claude Code sees when only CLAUDE_CODE_TASK_LIST_ID is set', () => {
    const config = tempDir();
    const env = { CLAUDE_CONFIG_DIR: config, CLAUDE_CODE_TASK_LIST_ID: 'my project!' } as NodeJS.ProcessEnv;
    const loc = resolveLocation({ env, cwd: tempDir() });
    assert.equal(loc.root, join(config, 'tasks'));
    assert.equal(loc.listDir, join(config, 'tasks', 'my-project-'));
    assert.equal(loc.list, 'my project!');
  });

  it('skips a file that is not a valid task, names it, and keeps the rest working', async () => {
    const root = tempDir();
    const dir = claudeList(root, 'proj');
    writeFileSync(join(dir, '3.json'), '{"id": "3", "subject": "torn');
    writeFileSync(
      join(dir, '4.json'),
      JSON.stringify({ id: '4', subject: 's', description: '', status: 'done', blocks: [], blockedBy: [] }),
    );
    writeFileSync(join(dir, '6.json'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    const warnings: string[] = [];
    const store = openStore({ dir: root, list: 'proj' }, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(
      (await store.list()).map((t) => t.id),
      ['1', '2', '5'],
    );
    assert.equal(warnings.length, 3);
    assert.match(warnings.join('\n'), /3\.json: not valid JSON/);
    assert.match(warnings.join('\n'), /4\.json: status must be one of/);
    assert.match(warnings.join('\n'), /6\.json: not valid UTF-8/);
    assert.equal((await store.create({ subject: 'still works' })).id, '8');
    assert.equal(readFileSync(join(dir, '3.json'), 'utf8'), '{"id": "3", "subject": "torn', 'bad file left untouched');
  });
});
