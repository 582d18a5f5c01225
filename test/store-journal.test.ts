import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { listDirName, serializeTask, type Task, tasklaneFields } from '../src/model/index.js';
import { scanList } from '../src/store/file/task-files.js';
import type { JournalEntry } from '../src/store/types.js';
import { cleanEnv, cliIn, explain, type Run } from './cli-run.js';
import { start } from './fixtures/store/procs.js';
import { cliPath, tempDir } from './helpers.js';

// Issue 7, observations 2, 3 and 4 and the journal's bounds, with the built CLI as real processes.

const LIST = 't';

function journalPath(dir: string): string {
  return join(dir, '.tasklane', listDirName(LIST), 'journal.jsonl');
}

/** Every line of the journal, which must each be a whole JSON entry ending in a newline. */
function journalLines(dir: string): JournalEntry[] {
  let text: string;
  try {
    text = readFileSync(journalPath(dir), 'utf8');
  } catch {
    return [];
  }
  assert.ok(text.length === 0 || text.endsWith('\n'), 'the journal ends with a whole line');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      try {
        return JSON.parse(l) as JournalEntry;
      } catch {
        return assert.fail(`journal line ${i + 1} does not parse: ${l.slice(0, 120)}`);
      }
    });
}

function ok(r: Run): Run {
  assert.equal(r.status, 0, explain(r));
  return r;
}

test('a cleared list hands out ids above every id the journal saw, and restore brings back every task with its result and its own edges only', () => {
  const { dir, tl } = cliIn();
  const t = (args: string[]) => ok(tl(['--list', LIST, ...args]));
  t(['create', 'A']);
  t(['create', 'B', '--blocked-by', '1']);
  t(['claim', '1', '--owner', 'w']);
  t(['done', '1', '--owner', 'w', '--result', 'A is done']);
  t(['claim', '2', '--owner', 'w']);
  t(['done', '2', '--owner', 'w', '--result', 'B is done']);
  // Claude Code's reset, or a user's rm -rf: the list directory is gone, .highwatermark with it.
  rmSync(join(dir, listDirName(LIST)), { recursive: true });

  const c = t(['create', 'C', '--json']).json();
  assert.equal(c.task.id, '3', 'the new task does not reuse an id the journal knows');

  const restored = t(['restore', '--json']).json().tasks;
  assert.deepEqual(
    restored.map((x: Task) => x.id),
    ['1', '2'],
    'every task the journal knows that is absent comes back',
  );
  const { tasks } = scanList(join(dir, listDirName(LIST)));
  const [a, b, newC] = ['1', '2', '3'].map((id) => tasks.get(id) as Task);
  assert.equal(a?.status, 'completed');
  assert.equal(tasklaneFields(a as Task).result, 'A is done');
  assert.equal(tasklaneFields(b as Task).result, 'B is done');
  assert.deepEqual([a?.blocks, b?.blockedBy], [['2'], ['1']], 'the edge between restored tasks, both sides');
  assert.deepEqual([newC?.blocks, newC?.blockedBy], [[], []], 'the new task is linked to nothing');

  // Without the record of the highest id (a journal from before it), the journal itself is read.
  rmSync(join(dir, listDirName(LIST)), { recursive: true });
  rmSync(join(dir, '.tasklane', listDirName(LIST), 'highest-id'));
  assert.equal(t(['create', 'D', '--json']).json().task.id, '4');
});

test('restore never links a restored task to a task that took a journaled id', () => {
  const { dir, tl } = cliIn();
  const t = (args: string[]) => ok(tl(['--list', LIST, ...args]));
  t(['create', 'A']);
  t(['create', 'B', '--blocked-by', '1']);
  const listDir = join(dir, listDirName(LIST));
  rmSync(listDir, { recursive: true });
  t(['create', 'C']); // id 3: makes the directory again
  // Another program (an old Claude Code) writes an unrelated task 1.
  const foreign = { id: '1', subject: 'Unrelated', description: '', status: 'pending', blocks: [], blockedBy: [] };
  writeFileSync(join(listDir, '1.json'), JSON.stringify(foreign, null, 2));
  const restored = t(['restore', '--json']).json().tasks;
  assert.deepEqual(
    restored.map((x: Task) => [x.id, x.blockedBy]),
    [['2', []]],
  );
  assert.equal(readFileSync(join(listDir, '1.json'), 'utf8'), JSON.stringify(foreign, null, 2), 'left alone');
});

test("a claim racing a create is journaled after the task's `created` (the create's flush delayed by strace)", async () => {
  const { dir, tl } = cliIn();
  // The claimer claims task 1 by id the moment its file appears.
  const claimer = start('claim-on-sight', [dir, LIST, '1']);
  await claimer.line((l) => l === 'ready');
  // The creator's fsyncs (after its files are in place, before or while it journals) take 700 ms each.
  const creator = spawn(
    'strace',
    [
      '-f',
      '-qq',
      '-o',
      '/dev/null',
      '-e',
      'trace=fsync',
      '-e',
      'inject=fsync:delay_exit=700000:when=1..3',
      process.execPath,
      cliPath,
      '--dir',
      dir,
      '--list',
      LIST,
      'create',
      'Raced',
    ],
    { env: cleanEnv(), stdio: 'ignore' },
  );
  const code = await new Promise<number | null>((resolve) => creator.on('close', resolve));
  assert.equal(code, 0, 'the create succeeded');
  assert.equal(await claimer.line((l) => l.startsWith('claimed') || l.startsWith('refused')), 'claimed');
  await claimer.exit;
  const kinds = journalLines(dir)
    .filter((e) => e.taskId === '1')
    .map((e) => e.kind);
  assert.deepEqual(kinds, ['created', 'claimed'], "the task's first entry is its creation");
  const restoredSide = ok(tl(['--list', LIST, 'history', '1', '--json'])).json().entries;
  assert.deepEqual(
    restoredSide.map((e: JournalEntry) => e.seq),
    [1, 2],
  );
});

test('a torn last journal line is ended before the next append, so it never swallows an entry', () => {
  const { dir, tl } = cliIn();
  const t = (args: string[]) => ok(tl(['--list', LIST, ...args]));
  t(['create', 'A']);
  appendFileSync(journalPath(dir), '{"seq":2,"at":"2026-01-01T00:00:00.000Z","kind":"upd'); // a writer killed mid-line
  t(['create', 'B']);
  const text = readFileSync(journalPath(dir), 'utf8');
  const lines = text.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 3);
  const b = JSON.parse(lines[2] as string) as JournalEntry;
  assert.equal(b.kind, 'created');
  assert.equal(b.taskId, '2');
  // The torn line's seq is never used again (it may have been seen by no one, but it is never repeated).
  assert.deepEqual(
    t(['history', '--json'])
      .json()
      .entries.map((e: JournalEntry) => `${e.seq}:${e.kind}:${e.taskId}`),
    ['1:created:1', '3:created:2'],
  );
});

test('a heartbeat journals a small record, not the task; history and restore read it', () => {
  const { dir, tl } = cliIn();
  const t = (args: string[]) => ok(tl(['--list', LIST, ...args]));
  const descFile = join(tempDir(), 'desc.txt');
  writeFileSync(descFile, 'x'.repeat(200_000));
  t(['create', 'Big', '--description-file', descFile]);
  t(['claim', '1', '--owner', 'w']);
  t(['heartbeat', '1', '--owner', 'w']);
  const text = readFileSync(journalPath(dir), 'utf8');
  const last = text
    .split('\n')
    .filter((l) => l.length > 0)
    .at(-1) as string;
  assert.ok(last.length < 1000, `the heartbeat line is ${last.length} bytes`);
  const entry = JSON.parse(last) as JournalEntry;
  assert.equal(entry.kind, 'heartbeat');
  assert.equal(entry.task, undefined);
  assert.equal(entry.fields?.rev, 3);
  const history = t(['history', '--json']).json().entries as JournalEntry[];
  assert.deepEqual(
    history.map((e) => e.kind),
    ['created', 'claimed', 'heartbeat'],
  );
  ok(tl(['--list', LIST, 'history'])); // the table tolerates an entry without a task
  rmSync(join(dir, listDirName(LIST)), { recursive: true });
  const restored = t(['restore', '--json']).json().tasks;
  assert.equal(restored[0].description.length, 200_000);
});

// ---- a full disk ----

interface State {
  files: Map<string, string>;
  entries: string[];
  debris: string[];
}

function stateOf(dir: string): State {
  const listDir = join(dir, listDirName(LIST));
  const files = new Map<string, string>();
  const { tasks, invalid } = scanList(listDir);
  assert.deepEqual(
    invalid.map((e) => e.message),
    [],
    'every task file is valid',
  );
  for (const [id, task] of tasks) files.set(id, serializeTask(task));
  let names: string[] = [];
  try {
    names = readdirSync(listDir);
  } catch {}
  const debris = names.filter((n) => n.includes('.tmp-'));
  return { files, entries: journalLines(dir).map((e) => JSON.stringify(e)), debris };
}

/** Files and journal agree: each task file is what the journal's last entry for it says. */
function assertAgree(dir: string, state: State, when: string): void {
  const last = new Map<string, Task>();
  for (const line of state.entries) {
    const e = JSON.parse(line) as JournalEntry;
    if (e.task !== undefined) last.set(e.taskId, e.task);
    if (e.kind === 'deleted') last.delete(e.taskId);
  }
  for (const [id, content] of state.files) {
    const journaled = last.get(id);
    assert.ok(journaled !== undefined, `${when}: task ${id} is in the journal`);
    assert.equal(serializeTask(journaled), content, `${when}: task ${id}'s file is its last journal entry`);
  }
  assert.deepEqual(state.debris, [], `${when}: no temp file left in ${dir}`);
}

test('on a full disk (a 200 KiB tmpfs) every acknowledged change is in files and journal, every refused one left nothing', (t) => {
  const dir = tempDir('tasklane-tmpfs-');
  const mount = spawnSyncOk('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', dir]);
  if (!mount.ok) {
    assert.fail(`cannot mount a tmpfs at ${dir} (this test needs root): ${mount.output}`);
  }
  t.after(() => spawnSyncOk('umount', [dir]));
  const filler = join(dir, 'filler');
  /** Fills the disk but for `pages` pages (tmpfs counts whole pages), so a change fails at each of its steps in turn. */
  const leaveFree = (pages: number): void => {
    writeFileSync(filler, '');
    const { bavail, bsize } = statfsSync(dir);
    const size = (bavail - pages) * bsize;
    try {
      if (size > 0) writeFileSync(filler, Buffer.alloc(size, 1));
    } catch {}
  };
  const { tl } = cliIn(dir);
  const desc = 'd'.repeat(2000);
  let acked = 0;
  let refused = 0;
  let ids: string[] = [];
  let n = 0;
  const step = (phase: string): void => {
    n++;
    const before = stateOf(dir);
    const pick = ids.length < 2 ? 0 : n % 5;
    const [a, b] = [ids[n % ids.length] as string, ids[(n + 1) % ids.length] as string];
    const args =
      pick === 0
        ? ['create', `task ${n}`, '--description', desc, '--json']
        : pick === 1
          ? ['update', a, '--meta', `note=${'n'.repeat(700)}${n}`]
          : pick === 2
            ? ['claim', a, '--owner', 'w']
            : pick === 3
              ? ['done', a, '--owner', 'w', '--result', `r${n}`]
              : ['dep', 'add', ...[a, b].sort((x, y) => Number(x) - Number(y))];
    const r = tl(['--list', LIST, ...args]);
    const after = stateOf(dir);
    const when = `${phase} op ${n} (${args.slice(0, 2).join(' ')}, exit ${r.status})`;
    if (r.status === 0) {
      acked++;
      if (pick === 0) ids = [...ids, r.json().task.id];
      assertAgree(dir, after, when);
      assert.ok(after.entries.length > before.entries.length || pick >= 2, `${when}: journaled`);
      return;
    }
    if (/ENOSPC|no space/i.test(r.stderr)) refused++;
    assert.deepEqual(after.files, before.files, `${when}: a refused change left the files as they were\n${r.stderr}`);
    assert.deepEqual(after.entries, before.entries, `${when}: a refused change left no journal entry`);
    assert.deepEqual(after.debris, [], `${when}: no temp file left`);
  };
  for (let i = 0; i < 42; i++) {
    leaveFree(i % 6);
    step(`${i % 6} pages free:`);
  }
  assert.ok(refused >= 6, `the disk was full (acked ${acked}, refused for a full disk ${refused})`);
  const ackedWhenFull = acked;
  unlinkSync(filler);
  for (let i = 0; i < 12 && acked < ackedWhenFull + 3; i++) step('after freeing space');
  assert.ok(acked >= ackedWhenFull + 3, 'changes are acknowledged again once space is freed');
  assertAgree(dir, stateOf(dir), 'at the end');
  t.diagnostic(`${acked} changes acknowledged, ${refused} refused for a full disk`);
});

function spawnSyncOk(cmd: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}` };
}
