import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { openStore } from '../src/store/open.js';
import { cleanEnv, cliIn, explain, type Json, run } from './cli-run.js';
import { cliPath, repoRoot, tempDir } from './helpers.js';

// The CLI's happy paths as a person and a script see them: real processes on a fresh --dir each,
// checking the output shapes documented in docs/cli.md and what lands on disk.

const ESC = '\x1b[';
const TASK_KEYS = ['id', 'subject', 'description', 'status', 'blocks', 'blockedBy', 'metadata', 'state'];

function taskFile(dir: string, id: string, list = 'default'): Json {
  return JSON.parse(readFileSync(join(dir, list, `${id}.json`), 'utf8'));
}

function ok(r: ReturnType<typeof run>): ReturnType<typeof run> {
  assert.equal(r.status, 0, explain(r));
  return r;
}

describe('create and show', () => {
  it('create --json prints the task exactly as stored, plus its state', () => {
    const { dir, tl } = cliIn();
    const { task } = ok(tl(['create', 'Write API', '--description', 'REST endpoints', '--json'])).json();
    assert.deepEqual(Object.keys(task), TASK_KEYS);
    assert.equal(task.id, '1');
    assert.equal(task.state, 'ready');
    const { state: _state, ...stored } = task;
    assert.deepEqual(stored, taskFile(dir, '1'));
    assert.deepEqual(Object.keys(stored), Object.keys(taskFile(dir, '1')), 'same key order as the file');
  });

  it('create takes blockers, blocks, priority, labels, estimate, owner, active form and metadata', () => {
    const { dir, tl } = cliIn();
    ok(tl(['create', 'Design']));
    ok(tl(['create', 'Later']));
    const args = ['create', 'Write', 'API', '--blocked-by', '1', '--blocks', '2', '--priority', '5'];
    args.push('--label', 'api,backend', '--label', 'v1', '--estimate', '2h', '--owner', 'ana');
    args.push('--active-form', 'Writing the API', '--meta', 'pr=12', '--meta', 'note=plain text', '--json');
    const { task } = ok(tl(args)).json();
    assert.equal(task.subject, 'Write API', 'positional words are joined into the subject');
    assert.deepEqual(task.blockedBy, ['1']);
    assert.deepEqual(task.blocks, ['2']);
    assert.equal(task.owner, 'ana');
    assert.equal(task.activeForm, 'Writing the API');
    assert.equal(task.state, 'blocked');
    assert.equal(task.metadata.pr, 12);
    assert.equal(task.metadata.note, 'plain text');
    assert.equal(task.metadata.tasklane.priority, 5);
    assert.deepEqual(task.metadata.tasklane.labels, ['api', 'backend', 'v1']);
    assert.equal(task.metadata.tasklane.estimate, 7200);
    assert.deepEqual(taskFile(dir, '1').blocks, ['3'], 'the edge is written on the blocker too');
    assert.deepEqual(taskFile(dir, '2').blockedBy, ['3']);
  });

  it('create reads the description from a file, or from stdin with -', () => {
    const { dir, tl } = cliIn();
    const file = join(tempDir(), 'desc.md');
    writeFileSync(file, 'line one\nline two ✓\n');
    ok(tl(['create', 'From file', '--description-file', file]));
    assert.equal(taskFile(dir, '1').description, 'line one\nline two ✓\n');
    ok(tl(['create', 'From stdin', '--description-file', '-'], { input: 'piped ✓' }));
    assert.equal(taskFile(dir, '2').description, 'piped ✓');
  });

  it('create prints one readable line', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'Design']));
    const r = ok(tl(['create', 'Write API', '--blocked-by', '#1']));
    assert.equal(r.stdout, 'Created #2 Write API [blocked], blocked by #1\n');
  });

  it('show prints the task with blockers, description and result; --json gives {"task"}', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'Design']));
    ok(tl(['create', 'Write API', '--blocked-by', '1', '--description', 'All the endpoints']));
    const text = ok(tl(['show', '2'])).stdout;
    assert.match(text, /^#2 Write API/);
    assert.match(text, /state\s+blocked/);
    assert.match(text, /blocked by\s+#1 \(pending\)/);
    assert.match(text, /Description\n {2}All the endpoints/);
    ok(tl(['done', '1', '--result', 'schema.sql']));
    const { task } = ok(tl(['show', '#2', '--json'])).json();
    assert.equal(task.state, 'ready', 'its blocker completed');
    assert.match(ok(tl(['show', '1'])).stdout, /Result\n {2}schema\.sql/);
  });
});

describe('list, ready, blocked', () => {
  /** 1 done; 2 after 1 (ready); 3 after 2 (blocked); 4 alone, priority 9, label x, owner bo. */
  async function fixture(): Promise<ReturnType<typeof cliIn>> {
    const c = cliIn();
    // Set up through the store in-process; the commands under test run as processes.
    const store = openStore({ dir: c.dir, list: 'default' });
    await store.create({ subject: 'One' });
    await store.create({ subject: 'Two', blockedBy: ['1'] });
    await store.create({ subject: 'Three', blockedBy: ['2'], labels: ['x'] });
    await store.create({ subject: 'Four', priority: 9, labels: ['x'] });
    await store.complete('1', {});
    await store.close();
    return c;
  }

  it('list shows open tasks in a table; --all adds completed ones; --json gives {"list","tasks"}', async () => {
    const { tl } = await fixture();
    const text = ok(tl(['list'])).stdout;
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID\s+STATE\s+PRI\s+OWNER\s+SUBJECT\s+BLOCKED BY$/);
    assert.match(lines[1] ?? '', /^#2\s+ready\s+0\s+-\s+Two$/);
    assert.match(lines[2] ?? '', /^#3\s+blocked\s+0\s+-\s+Three\s+#2$/);
    assert.match(lines[3] ?? '', /^#4\s+ready\s+9\s+-\s+Four$/);
    assert.match(lines[4] ?? '', /1 completed not shown/);
    assert.ok(!text.includes(ESC), 'no colour when stdout is not a terminal');
    const all = ok(tl(['list', '--all', '--json'])).json();
    assert.deepEqual(Object.keys(all), ['list', 'tasks', 'hiddenCompleted']);
    assert.equal(all.list, 'default');
    assert.deepEqual(
      all.tasks.map((t: Json) => [t.id, t.state]),
      [
        ['1', 'completed'],
        ['2', 'ready'],
        ['3', 'blocked'],
        ['4', 'ready'],
      ],
    );
  });

  it('list filters by status, state, owner and label', async () => {
    const { tl } = await fixture();
    ok(tl(['update', '4', '--owner', 'bo']));
    const ids = (args: string[]): string[] =>
      ok(tl(['list', ...args, '--json']))
        .json()
        .tasks.map((t: Json) => t.id);
    assert.deepEqual(ids(['--status', 'completed']), ['1']);
    assert.deepEqual(ids(['--state', 'blocked,assigned']), ['3', '4']);
    assert.deepEqual(ids(['--owner', 'bo']), ['4']);
    assert.deepEqual(ids(['--label', 'x']), ['3', '4']);
    assert.deepEqual(ids(['--state', 'ready']), ['2']);
  });

  it('ready lists ready tasks in claim order (priority first)', async () => {
    const { tl } = await fixture();
    const r = ok(tl(['ready', '--json'])).json();
    assert.deepEqual(
      r.tasks.map((t: Json) => t.id),
      ['4', '2'],
    );
    assert.ok(r.tasks.every((t: Json) => t.state === 'ready'));
  });

  it('blocked lists blocked tasks with their open blockers', async () => {
    const { tl } = await fixture();
    const r = ok(tl(['blocked', '--json'])).json();
    assert.deepEqual(
      r.tasks.map((t: Json) => [t.id, t.openBlockers]),
      [['3', ['2']]],
    );
    assert.match(ok(tl(['blocked'])).stdout, /#3\s+blocked\s+0\s+-\s+Three\s+#2/);
  });

  it('an empty list says where it looked', () => {
    const { dir, tl } = cliIn();
    const r = ok(tl(['list']));
    assert.match(r.stdout, /No tasks in list "default"/);
    assert.ok(r.stdout.includes(dir), r.stdout);
    assert.deepEqual(ok(tl(['list', '--json'])).json(), { list: 'default', tasks: [], hiddenCompleted: 0 });
  });
});

describe('update and dep', () => {
  it('update changes the named fields; --meta merges, null deletes; --no-owner removes the owner', () => {
    const { dir, tl } = cliIn();
    ok(tl(['create', 'One', '--owner', 'ana', '--meta', 'a=1', '--meta', 'b=2']));
    const args = ['update', '1', '--subject', 'Uno', '--priority', '3', '--label', 'p', '--no-owner'];
    const { task } = ok(tl([...args, '--meta', 'a=null', '--meta', 'c={"x":1}', '--json'])).json();
    assert.equal(task.subject, 'Uno');
    assert.equal(task.owner, undefined);
    assert.equal(task.metadata.a, undefined);
    assert.equal(task.metadata.b, 2);
    assert.deepEqual(task.metadata.c, { x: 1 });
    assert.equal(task.metadata.tasklane.priority, 3);
    assert.deepEqual(task.metadata.tasklane.labels, ['p']);
    const { state: _s, ...stored } = task;
    assert.deepEqual(stored, taskFile(dir, '1'));
    assert.match(ok(tl(['update', '1', '--status', 'completed'])).stdout, /^Updated #1 Uno \[completed\]/);
  });

  it('update --if-rev applies at the current revision and fails with exit 4 at an old one', () => {
    const { dir, tl } = cliIn();
    ok(tl(['create', 'One']));
    const rev = taskFile(dir, '1').metadata.tasklane.rev;
    ok(tl(['update', '1', '--subject', 'First', '--if-rev', String(rev)]));
    const before = readFileSync(join(dir, 'default', '1.json'));
    const r = tl(['update', '1', '--subject', 'Second', '--if-rev', String(rev), '--json']);
    assert.equal(r.status, 4, explain(r));
    assert.equal(r.json().error.code, 'CONFLICT');
    assert.match(r.stderr, /^tasklane: error: task 1 changed/);
    assert.deepEqual(readFileSync(join(dir, 'default', '1.json')), before);
  });

  it('dep add writes the edge on both tasks; dep rm removes it; --json gives {"blocker","blocked"}', () => {
    const { dir, tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['create', 'Two']));
    const added = ok(tl(['dep', 'add', '1', '2', '--json'])).json();
    assert.deepEqual(Object.keys(added), ['blocker', 'blocked']);
    assert.deepEqual(added.blocker.blocks, ['2']);
    assert.deepEqual(added.blocked.blockedBy, ['1']);
    assert.equal(added.blocked.state, 'blocked');
    assert.deepEqual(taskFile(dir, '2').blockedBy, ['1']);
    assert.match(ok(tl(['dep', 'rm', '1', '2'])).stdout, /#1 no longer blocks #2/);
    assert.deepEqual(taskFile(dir, '1').blocks, []);
    assert.deepEqual(taskFile(dir, '2').blockedBy, []);
  });
});

describe('claims: claim, heartbeat, release, done, fail, retry, reap', () => {
  it('claim --json gives {"task","token","expiresAt"}; nothing left gives exit 3 and {"task": null}', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'Low']));
    ok(tl(['create', 'High', '--priority', '2']));
    const c = ok(tl(['claim', '--owner', 'w1', '--json'])).json();
    assert.deepEqual(Object.keys(c), ['task', 'token', 'expiresAt']);
    assert.equal(c.task.id, '2', 'the higher priority first');
    assert.equal(c.task.owner, 'w1');
    assert.equal(c.task.state, 'in_progress');
    assert.equal(c.task.metadata.tasklane.lease.token, c.token);
    ok(tl(['claim', '--owner', 'w2']));
    const none = tl(['claim', '--owner', 'w3', '--json']);
    assert.equal(none.status, 3, explain(none));
    assert.deepEqual(none.json(), { task: null });
    const text = tl(['claim', '--owner', 'w3']);
    assert.equal(text.status, 3);
    assert.match(text.stdout, /Nothing to claim/);
  });

  it('claiming a task someone holds is a conflict: exit 4', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['claim', '1', '--owner', 'w1']));
    const r = tl(['claim', '1', '--owner', 'w2', '--json']);
    assert.equal(r.status, 4, explain(r));
    assert.equal(r.json().error.code, 'NOT_CLAIMABLE');
    assert.match(r.stderr, /task 1 cannot be claimed/);
  });

  it('heartbeat renews the lease for the holder (by token or owner) and refuses others with exit 4', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'One']));
    const c = ok(tl(['claim', '--owner', 'w1', '--lease', '30', '--json'])).json();
    const h = ok(tl(['heartbeat', '1', '--token', c.token, '--lease', '10m', '--json'])).json();
    assert.deepEqual(Object.keys(h), ['task', 'token', 'expiresAt']);
    assert.equal(h.token, c.token);
    assert.ok(Date.parse(h.expiresAt) > Date.parse(c.expiresAt), 'the lease was extended');
    ok(tl(['heartbeat', '1', '--owner', 'w1']));
    const r = tl(['heartbeat', '1', '--owner', 'w2']);
    assert.equal(r.status, 4, explain(r));
    assert.match(r.stderr, /not "w2"/);
  });

  it('release returns a held task to ready; only its holder may', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['claim', '--owner', 'w1']));
    assert.equal(tl(['release', '1', '--owner', 'w2']).status, 4);
    const { task } = ok(tl(['release', '1', '--owner', 'w1', '--json'])).json();
    assert.equal(task.state, 'ready');
    assert.equal(task.owner, undefined);
  });

  it('done completes with a result; a held task needs its holder; TASKLANE_OWNER is the default holder', () => {
    const { dir, tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['create', 'Two', '--blocked-by', '1']));
    ok(tl(['claim', '--owner', 'w1']));
    const wrong = tl(['done', '1', '--result', 'x']);
    assert.equal(wrong.status, 4, `a task held by w1 cannot be completed anonymously\n${explain(wrong)}`);
    const env = { TASKLANE_OWNER: 'w1' };
    const { task } = ok(tl(['done', '1', '--result', 'it works', '--json'], { env })).json();
    assert.equal(task.state, 'completed');
    assert.equal(task.metadata.tasklane.result, 'it works');
    assert.equal(taskFile(dir, '1').status, 'completed');
    assert.equal(ok(tl(['show', '2', '--json'])).json().task.state, 'ready', 'its dependent is ready');
    const free = ok(tl(['done', '2', '--result-file', '-'], { input: 'from stdin' }));
    assert.match(free.stdout, /^Completed #2 Two \[completed\]/, 'an unclaimed task needs no identity');
    assert.equal(taskFile(dir, '2').metadata.tasklane.result, 'from stdin');
  });

  it('claim uses TASKLANE_OWNER when --owner is absent, and then done needs no flags', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'One']));
    const env = { TASKLANE_OWNER: 'robot-7' };
    assert.equal(ok(tl(['claim', '--json'], { env })).json().task.owner, 'robot-7');
    ok(tl(['done', '1'], { env }));
  });

  it('fail marks the task failed with its reason; retry makes it ready again', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['claim', '--owner', 'w1']));
    const failed = ok(tl(['fail', '1', '--owner', 'w1', '--reason', 'tests fail', '--json'])).json();
    assert.equal(failed.task.state, 'failed');
    assert.equal(failed.task.metadata.tasklane.failure.reason, 'tests fail');
    assert.equal(tl(['claim', '--owner', 'w2']).status, 3, 'a failed task is not claimable');
    const { task } = ok(tl(['retry', '1', '--json'])).json();
    assert.equal(task.state, 'ready');
    assert.equal(task.metadata.tasklane.failures.length, 1);
  });

  it('update --status completed or pending on a failed task completes it as done does or reopens it as retry does', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'Build']));
    ok(tl(['create', 'Test']));
    ok(tl(['fail', '1', '--reason', 'flaky']));
    ok(tl(['fail', '2', '--reason', 'red']));
    const completed = ok(tl(['update', '1', '--status', 'completed', '--json'])).json().task;
    assert.equal(completed.state, 'completed');
    assert.equal(completed.metadata.tasklane.failure, undefined);
    assert.equal(ok(tl(['update', '1', '--status', 'pending', '--json'])).json().task.state, 'ready');
    const reopened = ok(tl(['update', '2', '--status', 'pending']));
    assert.match(reopened.stdout, /^Updated #2 Test \[ready\]/);
    assert.deepEqual(
      ok(tl(['show', '2', '--json']))
        .json()
        .task.metadata.tasklane.failures.map((f: Json) => f.reason),
      ['red'],
    );
    assert.equal(ok(tl(['claim', '--owner', 'w', '--json'])).json().task.id, '1');
    assert.equal(ok(tl(['claim', '--owner', 'w', '--json'])).json().task.id, '2');
  });

  it('reap returns tasks whose lease expired', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['claim', '--owner', 'w1', '--lease', '0.001']));
    const r = ok(tl(['reap', '--json'])).json();
    assert.deepEqual(
      r.tasks.map((t: Json) => [t.id, t.state]),
      [['1', 'ready']],
    );
    assert.match(ok(tl(['reap'])).stdout, /No expired leases/);
  });
});

describe('delete, history, restore, stats', () => {
  it('delete removes the task and references to it; history records it; restore brings it back', () => {
    const { dir, tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['create', 'Two', '--blocked-by', '1']));
    const { task } = ok(tl(['delete', '1', '--json'])).json();
    assert.equal(task.id, '1');
    assert.equal(existsSync(join(dir, 'default', '1.json')), false);
    assert.deepEqual(taskFile(dir, '2').blockedBy, []);
    const h = ok(tl(['history', '--json'])).json();
    assert.deepEqual(Object.keys(h), ['entries']);
    const last = h.entries.at(-1);
    assert.ok(
      h.entries.some((e: Json) => e.kind === 'deleted' && e.taskId === '1'),
      JSON.stringify(h),
    );
    assert.deepEqual(Object.keys(last).slice(0, 4), ['seq', 'at', 'kind', 'taskId']);
    assert.deepEqual(
      ok(tl(['history', '1', '--json']))
        .json()
        .entries.map((e: Json) => e.kind),
      ['created', 'dependency', 'deleted'],
    );
    assert.match(
      ok(tl(['history', '--limit', '1'])).stdout,
      /^SEQ\s+AT\s+KIND\s+TASK\s+ACTOR\s+SUBJECT\n\d+\s+\S+\s+\w+/,
    );
    const restored = ok(tl(['restore', '--json'])).json();
    assert.deepEqual(
      restored.tasks.map((t: Json) => t.id),
      ['1'],
    );
    assert.equal(taskFile(dir, '1').subject, 'One');
    assert.deepEqual(taskFile(dir, '2').blockedBy, ['1'], 'the edge is back on both sides');
    assert.match(ok(tl(['restore'])).stdout, /Nothing to restore/);
  });

  it('restore brings a task deleted while claimed back released, claimable by anyone', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'A']));
    ok(tl(['claim', '1', '--owner', 'w', '--lease', '10m']));
    ok(tl(['delete', '1']));
    assert.match(ok(tl(['restore', '1'])).stdout, /^Restored #1 A \[ready\]/);
    assert.equal(ok(tl(['claim', '--owner', 'z', '--json'])).json().task.owner, 'z');
  });

  it('stats --json is the StoreStats object', () => {
    const { tl } = cliIn();
    ok(tl(['create', 'One']));
    ok(tl(['create', 'Two', '--blocked-by', '1']));
    ok(tl(['claim', '--owner', 'w1']));
    const s = ok(tl(['stats', '--json'])).json();
    assert.deepEqual(s, {
      list: 'default',
      total: 2,
      byState: { ready: 0, expired: 0, blocked: 1, assigned: 0, in_progress: 1, failed: 0, completed: 0 },
      byStatus: { pending: 1, in_progress: 1, completed: 0 },
      owners: { w1: 1 },
    });
    assert.match(ok(tl(['stats'])).stdout, /2 tasks/);
  });
});

describe('where lists live', () => {
  it('init makes .tasklane/tasks here, and commands in subdirectories find it by walking up', () => {
    const project = tempDir();
    const r = ok(run(['init'], { cwd: project }));
    assert.match(r.stdout, /Initialised \.tasklane\/tasks/);
    assert.ok(existsSync(join(project, '.tasklane', 'tasks', 'default')));
    const deep = join(project, 'src', 'deep');
    mkdirSync(deep, { recursive: true });
    const { task } = ok(run(['create', 'Found by walking up', '--json'], { cwd: deep })).json();
    // A project list's ids are random (docs/git.md), not Claude Code's counter.
    assert.match(task.id, /^[a-z][0-9a-z]{7}$/);
    assert.equal(taskFile(join(project, '.tasklane', 'tasks'), task.id).subject, 'Found by walking up');
    const again = ok(run(['init', '--json'], { cwd: project })).json();
    assert.equal(again.created, false);
    assert.equal(again.root, join(project, '.tasklane', 'tasks'));
  });

  it('CLAUDE_CODE_TASK_LIST_ID alone selects that list under CLAUDE_CONFIG_DIR/tasks', () => {
    const claude = tempDir();
    const env = { CLAUDE_CONFIG_DIR: claude, CLAUDE_CODE_TASK_LIST_ID: 'sprint-7' };
    const { task } = ok(run(['create', 'Shared with Claude Code', '--json'], { env })).json();
    assert.equal(task.id, '1');
    assert.equal(taskFile(join(claude, 'tasks'), '1', 'sprint-7').subject, 'Shared with Claude Code');
    assert.equal(ok(run(['list', '--json'], { env })).json().list, 'sprint-7');
    const other = { ...env, TASKLANE_LIST: 'mine' };
    assert.equal(ok(run(['list', '--json'], { env: other })).json().list, 'mine', 'TASKLANE_LIST wins');
    assert.equal(ok(run(['list', '--list', 'x', '--json'], { env: other })).json().list, 'x', '--list wins');
  });

  it('TASKLANE_DIR chooses the root; --list may come before or after the command', () => {
    const root = tempDir();
    ok(run(['--list', 'a', 'create', 'In a'], { env: { TASKLANE_DIR: root } }));
    ok(run(['create', 'In b', '--list', 'b'], { env: { TASKLANE_DIR: root } }));
    assert.equal(taskFile(root, '1', 'a').subject, 'In a');
    assert.equal(taskFile(root, '1', 'b').subject, 'In b');
  });
});

const CORE = ['init', 'create', 'show', 'list', 'ready', 'blocked', 'update', 'dep', 'claim', 'heartbeat'];
const CORE2 = [
  'release',
  'done',
  'fail',
  'retry',
  'delete',
  'history',
  'restore',
  'stats',
  'lists',
  'reap',
  'demo',
  'doctor',
];

describe('help, version, colour, usage', () => {
  it('tasklane --help lists every command, global options and exit codes', () => {
    const r = ok(run(['--help']));
    for (const name of [...CORE, ...CORE2]) assert.match(r.stdout, new RegExp(`^  ${name} `, 'm'), name);
    assert.match(r.stdout, /--dir DIR/);
    assert.match(r.stdout, /Exit codes: 0 done, 1 error, 2 bad usage, 3 nothing to claim, 4 conflict/);
    assert.equal(ok(run([])).stdout, r.stdout, 'no arguments prints the same overview');
  });

  it('every command has --help with usage and examples', () => {
    for (const name of [...CORE, ...CORE2]) {
      const r = ok(run([name, '--help']));
      assert.match(r.stdout, new RegExp(`^Usage: tasklane ${name}`), `${name} --help starts with its usage`);
      const examples = r.stdout.split('Examples:\n')[1];
      assert.ok(examples !== undefined, `${name} --help has examples`);
      assert.match(examples, new RegExp(`^ +.*tasklane ${name}`, 'm'), `${name} --help shows itself in an example`);
      assert.match(r.stdout, /--json/, `${name} --help mentions --json`);
    }
    assert.match(ok(run(['help', 'claim'])).stdout, /^Usage: tasklane claim/);
  });

  it('start-up loads only what the command uses: no command module for --help, no dependency for list', () => {
    const loader = join(tempDir(), 'trace.mjs');
    const hook =
      'export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write("LOADED " + r.url + "\\n"); return r; }';
    writeFileSync(loader, hook);
    const loaded = (program: string, args: string[]): string[] => {
      const flags = ['--no-warnings', `--experimental-loader=${pathToFileURL(loader).href}`];
      const r = spawnSync(process.execPath, [...flags, program, ...args], { env: cleanEnv(), encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stderr
        .split('\n')
        .filter((l) => l.startsWith('LOADED file:'))
        .map((l) => l.slice('LOADED '.length));
    };
    // The compiled tree, module by module.
    const compiled = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const help = loaded(compiled, ['--help']);
    assert.ok(help.length > 0, 'the trace works');
    const heavy = help.filter((u) => /\/cli\/commands\/|\/src\/(store|engine)\/|node_modules/.test(u));
    assert.deepEqual(heavy, [], '--help loads no command, store or dependency');
    const list = loaded(compiled, ['--dir', tempDir(), 'list', '--json']);
    assert.ok(list.some((u) => u.endsWith('/cli/commands/list.js')));
    const extra = list.filter((u) => /node_modules|\/src\/engine\/|\/cli\/commands\/(?!list\.js)/.test(u));
    assert.deepEqual(extra, [], 'list loads no other command, no engine, no dependency (zod, the MCP SDK)');
    // The bundle the bin runs keeps those imports lazy: its chunks holding the MCP SDK and zod
    // (found by the class names the bundle keeps) are loaded by mcp, never by --help or list.
    const bundleDir = dirname(cliPath);
    const sdkChunks = readdirSync(bundleDir)
      .filter((f) => f.endsWith('.js'))
      .filter((f) => /McpServer|ZodError/.test(readFileSync(join(bundleDir, f), 'utf8')))
      .map((f) => pathToFileURL(join(bundleDir, f)).href);
    assert.ok(sdkChunks.length > 0, 'the bundle holds the SDK somewhere');
    const bundledHelp = loaded(cliPath, ['--help']);
    const bundledList = loaded(cliPath, ['--dir', tempDir(), 'list', '--json']);
    assert.ok(bundledList.length > bundledHelp.length, 'list loads its own chunk');
    assert.deepEqual(
      bundledList.filter((u) => sdkChunks.includes(u)),
      [],
      'bundled list loads no SDK chunk',
    );
    assert.deepEqual(
      bundledHelp.filter((u) => sdkChunks.includes(u)),
      [],
      'bundled --help loads no SDK chunk',
    );
    const bundledMcp = loaded(cliPath, ['--dir', tempDir(), 'mcp']); // stdin closed at once: it serves, then exits
    assert.ok(
      bundledMcp.some((u) => sdkChunks.includes(u)),
      'and the check can see them: mcp loads the SDK chunks',
    );
  });

  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(ok(run(['--version'])).stdout, `${pkg.version}\n`);
  });

  it('colour: FORCE_COLOR turns it on; NO_COLOR and --no-color turn it off', () => {
    const { dir } = cliIn();
    run(['--dir', dir, 'create', 'One']);
    const list = (env: Record<string, string>, extra: string[] = []): string =>
      ok(run(['--dir', dir, 'list', ...extra], { env })).stdout;
    assert.ok(list({ FORCE_COLOR: '1' }).includes(`${ESC}32mready`), 'ready is green');
    assert.ok(!list({ FORCE_COLOR: '1', NO_COLOR: '1' }).includes(ESC), 'NO_COLOR wins');
    assert.ok(!list({ FORCE_COLOR: '1' }, ['--no-color']).includes(ESC), '--no-color wins');
    assert.ok(!list({}).includes(ESC), 'not a terminal: no colour');
  });

  it('on a real terminal: colour by default, none with NO_COLOR', (t) => {
    // util-linux `script` runs the CLI on a pseudo-terminal.
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('no util-linux script(1) here');
    const { dir } = cliIn();
    run(['--dir', dir, 'create', 'One']);
    const onTty = (env: Record<string, string>): string => {
      const command = `"${process.execPath}" "${cliPath}" --dir "${dir}" list`;
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { env: cleanEnv(env), encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /#1/);
      return r.stdout;
    };
    assert.ok(onTty({}).includes(`${ESC}32mready`), 'a terminal gets colour');
    assert.ok(!onTty({ NO_COLOR: '1' }).includes(ESC), 'NO_COLOR turns it off');
  });

  it('unknown command: exit 2 with a suggestion; --json also prints the error object', () => {
    const r = run(['lsit', '--json']);
    assert.equal(r.status, 2, explain(r));
    assert.match(r.stderr, /^tasklane: error: unknown command 'lsit'; did you mean 'list'\?/);
    assert.deepEqual(Object.keys(r.json().error), ['code', 'message']);
    assert.equal(r.json().error.code, 'USAGE');
  });

  it('errors with --json print {"error": {code, message, task, list}} on stdout', () => {
    const { tl } = cliIn();
    const r = tl(['show', '42', '--json']);
    assert.equal(r.status, 1, explain(r));
    const { error } = r.json();
    assert.equal(error.code, 'NOT_FOUND');
    assert.equal(error.task, '42');
    assert.equal(error.list, 'default');
    assert.match(r.stderr, /^tasklane: error: no task 42 in list default/);
  });
});

describe('demo', () => {
  it('builds the example list and shows ready, blocked, order, critical path and claims', () => {
    const { dir, tl } = cliIn();
    const text = ok(tl(['demo'])).stdout;
    for (const heading of ['Ready now', 'Blocked, and on what', 'topological order', 'Critical path', 'The list now']) {
      assert.ok(text.includes(heading), `demo output has "${heading}"`);
    }
    assert.match(text, /alice completes it, so now ready: #3 Build the UI, #2 Write the API/);
    assert.ok(existsSync(join(dir, 'demo', '8.json')));
    const again = tl(['demo']);
    assert.equal(again.status, 2, 'the demo refuses a list that already has tasks');
    const j = ok(tl(['demo', '--list', 'd2', '--json'])).json();
    assert.deepEqual(j.ready, ['1', '7']);
    assert.deepEqual(j.order, ['1', '2', '3', '4', '5', '6', '7', '8']);
    assert.equal(j.criticalPath['1'], 11.5 * 3600);
    assert.equal(j.tasks.length, 8);
  });

  it('without --dir it uses a fresh temporary directory, not the real lists', () => {
    const claude = tempDir();
    const r = ok(run(['demo', '--json'], { env: { CLAUDE_CONFIG_DIR: claude } }));
    const { dir } = r.json();
    assert.ok(dir.includes('tasklane-demo-'), dir);
    assert.equal(existsSync(join(claude, 'tasks')), false, 'nothing written under CLAUDE_CONFIG_DIR');
    rmSync(dir, { recursive: true, force: true }); // the demo keeps it for a person to explore
  });
});
