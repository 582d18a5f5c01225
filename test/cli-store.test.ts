import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { cleanEnv, explain, type Json, run } from './cli-run.js';
import { cliPath, repoRoot, tempDir } from './helpers.js';

// Which store a command opens (--store, TASKLANE_STORE, --dir, TASKLANE_DIR, the project), where
// a run's artifacts go, what agents are handed, and `tasklane lists`: real processes of the CLI.

function ok(r: ReturnType<typeof run>): ReturnType<typeof run> {
  assert.equal(r.status, 0, explain(r));
  return r;
}

function subjectIn(root: string, id: string, list = 'default'): string {
  return JSON.parse(readFileSync(join(root, list, `${id}.json`), 'utf8')).subject;
}

const DESCRIPTOR_AGENT = join(repoRoot, 'test', 'fixtures', 'store', 'descriptor-agent.mjs');

describe('store descriptor', () => {
  it('--store takes a directory or a file:// URL, and TASKLANE_STORE does the same', () => {
    const a = tempDir();
    const b = tempDir();
    const c = tempDir();
    ok(run(['--store', a, 'create', 'By path']));
    ok(run(['create', 'By URL', '--store', pathToFileURL(b).href]));
    ok(run(['create', 'By env'], { env: { TASKLANE_STORE: c } }));
    assert.equal(subjectIn(a, '1'), 'By path');
    assert.equal(subjectIn(b, '1'), 'By URL');
    assert.equal(subjectIn(c, '1'), 'By env');
    // A relative path is taken from the working directory.
    const cwd = tempDir();
    ok(run(['--store', 'lists', '--list', 'rel', 'create', 'Relative'], { cwd }));
    assert.equal(subjectIn(join(cwd, 'lists'), '1', 'rel'), 'Relative');
  });

  it('resolves --store, then TASKLANE_STORE, then TASKLANE_DIR, then the project', () => {
    const [flag, store, dir] = [tempDir(), tempDir(), tempDir()];
    const project = tempDir();
    ok(run(['init'], { cwd: project }));
    const where = (args: string[], env: Record<string, string>) =>
      ok(run([...args, 'lists', '--json'], { cwd: project, env })).json().store;
    assert.equal(where(['--store', flag], { TASKLANE_STORE: store, TASKLANE_DIR: dir }), flag);
    assert.equal(where(['--dir', flag], { TASKLANE_STORE: store }), flag, '--dir is a flag like --store');
    assert.equal(where([], { TASKLANE_STORE: store, TASKLANE_DIR: dir }), store);
    assert.equal(where([], { TASKLANE_DIR: dir }), dir);
    assert.equal(where([], {}), join(project, '.tasklane', 'tasks'));
  });

  it("names a plan relative to the project whether the project's store is found or given", () => {
    const project = tempDir();
    ok(run(['init'], { cwd: project }));
    mkdirSync(join(project, 'plans'));
    writeFileSync(join(project, 'plans', 'p.md'), '- Design\n- Build\n');
    const found = ok(run(['plan', 'plans/p.md', '--json'], { cwd: project })).json();
    assert.equal(found.source, 'plans/p.md');
    // An agent of a run in this project gets the store as TASKLANE_STORE, from any directory.
    const given = ok(
      run(['plan', join(project, 'plans', 'p.md'), '--json'], {
        cwd: tempDir(),
        env: { TASKLANE_STORE: join(project, '.tasklane', 'tasks') },
      }),
    ).json();
    assert.equal(given.source, 'plans/p.md');
    assert.deepEqual(given.created, [], 'the same plan: nothing created twice');
  });

  it('refuses --store with --dir, naming both, and changes nothing', () => {
    const [a, b] = [tempDir(), tempDir()];
    const r = run(['--store', a, '--dir', b, 'create', 'Where?']);
    assert.equal(r.status, 2, explain(r));
    assert.match(r.stderr, /--store and --dir cannot be used together/);
    assert.deepEqual(readdirSync(a), []);
    assert.deepEqual(readdirSync(b), []);
  });

  it("opens postgres:// as the PostgreSQL store, and never echoes the URL's password when it cannot connect", () => {
    for (const [args, env, scheme] of [
      [['--store', 'postgres://alice:s3cret@127.0.0.1:1/tasks'], {}, 'postgres'],
      [[], { TASKLANE_STORE: 'postgresql://alice:s3cret@127.0.0.1:1/tasks' }, 'postgresql'],
    ] as const) {
      const r = run([...args, 'list'], { env });
      assert.notEqual(r.status, 0, explain(r));
      assert.match(r.stderr, new RegExp(`PostgreSQL at ${scheme}://alice:\\*\\*\\*@127\\.0\\.0\\.1:1/tasks`));
      assert.doesNotMatch(r.stderr, /s3cret/, 'a database URL may hold a password');
    }
    const nameless = run(['--store', 'postgres://alice:s3cret@127.0.0.1:1', 'list']);
    assert.equal(nameless.status, 2, explain(nameless));
    assert.match(nameless.stderr, /must name the database/);
    assert.doesNotMatch(nameless.stderr, /s3cret/);
    const other = run(['--store', 'redis://x', 'list']);
    assert.equal(other.status, 2, explain(other));
    assert.match(other.stderr, /unknown store scheme redis:\/\//);
  });
});

describe('run artifacts and agents', () => {
  it('run whose stdout reader has gone exits 141, not 0, even when only the result finds it closed', async () => {
    const dir = tempDir();
    for (const subject of ['a', 'b']) ok(run(['--dir', dir, 'create', subject, '--meta', 'sim={"ms":20}']));
    const child = spawn(process.execPath, [cliPath, '--dir', dir, 'run', '--preset', 'sim', '-j', '1'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: cleanEnv(),
    });
    child.stdout.destroy(); // the reader leaves before the run has written anything
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 141);
  });

  it('keeps run artifacts in the list artifacts directory, out of git in a tasklane init project', () => {
    const project = tempDir();
    const git = (...args: string[]) =>
      spawnSync('git', ['-C', project, ...args], {
        encoding: 'utf8',
        env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' },
      });
    assert.equal(git('init', '-q').status, 0);
    const { artifactsDir } = ok(run(['init', '--json'], { cwd: project })).json();
    assert.equal(artifactsDir, join(project, '.tasklane', 'tasks', '.tasklane', 'default'));
    // A project list's ids are random (docs/git.md).
    const one = ok(run(['create', 'First', '--meta', 'sim={"ms":20}', '--json'], { cwd: project })).json().task.id;
    const two = ok(
      run(['create', 'Second', '--blocked-by', one, '--meta', 'sim={"ms":20}', '--json'], { cwd: project }),
    ).json().task.id;
    const r = ok(run(['run', '--preset', 'sim', '-j', '2', '--json'], { cwd: project }));
    assert.equal(r.json().ok, true);
    for (const part of [`logs/${one}.log`, `logs/${two}.log`, `results/${one}.md`, 'bin/tasklane']) {
      assert.ok(existsSync(join(artifactsDir, part)), `${part} in ${artifactsDir}`);
    }
    // What a lock leaves while held (or after its holder was killed): never something to commit.
    const listDir = join(project, '.tasklane', 'tasks', 'default');
    symlinkSync('{"pid":1}', join(listDir, `.${one}.json.lock.holder`));
    writeFileSync(join(listDir, `.${two}.json.tmp-1-0`), '{}');
    const status = git('status', '--porcelain', '--untracked-files=all');
    assert.equal(status.status, 0, status.stderr);
    const untracked = status.stdout.split('\n').filter((l) => l !== '');
    assert.deepEqual(
      untracked.sort(),
      [
        '?? .tasklane/.gitattributes', // init registered the git merge driver (docs/git.md)
        '?? .tasklane/.gitignore',
        `?? .tasklane/tasks/default/${one}.json`,
        `?? .tasklane/tasks/default/${two}.json`,
      ].sort(),
    );
  });

  it('init adds the artifact rules to an older .tasklane/.gitignore, keeping what it holds', () => {
    const project = tempDir();
    mkdirSync(join(project, '.tasklane'));
    writeFileSync(join(project, '.tasklane', '.gitignore'), '# mine\n.lock\n*.lock/\nnotes.txt');
    ok(run(['init'], { cwd: project }));
    const lines = readFileSync(join(project, '.tasklane', '.gitignore'), 'utf8').split('\n');
    assert.deepEqual(lines.slice(0, 4), ['# mine', '.lock', '*.lock/', 'notes.txt']);
    for (const rule of ['/tasks/.tasklane/', '/worktrees/']) assert.ok(lines.includes(rule), rule);
    assert.equal(lines.filter((l) => l === '.lock').length, 1);
  });

  it('hands every agent the run store as TASKLANE_STORE and TASKLANE_LIST, enough for its own tasklane', () => {
    const store = tempDir();
    const records = tempDir();
    const url = pathToFileURL(store).href;
    ok(run(['--store', url, '--list', 'team', 'create', 'Find me by descriptor']));
    const record = join(records, 'agent.json');
    const r = run(
      ['run', '--store', url, '--list', 'team', '--agent', `"${process.execPath}" "${DESCRIPTOR_AGENT}"`, '--json'],
      { env: { RECORD_FILE: record } },
    );
    assert.equal(r.status, 0, explain(r));
    const rec: Json = JSON.parse(readFileSync(record, 'utf8'));
    assert.equal(rec.TASKLANE_STORE, store);
    assert.equal(rec.TASKLANE_LIST, 'team');
    assert.equal(rec.TASKLANE_DIR, store, 'a directory store is also TASKLANE_DIR, for older scripts');
    assert.equal(rec.subjectSeen, 'Find me by descriptor');
  });
});

describe('the simulated agent', () => {
  it('reads its task through the store it is handed (TASKLANE_STORE), not by a path of its own', () => {
    const store = tempDir();
    const url = pathToFileURL(store).href;
    ok(
      run(['--store', url, '--list', 'sim', 'create', 'Scripted', '--meta', 'sim={"ms":0,"output":"from the store"}']),
    );
    const resultFile = join(tempDir(), 'result.md');
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'bundle', 'sim-agent.js')], {
      cwd: tempDir(),
      env: cleanEnv({
        TASKLANE_STORE: url,
        TASKLANE_LIST: 'sim',
        TASKLANE_TASK_ID: '1',
        TASKLANE_RESULT_FILE: resultFile,
      }),
      input: '',
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(resultFile, 'utf8'), 'from the store\n');
  });
});

describe('tasklane lists', () => {
  it("lists the store's lists with counts by state, marking the current one, skipping non-lists", () => {
    const root = tempDir();
    ok(run(['--store', root, 'create', 'A']));
    ok(run(['--store', root, 'create', 'B', '--blocked-by', '1']));
    ok(run(['--store', root, '--list', 'other', 'create', 'C']));
    ok(run(['--store', root, '--list', 'other', 'done', '1']));
    writeFileSync(join(root, 'notes.txt'), 'not a list');
    mkdirSync(join(root, '.tasklane', 'x'), { recursive: true });
    const out = ok(run(['--store', root, '--list', 'other', 'lists', '--json'])).json();
    assert.equal(out.store, root);
    assert.equal(out.current, 'other');
    assert.deepEqual(
      out.lists.map((l: Json) => [l.id, l.total, l.byState.ready, l.byState.blocked, l.byState.completed]),
      [
        ['default', 2, 1, 1, 0],
        ['other', 1, 0, 0, 1],
      ],
    );
    for (const l of out.lists) assert.ok(Date.parse(l.lastChange) > Date.now() - 600_000, l.lastChange);
    const text = ok(run(['--store', root, 'lists'])).stdout;
    assert.match(text, /^\* default +2 +1 /m);
    assert.match(text, /^ {2}other +1 /m);
    assert.doesNotMatch(text, /notes|\.tasklane/);
  });

  it('counts expired claims in a column of their own', () => {
    const root = tempDir();
    ok(run(['--store', root, 'create', 'A']));
    ok(run(['--store', root, 'create', 'B']));
    ok(run(['--store', root, 'claim', '--owner', 'w1', '--lease', '0.001', '1']));
    assert.equal(ok(run(['--store', root, 'lists', '--json'])).json().lists[0].byState.expired, 1);
    const [header, row] = ok(run(['--store', root, 'lists'])).stdout.split('\n');
    const cells = (line = ''): string[] => line.trim().split(/ {2,}/);
    assert.deepEqual(cells(header).slice(0, 5), ['LIST', 'TASKS', 'READY', 'RUNNING', 'EXPIRED']);
    assert.deepEqual(cells(row).slice(0, 5), ['* default', '2', '1', '0', '1']);
  });

  it("shows Claude Code's own lists in its root", () => {
    const config = tempDir();
    const list = join(config, 'tasks', 'a1b2-session');
    mkdirSync(list, { recursive: true });
    writeFileSync(
      join(list, '1.json'),
      JSON.stringify(
        { id: '1', subject: 'From Claude Code', description: '', status: 'in_progress', blocks: [], blockedBy: [] },
        null,
        2,
      ),
    );
    const out = ok(run(['lists', '--json'], { env: { CLAUDE_CONFIG_DIR: config } })).json();
    assert.deepEqual(
      out.lists.map((l: Json) => [l.id, l.total, l.byState.in_progress]),
      [['a1b2-session', 1, 1]],
    );
  });
});
