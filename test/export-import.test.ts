import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTask } from '../src/model/index.js';
import { exportLine } from '../src/store/export-format.js';
import { openStore } from '../src/store/open.js';
import type { ExportRecord, TaskStore } from '../src/store/types.js';
import { cleanEnv, cliIn, explain, type Json, snapshot } from './cli-run.js';
import { cliPath, tempDir } from './helpers.js';
import { runTransferContract } from './store-transfer-contract.js';

// tasklane export / import and the stores' exportList / importList: a list carried between two
// stores keeps its ids, edges, metadata, history and high-water mark, byte for byte on re-export;
// a bad input is refused naming its line, and leaves the target exactly as it was.

const EPOCH = { SOURCE_DATE_EPOCH: '1800000000' };

runTransferContract('file store', (list = 'transfer', sameStoreAs) =>
  openStore(sameStoreAs === undefined ? tempDir() : sameStoreAs.descriptor, list),
);

/** A list with some of everything: edges (a diamond), user metadata, a result, a failure and retry, a heartbeat, a deletion, a file Claude Code wrote. */
async function richList(dir: string, list = 'default'): Promise<TaskStore> {
  const store = openStore(dir, list);
  const a = await store.create({ subject: 'Design', description: 'the schema\nwith two lines', priority: 5 });
  const b = await store.create({
    subject: 'API',
    blockedBy: [a.id],
    labels: ['backend', 'api'],
    metadata: { ticket: 'T-1', nested: { z: 1, a: [1, { b: null }] } },
  });
  const c = await store.create({ subject: 'UI', blockedBy: [a.id], estimate: 3600, verify: 'npm test' });
  const d = await store.create({ subject: 'Release', blockedBy: [b.id, c.id], activeForm: 'Releasing' });
  const gone = await store.create({ subject: 'Scratch', blocks: [d.id] });
  await store.delete(gone.id);
  const claim = await store.claim({ owner: 'w1', taskId: a.id });
  assert.ok(claim);
  await store.heartbeat(a.id, { owner: 'w1', token: claim.token });
  await store.complete(a.id, { owner: 'w1', token: claim.token, result: 'schema.sql merged' });
  const cb = await store.claim({ owner: 'w2', taskId: b.id });
  assert.ok(cb);
  await store.fail(b.id, { owner: 'w2', token: cb.token, reason: 'tests red' });
  await store.retry(b.id, { actor: 'me' });
  await store.update(c.id, { owner: 'alice', metadata: { ui: 'dark' } });
  // A task Claude Code wrote itself: no Tasklane metadata, never journaled.
  writeFileSync(
    join(dir, list, '9.json'),
    JSON.stringify(
      { id: '9', subject: 'From Claude Code', description: '', status: 'pending', blocks: [], blockedBy: [] },
      null,
      2,
    ),
  );
  return store;
}

function lines(text: string): string[] {
  return text.split('\n').slice(0, -1);
}

describe('export then import into a fresh file-store list', () => {
  it('exporting again gives the same bytes (SOURCE_DATE_EPOCH fixes exportedAt; without it only exportedAt differs)', async () => {
    const src = cliIn();
    await richList(src.dir);
    const first = src.tl(['export'], { env: EPOCH });
    assert.equal(first.status, 0, explain(first));
    const file = join(tempDir(), 'list.jsonl');
    writeFileSync(file, first.stdout);

    const dst = cliIn();
    const imported = dst.tl(['import', file, '--json']);
    assert.equal(imported.status, 0, explain(imported));
    assert.deepEqual(imported.json(), {
      list: 'default',
      tasks: 5,
      entries: lines(first.stdout).length - 6,
      highestId: 9,
    });

    const again = dst.tl(['export'], { env: EPOCH });
    assert.equal(again.status, 0, explain(again));
    assert.equal(again.stdout, first.stdout, 'the same bytes');

    // Without SOURCE_DATE_EPOCH, exportedAt is the time of the export, and nothing else differs.
    const plain = dst.tl(['export']);
    const [head, ...rest] = lines(plain.stdout);
    const [headFirst, ...restFirst] = lines(first.stdout);
    assert.deepEqual(rest, restFirst);
    const h = JSON.parse(head as string);
    assert.ok(Math.abs(Date.parse(h.exportedAt) - Date.now()) < 60_000, h.exportedAt);
    assert.deepEqual({ ...h, exportedAt: 'x' }, { ...JSON.parse(headFirst as string), exportedAt: 'x' });
    assert.equal(
      head,
      `{"type":"list","list":"default","version":1,"highestId":9,"exportedAt":"${h.exportedAt}"}`,
      'the list record, keys in their order',
    );
  });

  it('the task files are the same bytes as the source, valid for Claude Code, and tasks come in id order', async () => {
    const src = cliIn();
    await richList(src.dir);
    const dst = cliIn();
    const exported = src.tl(['export']);
    const r = dst.tl(['import', '-'], { input: exported.stdout });
    assert.equal(r.status, 0, explain(r));
    const names = readdirSync(join(src.dir, 'default')).filter((n) => n.endsWith('.json'));
    assert.deepEqual(names.sort(), ['1.json', '2.json', '3.json', '4.json', '9.json']);
    for (const name of names) {
      const bytes = readFileSync(join(dst.dir, 'default', name), 'utf8');
      assert.equal(bytes, readFileSync(join(src.dir, 'default', name), 'utf8'), name);
      parseTask(JSON.parse(bytes)); // Claude Code's read schema
    }
    const ids = lines(exported.stdout)
      .map((l) => JSON.parse(l))
      .filter((rec) => rec.type === 'task')
      .map((rec) => rec.task.id);
    assert.deepEqual(ids, ['1', '2', '3', '4', '9']);
  });

  it('ids, edges on both sides, metadata, states and history survive; restore works on the imported history; new ids go on above the high-water mark', async () => {
    const src = cliIn();
    await richList(src.dir);
    const dst = cliIn();
    assert.equal(dst.tl(['import'], { input: src.tl(['export']).stdout }).status, 0);

    const listed = (tl: typeof src.tl): Json => tl(['list', '--all', '--json']).json().tasks;
    assert.deepEqual(listed(dst.tl), listed(src.tl));
    const api = dst.tl(['show', '2', '--json']).json().task;
    assert.deepEqual(api.blockedBy, ['1']);
    assert.deepEqual(api.blocks, ['4']);
    assert.deepEqual(api.metadata.ticket, 'T-1');
    assert.deepEqual(api.metadata.nested, { z: 1, a: [1, { b: null }] });
    assert.equal(api.metadata.tasklane.failures.length, 1);
    assert.equal(dst.tl(['show', '1', '--json']).json().task.metadata.tasklane.result, 'schema.sql merged');
    assert.deepEqual(
      dst
        .tl(['ready', '--json'])
        .json()
        .tasks.map((t: Json) => t.id),
      src
        .tl(['ready', '--json'])
        .json()
        .tasks.map((t: Json) => t.id),
    );

    const history = (tl: typeof src.tl): Json =>
      tl(['history', '--limit', '0', '--json'])
        .json()
        .entries.map(({ file: _file, ...e }: Json) => e);
    const before = history(src.tl);
    assert.deepEqual(history(dst.tl), before, 'every entry with its seq, but the source store file stamps');
    assert.deepEqual(
      dst
        .tl(['history', '5', '--json'])
        .json()
        .entries.map((e: Json) => e.kind),
      ['created', 'deleted'],
    );

    // Task 5 was deleted in the source: the imported history brings it back, edges and all.
    const restored = dst.tl(['restore', '5', '--json']);
    assert.equal(restored.status, 0, explain(restored));
    assert.equal(restored.json().tasks[0].subject, 'Scratch');
    assert.ok(dst.tl(['show', '4', '--json']).json().task.blockedBy.includes('5'));

    // Above 9 (the Claude Code file's id), whatever the journal says.
    assert.equal(dst.tl(['create', 'next', '--json']).json().task.id, '10');
    assert.ok(dst.tl(['history', '--limit', '1', '--json']).json().entries[0].seq > before.at(-1).seq, 'seqs go on');
  });

  it('the high-water mark travels: a deleted highest id is not handed out again, by Tasklane or Claude Code', async () => {
    const src = cliIn();
    const store = openStore(src.dir, 'default');
    await store.create({ subject: 'one' });
    const two = await store.create({ subject: 'two' });
    await store.delete(two.id);
    const dst = cliIn();
    const r = dst.tl(['import', '--json'], { input: src.tl(['export']).stdout });
    assert.equal(r.json().highestId, 2);
    assert.equal(readFileSync(join(dst.dir, 'default', '.highwatermark'), 'utf8'), '2');
    assert.equal(dst.tl(['create', 'three', '--json']).json().task.id, '3');
  });
});

it('a list Claude Code cleared keeps its high-water mark through an import: no id is handed out twice', async () => {
  const src = cliIn();
  await openStore(src.dir, 'default').create({ subject: 'one' });
  const dst = cliIn();
  mkdirSync(join(dst.dir, 'default'));
  writeFileSync(join(dst.dir, 'default', '.highwatermark'), '7');
  const r = dst.tl(['import', '--json'], { input: src.tl(['export']).stdout });
  assert.equal(r.status, 0, explain(r));
  assert.equal(r.json().highestId, 7);
  assert.equal(readFileSync(join(dst.dir, 'default', '.highwatermark'), 'utf8'), '7');
  assert.equal(dst.tl(['create', 'next', '--json']).json().task.id, '8');
});

describe('importing into a list that is not empty', () => {
  it('is refused without --replace (exit 4, nothing changed), and --replace replaces the tasks and history, keeping the old history aside', async () => {
    const src = cliIn();
    await richList(src.dir);
    const file = join(tempDir(), 'export.jsonl');
    writeFileSync(file, src.tl(['export'], { env: EPOCH }).stdout);

    const dst = cliIn();
    const store = openStore(dst.dir, 'default');
    for (let i = 0; i < 12; i++) await store.create({ subject: `old ${i}` });
    const before = snapshot(dst.dir);
    const refused = dst.tl(['import', file, '--json']);
    assert.equal(refused.status, 4, explain(refused));
    assert.equal(refused.json().error.code, 'CONFLICT');
    assert.match(refused.stderr, /list default is not empty: it has 12 task files.*--replace/);
    assert.deepEqual(snapshot(dst.dir), before, 'nothing changed');

    const replaced = dst.tl(['import', file, '--replace', '--json']);
    assert.equal(replaced.status, 0, explain(replaced));
    assert.equal(replaced.json().highestId, 12, 'ids stay above both lists');
    assert.equal(
      dst.tl(['export'], { env: EPOCH }).stdout.split('\n').slice(1).join('\n'),
      readFileSync(file, 'utf8').split('\n').slice(1).join('\n'),
    );
    assert.deepEqual(
      readdirSync(join(dst.dir, 'default'))
        .filter((n) => n.endsWith('.json'))
        .sort(),
      ['1.json', '2.json', '3.json', '4.json', '9.json'],
    );
    const aside = readdirSync(join(dst.dir, '.tasklane', 'default')).filter((n) => n.startsWith('replaced-'));
    assert.equal(aside.length, 1);
    const old = readFileSync(join(dst.dir, '.tasklane', 'default', aside[0] as string, 'journal.jsonl'), 'utf8');
    assert.equal(lines(old).length, 12, 'the old history is kept');
    assert.equal(dst.tl(['create', 'new', '--json']).json().task.id, '13');
  });

  it('a list whose tasks are gone but whose history is not counts as not empty', async () => {
    const dst = cliIn();
    const store = openStore(dst.dir, 'default');
    const t = await store.create({ subject: 'cleared later' });
    await store.delete(t.id);
    const r = dst.tl(['import'], { input: exportOf([]) });
    assert.equal(r.status, 4, explain(r));
    assert.match(r.stderr, /has a history/);
  });
});

/** An export's text from records (the list record first). */
function exportOf(records: ExportRecord[], highestId = 0): string {
  const head: ExportRecord = { type: 'list', list: 'x', version: 1, highestId, exportedAt: '2026-01-01T00:00:00.000Z' };
  return [head, ...records].map(exportLine).join('');
}

describe('a malformed export is refused naming its line, and the target is left exactly as it was', async () => {
  const src = cliIn();
  await richList(src.dir);
  const good = lines(src.tl(['export']).stdout);
  const firstEntry = good.findIndex((l) => l.startsWith('{"type":"journal"'));
  const cases: { name: string; text: string; line: number; message: RegExp; field?: string }[] = [
    {
      name: 'bad JSON on line 3',
      text: [...good.slice(0, 2), '{"type":"task","task":{"id":', ...good.slice(3)].join('\n'),
      line: 3,
      message: /not valid JSON/,
    },
    {
      name: 'a task failing the schema',
      text: [good[0], (good[1] as string).replace('"status":"completed"', '"status":"done"'), ...good.slice(2)].join(
        '\n',
      ),
      line: 2,
      message: /task 1: status must be one of pending, in_progress, completed; got "done"/,
      field: 'task.status',
    },
    {
      name: 'a duplicate id',
      text: [...good.slice(0, 3), good[2], ...good.slice(3)].join('\n'),
      line: 4,
      message: /task 2 appears twice \(also on line 3\)/,
      field: 'task.id',
    },
    {
      name: 'a journal entry out of seq order',
      text: [...good.slice(0, firstEntry), good[firstEntry + 1], good[firstEntry], ...good.slice(firstEntry + 2)].join(
        '\n',
      ),
      line: firstEntry + 2,
      message: /journal entry seq 1 is out of order: it comes after seq 2/,
      field: 'entry.seq',
    },
    {
      name: 'a file cut at its start, without the list record',
      text: good.slice(1).join('\n'),
      line: 1,
      message: /the first record must be the list record/,
    },
    {
      name: 'a file cut in the middle of its last line',
      text: good.join('\n').slice(0, -40),
      line: good.length,
      message: /not valid JSON/,
    },
    {
      name: 'an edge on one task only',
      text: [good[0], (good[1] as string).replace('"blocks":["2","3"]', '"blocks":["3"]'), ...good.slice(2)].join('\n'),
      line: 3,
      message: /task 2: blockedBy names task 1, whose blocks \(line 2\) does not name 2/,
      field: 'task.blockedBy',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: exit 1, the error names the file and line ${c.line}, nothing is written`, async () => {
      const file = join(tempDir(), 'bad.jsonl');
      writeFileSync(file, c.text);
      // Into a list with tasks (--replace), and into a store that does not exist yet.
      const dst = cliIn();
      const store = openStore(dst.dir, 'default');
      {
        await store.create({ subject: 'kept' });
        await store.create({ subject: 'kept too', blockedBy: ['1'] });
        const before = snapshot(dst.dir);
        const r = dst.tl(['import', file, '--replace', '--json']);
        assert.equal(r.status, 1, explain(r));
        assert.ok(r.stderr.includes(`${file}:${c.line}: `), `names ${file}:${c.line}: ${r.stderr}`);
        assert.match(r.stderr, c.message);
        if (c.field !== undefined) assert.equal(r.json().error.field, c.field);
        assert.equal(r.json().error.file, file);
        assert.deepEqual(snapshot(dst.dir), before, 'the list is exactly as it was');

        const fresh = join(tempDir(), 'store');
        const r2 = spawnTl(['--dir', fresh, 'import', file]);
        assert.equal(r2.status, 1, r2.stderr);
        assert.equal(existsSync(fresh), false, 'no directory made');
      }
    });
  }

  it('a line that is not a record, an unknown version and an empty input are refused too', () => {
    const dst = cliIn();
    const bad = (text: string, message: RegExp): void => {
      const r = dst.tl(['import'], { input: text });
      assert.equal(r.status, 1, explain(r));
      assert.match(r.stderr, message);
    };
    bad('', /stdin: not a complete export: it is empty/);
    bad(`${good[0]}\n[1,2]\n`, /stdin:2: a record must be a JSON object, got array/);
    bad(`${good[0]}\n{"type":"tasks"}\n`, /stdin:2: type must be "list", "task" or "journal"/);
    bad(
      `${(good[0] as string).replace('"version":1', '"version":2')}\n`,
      /stdin:1: version 2 is not one this tasklane reads/,
    );
    bad(`${good[0]}\n\n${good[1]}\n`, /stdin:2: an empty line/);
    assert.equal(existsSync(join(dst.dir, 'default')), false);
  });
});

function spawnTl(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { env: cleanEnv(), encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('the store API', () => {
  it('exportList and importList carry a list between two stores, from records in memory', async () => {
    const a = await richList(tempDir(), 'one');
    const records: ExportRecord[] = [];
    for await (const r of a.exportList()) records.push(r);
    const b = openStore(tempDir(), 'two');
    const report = await b.importList(records);
    assert.deepEqual(report, { tasks: 5, entries: records.length - 6, highestId: 9 });
    const again: ExportRecord[] = [];
    for await (const r of b.exportList()) again.push(r);
    assert.deepEqual(again.slice(1).map(exportLine), records.slice(1).map(exportLine));
    assert.equal((again[0] as { list: string }).list, 'two');
  });

  it('importList refuses a cycle, naming it, and writes nothing', async () => {
    const dir = tempDir();
    const b = openStore(dir, 'l');
    const task = (id: string, blocks: string[], blockedBy: string[]): ExportRecord => ({
      type: 'task',
      task: { id, subject: id, description: '', status: 'pending', blocks, blockedBy },
    });
    const head: ExportRecord = {
      type: 'list',
      list: 'l',
      version: 1,
      highestId: 2,
      exportedAt: new Date().toISOString(),
    };
    await assert.rejects(
      b.importList([head, task('1', ['2'], ['2']), task('2', ['1'], ['1'])]),
      (err: Json) =>
        err.code === 'CYCLE' && /record 2: tasks block each other in a cycle: 1 -> 2 -> 1/.test(err.message),
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});

it('a closed stdout pipe (tasklane export | head -1) ends the export quietly, exit 0', async () => {
  const src = cliIn();
  const store = openStore(src.dir, 'default');
  for (let i = 0; i < 120; i++) await store.create({ subject: `task ${i}`, description: 'x'.repeat(2000) });
  const r = spawnSync(
    'bash',
    ['-c', `"${process.execPath}" "${cliPath}" --dir "${src.dir}" export | head -1; echo "exit=\${PIPESTATUS[0]}"`],
    { env: cleanEnv(), encoding: 'utf8' },
  );
  const out = lines(r.stdout);
  assert.equal(out.length, 2, r.stdout);
  assert.match(out[0] as string, /^\{"type":"list"/);
  assert.equal(out[1], 'exit=0', r.stderr);
  assert.equal(r.stderr, '');
});

it('export --output writes the file whole, and says what it wrote', async () => {
  const src = cliIn();
  await richList(src.dir);
  const out = join(tempDir(), 'backup.jsonl');
  const r = src.tl(['export', '--output', out, '--json'], { env: EPOCH });
  assert.equal(r.status, 0, explain(r));
  assert.deepEqual(r.json(), { list: 'default', tasks: 5, entries: r.json().entries, highestId: 9, output: out });
  assert.equal(readFileSync(out, 'utf8'), src.tl(['export'], { env: EPOCH }).stdout);
  assert.deepEqual(readdirSync(join(out, '..')), ['backup.jsonl'], 'no temp file left');
  const help = src.tl(['import', '--help']);
  assert.match(help.stdout, /--replace/);
});

it('task text stays data: control and bidi characters are escaped in the export and come back exact', async () => {
  const src = cliIn();
  const subject = 'evil \u001b]0;title\u0007 \u202e reversed \u009b2J end';
  await openStore(src.dir, 'default').create({ subject, description: 'line\r\nnext\u2028' });
  const out = src.tl(['export']).stdout;
  assert.doesNotMatch(
    out,
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2028]/,
    'nothing raw that a terminal obeys',
  );
  assert.ok(out.includes('\\u001b]0;title\\u0007 \\u202e reversed \\u009b2J'), out);
  const dst = cliIn();
  assert.equal(dst.tl(['import'], { input: out }).status, 0);
  const task = dst.tl(['show', '1', '--json']).json().task;
  assert.equal(task.subject, subject);
  assert.equal(task.description, 'line\r\nnext\u2028');
  assert.equal(dst.tl(['export']).stdout.split('\n').slice(1).join('\n'), out.split('\n').slice(1).join('\n'));
});
