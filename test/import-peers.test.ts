import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTask } from '../src/model/index.js';
import { openStore } from '../src/store/open.js';
import { detectFormat, readPeer } from '../src/store/peers/index.js';
import { cliIn, explain, type Json, snapshot } from './cli-run.js';
import { repoRoot, tempDir } from './helpers.js';

// tasklane import --from taskmaster|backlog|beads|claude: each peer's files (written by the peer's
// own program where it runs here: test/fixtures/peers/README.md) become a valid Tasklane list with
// their dependencies on both sides, statuses, owners and text; a report says what mapped how; a
// malformed input is refused naming its file and line, and nothing is written.

const fixtures = join(repoRoot, 'test', 'fixtures', 'peers');
const TASKMASTER = join(fixtures, 'taskmaster', 'tasks.json');
const BACKLOG = join(fixtures, 'backlog');
const BEADS = join(fixtures, 'beads');
const bad = (name: string): string => join(fixtures, 'malformed', name);

/** Every task file of the list, parsed by Claude Code's schema, by id. */
function tasksOf(dir: string, list = 'default'): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const name of readdirSync(join(dir, list)).filter((n) => n.endsWith('.json'))) {
    const task = parseTask(JSON.parse(readFileSync(join(dir, list, name), 'utf8')));
    out.set(task.id, task);
  }
  return out;
}

/** The task whose peer id (metadata.imported.id) is `peerId`. */
function byPeerId(tasks: Map<string, Json>, peerId: string): Json {
  const found = [...tasks.values()].find((t) => t.metadata?.imported?.id === peerId);
  assert.ok(found, `a task imported from ${peerId}`);
  return found;
}

/** Every edge is on both of its tasks, to a task of the list. */
function assertTwoSided(tasks: Map<string, Json>): void {
  for (const t of tasks.values()) {
    for (const b of t.blocks) assert.ok(tasks.get(b)?.blockedBy.includes(t.id), `${t.id} blocks ${b}: on both`);
    for (const b of t.blockedBy) assert.ok(tasks.get(b)?.blocks.includes(t.id), `${t.id} blockedBy ${b}: on both`);
  }
}

function doctorClean(tl: ReturnType<typeof cliIn>['tl']): void {
  const r = tl(['doctor', '--json']);
  assert.equal(r.status, 0, explain(r));
  assert.equal(r.json().consistent, true, r.stdout);
}

describe('Task Master (tasks.json written by task-master-ai 0.43.1)', () => {
  it('imports every tag: subtasks as tasks that block their parent, dependencies both sides, statuses, priority, details in the description', () => {
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'taskmaster', TASKMASTER, '--json']);
    assert.equal(r.status, 0, explain(r));
    const report = r.json();
    assert.equal(report.tasks, 10);
    assert.equal(report.ids, 'renumbered');
    assert.equal(report.highestId, 10);
    assert.deepEqual(Object.keys(report.idMap).slice(0, 6), [
      'master:1',
      'master:2',
      'master:2.1',
      'master:2.2',
      'master:2.3',
      'master:3',
    ]);
    assert.equal(report.idMap['feature-billing:1'], '8', 'tags in file order, ids unique only within a tag');
    const statuses = Object.fromEntries(report.statuses.map((s: Json) => [s.from, [s.to, s.count]]));
    assert.deepEqual(statuses, {
      pending: ['pending', 4],
      done: ['completed', 1],
      'in-progress': ['in_progress', 2],
      review: ['in_progress', 1],
      deferred: ['pending', 1],
      cancelled: ['completed', 1],
    });
    assert.equal(report.parentEdges, 3);

    const tasks = tasksOf(dst.dir);
    assert.equal(tasks.size, 10);
    assertTwoSided(tasks);
    const schema = byPeerId(tasks, 'master:1');
    assert.equal(schema.metadata.imported.tag, 'master');
    assert.equal(schema.status, 'completed');
    assert.equal(schema.metadata.tasklane.priority, 1, 'high is 1');
    assert.match(
      schema.description,
      /^Tables for users and sessions\n\n## Details\n\nUse PostgreSQL 16; one migration file\.$/,
    );
    const api = byPeerId(tasks, 'master:2');
    assert.deepEqual(api.blockedBy.map((id: string) => tasks.get(id).metadata.imported.id).sort(), [
      'master:1',
      'master:2.1',
      'master:2.2',
      'master:2.3',
    ]);
    // Subtask 2.3 was given "--dependencies 1": Task Master reads a bare number below 100 in a subtask as its sibling 2.1.
    const rate = byPeerId(tasks, 'master:2.3');
    assert.deepEqual(
      rate.blockedBy.map((id: string) => tasks.get(id).metadata.imported.id),
      ['master:2.1'],
    );
    assert.equal(rate.metadata.imported.parent, 'master:2');
    const billing = [...tasks.values()]
      .filter((t) => t.metadata.imported.tag === 'feature-billing')
      .sort((a, b) => Number(a.id) - Number(b.id));
    assert.deepEqual(
      billing.map((t) => [t.metadata.imported.id, t.status, t.blockedBy.length]),
      [
        ['feature-billing:1', 'in_progress', 0],
        ['feature-billing:2', 'pending', 1],
        ['feature-billing:3', 'completed', 0],
      ],
    );
    doctorClean(dst.tl);
    // The list goes on like any other: the ready set, new ids above the import's.
    assert.deepEqual(
      dst
        .tl(['ready', '--json'])
        .json()
        .tasks.map((t: Json) => t.id),
      ['3', '7'],
    );
    assert.equal(dst.tl(['create', 'next', '--json']).json().task.id, '11');
  });

  it('--tag imports one tag into its own list, its ids shown without the tag', () => {
    const dst = cliIn();
    const r = dst.tl([
      '--list',
      'billing',
      'import',
      '--from',
      'taskmaster',
      TASKMASTER,
      '--tag',
      'feature-billing',
      '--json',
    ]);
    assert.equal(r.status, 0, explain(r));
    assert.deepEqual(r.json().idMap, { '1': '1', '2': '2', '3': '3' });
    const unknown = dst.tl(['--list', 'x', 'import', '--from', 'taskmaster', TASKMASTER, '--tag', 'nope']);
    assert.equal(unknown.status, 1, explain(unknown));
    assert.match(unknown.stderr, /no tag "nope" in it; its tags are master, feature-billing/);
  });

  it('reads the older untagged form {"tasks": [...]} as the tag master, and a project directory\'s .taskmaster/tasks/tasks.json', () => {
    const tagged = JSON.parse(readFileSync(TASKMASTER, 'utf8'));
    const file = join(tempDir(), 'tasks.json');
    writeFileSync(file, JSON.stringify({ tasks: tagged.master.tasks }, null, 2));
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'taskmaster', file, '--json']);
    assert.equal(r.status, 0, explain(r));
    assert.equal(r.json().tasks, 7);
    assert.equal(tasksOf(dst.dir).get('1').metadata.imported.tag, 'master');

    const project = tempDir();
    mkdirSync(join(project, '.taskmaster', 'tasks'), { recursive: true });
    cpSync(TASKMASTER, join(project, '.taskmaster', 'tasks', 'tasks.json'));
    assert.equal(detectFormat(project), 'taskmaster');
    const r2 = cliIn().tl(['import', '--from', 'auto', project, '--json']);
    assert.equal(r2.status, 0, explain(r2));
    assert.equal(r2.json().from, 'taskmaster');
  });
});

describe('Backlog.md (a folder written by backlog.md 1.52.0)', () => {
  it('imports tasks/ with front matter and body, mixed id prefixes; drafts/ and archive/ are reported as skipped', () => {
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'backlog', BACKLOG, '--json']);
    assert.equal(r.status, 0, explain(r));
    const report = r.json();
    assert.equal(report.tasks, 9);
    assert.deepEqual(
      report.skipped.map((s: Json) => [s.task, s.why.split(':')[0]]),
      [
        ['draft-1', 'a draft, not yet a task (promote it in Backlog.md to import it)'],
        ['task-5', 'archived'],
      ],
    );
    assert.deepEqual(Object.keys(report.idMap), [
      'PROJ-1',
      'PROJ-2',
      'TASK-1',
      'TASK-2',
      'TASK-2.1',
      'TASK-3',
      'TASK-4',
      'TASK-5',
      'TASK-6',
    ]);
    const tasks = tasksOf(dst.dir);
    assertTwoSided(tasks);
    const schema = byPeerId(tasks, 'TASK-1');
    assert.equal(schema.status, 'completed');
    assert.equal(schema.owner, 'alice', 'the first assignee, without its @');
    assert.deepEqual(schema.metadata.tasklane.labels, ['backend', 'db']);
    assert.equal(schema.metadata.tasklane.priority, 1);
    assert.equal(schema.metadata.tasklane.createdAt, new Date('2026-11-30 10:19').toISOString());
    assert.match(
      schema.description,
      /## Acceptance Criteria\n- \[ \] #1 Migration runs on a fresh database\n- \[ \] #2 Rollback works$/,
    );
    assert.doesNotMatch(schema.description, /SECTION:|AC:BEGIN/, 'no Backlog.md markers');
    const ui = byPeerId(tasks, 'TASK-3');
    assert.equal(ui.status, 'in_progress');
    assert.deepEqual(ui.blockedBy.map((id: string) => tasks.get(id).metadata.imported.id).sort(), ['TASK-1', 'TASK-2']);
    const sessions = byPeerId(tasks, 'TASK-2.1');
    assert.deepEqual(sessions.blocks, [byPeerId(tasks, 'TASK-2').id], 'a subtask blocks its parent');
    const custom = byPeerId(tasks, 'PROJ-1');
    assert.equal(custom.owner, 'carol');
    assert.deepEqual(custom.metadata.imported.assignee, ['carol', 'dave']);
    assert.deepEqual(byPeerId(tasks, 'PROJ-2').blockedBy, [custom.id]);
    doctorClean(dst.tl);
  });

  it('matches ids without regard to case, reads a bare number as the same prefix, imports completed/ as completed, and drops a dependency on a missing task with a report', () => {
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'backlog', bad('backlog-old-ids'), '--json']);
    assert.equal(r.status, 0, explain(r));
    const report = r.json();
    assert.deepEqual(report.idMap, { 'task-1': '1', 'task-2': '2', 'task-3': '3' });
    assert.equal(report.dropped.length, 1);
    assert.deepEqual(
      {
        task: report.dropped[0].task,
        field: report.dropped[0].field,
        names: report.dropped[0].names,
        line: report.dropped[0].line,
      },
      { task: 'task-2', field: 'dependencies', names: 'task-9', line: 5 },
    );
    assert.match(report.dropped[0].file, /task-2 - Second\.md$/);
    const tasks = tasksOf(dst.dir);
    assert.deepEqual(tasks.get('1').blockedBy, ['3'], 'TASK-3 is task-3');
    assert.deepEqual(tasks.get('2').blockedBy, ['1'], 'the bare 1 is task-1');
    assert.equal(tasks.get('3').status, 'completed', 'completed/ is completed whatever its status says');
    assert.equal(tasks.get('1').owner, 'erin');
    assertTwoSided(tasks);
    // In text too: the dropped dependency, named by file and line.
    const text = cliIn().tl(['import', '--from', 'backlog', bad('backlog-old-ids')]);
    assert.match(
      text.stdout,
      /Dropped: 1 dependency\n {2}.*task-2 - Second\.md:5: task-2 dependencies names task-9: no task of the import has this id/,
    );
  });
});

describe('Beads (.beads/issues.jsonl written by hand to bd’s schema: bd does not install here)', () => {
  it('imports blocks as edges, parent-child as child-blocks-parent, other links as metadata; tombstones skipped; priority 0-4 mapped', () => {
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'beads', BEADS, '--json']);
    assert.equal(r.status, 0, explain(r));
    const report = r.json();
    assert.equal(report.tasks, 6);
    assert.deepEqual(
      report.skipped.map((s: Json) => [s.task, s.line]),
      [['bd-k9m0', 7]],
    );
    assert.deepEqual(
      report.dropped.map((d: Json) => [d.task, d.names, d.line]),
      [['bd-g7h8', 'bd-zz99', 6]],
    );
    assert.equal(report.parentEdges, 2);
    const tasks = tasksOf(dst.dir);
    assertTwoSided(tasks);
    const epic = byPeerId(tasks, 'bd-a1b2');
    const reg = byPeerId(tasks, 'bd-a1b2.1');
    const migration = byPeerId(tasks, 'bd-c3d4');
    assert.deepEqual(epic.blockedBy.sort(), [reg.id, byPeerId(tasks, 'bd-a1b2.2').id].sort());
    assert.deepEqual(reg.blockedBy, [migration.id]);
    assert.equal(reg.status, 'in_progress');
    assert.equal(reg.owner, 'bob');
    assert.equal(reg.metadata.tasklane.priority, 2, 'P0 is 2');
    assert.equal(reg.metadata.tasklane.estimate, 5400);
    assert.match(reg.description, /## Design\n\nUse @simplewebauthn\/server\.\n\n## Acceptance criteria\n\n/);
    assert.equal(migration.status, 'completed');
    assert.equal(migration.metadata.tasklane.completedAt, '2026-11-20T15:00:00.000Z');
    assert.equal(migration.metadata.imported.close_reason, 'merged in #88');
    const flaky = byPeerId(tasks, 'bd-e5f6');
    assert.deepEqual(flaky.blockedBy, [], 'related and discovered-from are not edges');
    assert.deepEqual(flaky.metadata.imported.links, [
      { type: 'discovered-from', id: 'bd-a1b2.1' },
      { type: 'related', id: 'bd-c3d4' },
    ]);
    assert.equal(byPeerId(tasks, 'bd-g7h8').metadata.tasklane.priority, -2, 'P4 is -2');
    doctorClean(dst.tl);
  });
});

describe('the rules every peer shares', () => {
  it('a child that waits for its parent keeps that dependency, and the subtask-blocks-parent edge that would close a cycle is left out and reported; a self-dependency is dropped', () => {
    const file = join(tempDir(), 'issues.jsonl');
    const issue = (id: string, deps: [string, string][]): string =>
      JSON.stringify({
        id,
        title: `Issue ${id}`,
        status: 'open',
        priority: 2,
        dependencies: deps.map(([on, type]) => ({ issue_id: id, depends_on_id: on, type })),
      });
    writeFileSync(
      file,
      [
        issue('bd-p', [['bd-p', 'blocks']]),
        issue('bd-p.1', [
          ['bd-p', 'parent-child'],
          ['bd-p', 'blocks'],
        ]),
        issue('bd-p.2', [['bd-p', 'parent-child']]),
      ].join('\n'),
    );
    const { records, report } = readPeer('beads', file, 'issues.jsonl');
    assert.deepEqual(
      report.dropped.map((d) => [d.task, d.names, d.line, d.why.split(':')[0]]),
      [
        ['bd-p', 'bd-p', 1, 'a task cannot wait for itself'],
        ['bd-p.1', 'bd-p', 2, 'a subtask-blocks-parent edge would close a cycle'],
      ],
    );
    assert.equal(report.parentEdges, 1);
    const tasks = records.flatMap((r) => (r.type === 'task' ? [r.task] : []));
    assert.deepEqual(
      tasks.map((t) => [t.id, t.blocks, t.blockedBy]),
      [
        ['1', ['2'], ['3']],
        ['2', [], ['1']],
        ['3', ['1'], []],
      ],
    );
  });
});

describe("Tasklane's limits hold for peers' values", () => {
  it('a title over 1,000 characters or 51 labels is refused naming the line and the peer field', () => {
    const file = join(tempDir(), 'issues.jsonl');
    const ok = JSON.stringify({ id: 'bd-1', title: 'One', status: 'open', priority: 2 });
    for (const [issue, message, field] of [
      [
        { id: 'bd-2', title: 'x'.repeat(1001), status: 'open' },
        'task bd-2: title is 1001 characters; the limit is 1000',
        'title',
      ],
      [
        { id: 'bd-2', title: 'Two', labels: Array.from({ length: 51 }, (_, i) => `l${i}`) },
        'task bd-2: labels has 51 entries; the limit is 50',
        'labels',
      ],
    ] as const) {
      writeFileSync(file, `${ok}\n${JSON.stringify(issue)}\n`);
      assert.throws(
        () => readPeer('beads', file, 'issues.jsonl'),
        (err: Json) =>
          err.code === 'INVALID_INPUT' &&
          err.message === `issues.jsonl:2: ${message}` &&
          err.field === field &&
          err.file === 'issues.jsonl',
      );
    }
  });
});

describe('a Claude Code list directory', () => {
  it('keeps every task as stored (ids, metadata, bytes) and the high-water mark; a one-sided edge is made two-sided, an edge to a missing task dropped, both reported', async () => {
    const src = tempDir();
    const store = openStore(src, 'work');
    const a = await store.create({ subject: 'Design', priority: 3, labels: ['x'] });
    const b = await store.create({ subject: 'Build', blockedBy: [a.id], metadata: { ticket: 'T-1' } });
    const gone = await store.create({ subject: 'Scratch' });
    await store.delete(gone.id);
    // Claude Code's own file, one-sided (blockedBy only) and naming a task that is not there.
    writeFileSync(
      join(src, 'work', '7.json'),
      JSON.stringify(
        {
          id: '7',
          subject: 'From Claude Code',
          description: '',
          status: 'pending',
          blocks: [],
          blockedBy: [b.id, '99'],
        },
        null,
        2,
      ),
    );
    const dst = cliIn();
    const r = dst.tl(['--list', 'copy', 'import', '--from', 'claude', join(src, 'work'), '--json']);
    assert.equal(r.status, 0, explain(r));
    const report = r.json();
    assert.equal(report.ids, 'kept');
    assert.equal(report.tasks, 3);
    assert.equal(report.highestId, 7);
    assert.deepEqual(
      report.dropped.map((d: Json) => [d.task, d.field, d.names]),
      [['7', 'blockedBy', '99']],
    );
    assert.equal(
      readFileSync(join(dst.dir, 'copy', '1.json'), 'utf8'),
      readFileSync(join(src, 'work', '1.json'), 'utf8'),
      '1.json is the same bytes',
    );
    const tasks = tasksOf(dst.dir, 'copy');
    const source = JSON.parse(readFileSync(join(src, 'work', '2.json'), 'utf8'));
    assert.deepEqual(tasks.get('2'), { ...source, blocks: ['7'] }, 'task 2 as stored, its edge to 7 made two-sided');
    assert.deepEqual(tasks.get('7').blockedBy, ['2']);
    assertTwoSided(tasks);
    doctorClean((args, opts) => dst.tl(['--list', 'copy', ...args], opts));
    assert.equal(dst.tl(['--list', 'copy', 'create', 'next', '--json']).json().task.id, '8');
  });
});

describe('a malformed input is refused naming its file and line (and field), and nothing is written', () => {
  const cases: { name: string; from: string; input: string; at: string; message: RegExp; field?: string }[] = [
    {
      name: 'Task Master: a status it does not have',
      from: 'taskmaster',
      input: bad('taskmaster-bad-status.json'),
      at: `${bad('taskmaster-bad-status.json')}:70: `,
      message: /task master:3: status must be one of pending, in-progress, review, done, .*; got "finished"/,
      field: 'status',
    },
    {
      name: 'Task Master: not JSON (a doubled comma)',
      from: 'taskmaster',
      input: bad('taskmaster-trailing-comma.json'),
      at: `${bad('taskmaster-trailing-comma.json')}:12: `,
      message: /not valid JSON/,
    },
    {
      name: 'Task Master (the older untagged form): a cycle',
      from: 'taskmaster',
      input: bad('taskmaster-cycle.json'),
      at: `${bad('taskmaster-cycle.json')}:3: `,
      message:
        /tasks wait for each other in a cycle: 1 -> 2 -> 1 \(at .*taskmaster-cycle\.json:3, .*taskmaster-cycle\.json:13\)/,
    },
    {
      name: 'Backlog.md: front matter that is not YAML',
      from: 'backlog',
      input: bad('backlog-bad-yaml'),
      at: 'task-1 - Design-the-schema.md:8: ',
      message: /the front matter is not valid YAML/,
    },
    {
      name: 'Backlog.md: the same id twice (task-1 and TASK-1)',
      from: 'backlog',
      input: bad('backlog-duplicate-id'),
      at: 'task-1 - The-same-id.md:1: ',
      message: /task task-1 appears twice \(also at .*task-1 - Design-the-schema\.md:1\)/,
      field: 'id',
    },
    {
      name: 'Beads: a line cut short',
      from: 'beads',
      input: bad('beads-bad-line.jsonl'),
      at: `${bad('beads-bad-line.jsonl')}:3: `,
      message: /not valid JSON/,
    },
    {
      name: 'Beads: a priority out of 0-4',
      from: 'beads',
      input: bad('beads-bad-priority.jsonl'),
      at: `${bad('beads-bad-priority.jsonl')}:2: `,
      message: /issue bd-2: priority must be a whole number from 0 to 4, got 7/,
      field: 'priority',
    },
    {
      name: 'Beads: an issue without a title',
      from: 'beads',
      input: bad('beads-no-title.jsonl'),
      at: `${bad('beads-no-title.jsonl')}:2: `,
      message: /issue bd-2: title must be a string, got nothing/,
      field: 'title',
    },
    {
      name: 'Beads: a cycle',
      from: 'beads',
      input: bad('beads-cycle.jsonl'),
      at: `${bad('beads-cycle.jsonl')}:1: `,
      message: /cycle: bd-1 -> bd-2 -> bd-1/,
    },
    {
      name: "Claude Code: a status Claude Code's schema refuses",
      from: 'claude',
      input: bad('claude-bad-status'),
      at: `${join(bad('claude-bad-status'), '2.json')}:5: `,
      message: /status must be one of pending, in_progress, completed; got "done"/,
      field: 'status',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 1, names ${c.at.trim()}`, async () => {
      const dst = cliIn();
      const store = openStore(dst.dir, 'default');
      await store.create({ subject: 'kept' });
      await store.create({ subject: 'kept too', blockedBy: ['1'] });
      const before = snapshot(dst.dir);
      const r = dst.tl(['import', '--from', c.from, c.input, '--replace', '--json']);
      assert.equal(r.status, 1, explain(r));
      assert.ok(r.stderr.includes(c.at), `names ${c.at}: ${r.stderr}`);
      assert.match(r.stderr, c.message);
      if (c.field !== undefined) assert.equal(r.json().error.field, c.field);
      assert.deepEqual(snapshot(dst.dir), before, 'the list is exactly as it was');
      const fresh = cliIn();
      assert.equal(fresh.tl(['import', '--from', c.from, c.input]).status, 1);
      assert.deepEqual(readdirSync(fresh.dir), [], 'no list made');
    });
  }
});

describe('the command', () => {
  it('refuses a list that is not empty (exit 4) unless --replace; --dry-run reports and writes nothing', async () => {
    const dst = cliIn();
    await openStore(dst.dir, 'default').create({ subject: 'old' });
    const before = snapshot(dst.dir);
    const refused = dst.tl(['import', '--from', 'beads', BEADS]);
    assert.equal(refused.status, 4, explain(refused));
    assert.match(refused.stderr, /list default is not empty/);
    const dryRefused = dst.tl(['import', '--from', 'beads', BEADS, '--dry-run']);
    assert.equal(dryRefused.status, 4, explain(dryRefused));
    assert.match(dryRefused.stderr, /list default is not empty: the import would be refused/);
    const dry = dst.tl(['import', '--from', 'beads', BEADS, '--dry-run', '--replace', '--json']);
    assert.equal(dry.status, 0, explain(dry));
    assert.equal(dry.json().dryRun, true);
    assert.equal(dry.json().tasks, 6);
    assert.deepEqual(snapshot(dst.dir), before, 'nothing written');
    const text = dst.tl(['import', '--from', 'beads', BEADS, '--dry-run', '--replace']);
    assert.match(
      text.stdout,
      /^Would import into list default from Beads .*: 6 tasks, 5 dependencies \(2 subtask-blocks-parent\)/,
    );
    const replaced = dst.tl(['import', '--from', 'beads', BEADS, '--replace', '--json']);
    assert.equal(replaced.status, 0, explain(replaced));
    assert.equal(replaced.json().highestId, 6);
    assert.equal(tasksOf(dst.dir).size, 6);
  });

  it("without --from, a peer's input is not read as an export: the error says which --from to use (exit 2); --from auto detects it", () => {
    const dst = cliIn();
    for (const [input, from] of [
      [TASKMASTER, 'taskmaster'],
      [BACKLOG, 'backlog'],
      [join(BEADS, '.beads', 'issues.jsonl'), 'beads'],
      [bad('claude-bad-status'), 'claude'],
    ] as const) {
      const r = dst.tl(['import', input]);
      assert.equal(r.status, 2, explain(r));
      assert.match(r.stderr, new RegExp(`add --from ${from}`));
      assert.equal(detectFormat(input), from);
    }
    const unclear = dst.tl(['import', '--from', 'auto', tempDir()]);
    assert.equal(unclear.status, 2, explain(unclear));
    assert.match(unclear.stderr, /cannot tell what .* is; name its format with --from/);
    assert.match(dst.tl(['import', '--help']).stdout, /--from FORMAT/);
  });

  it('task text stays data: control characters in a peer title are kept exact in the task and escaped in the report', () => {
    const file = join(tempDir(), 'issues.jsonl');
    const title = 'evil \u001b]0;title\u0007 end';
    writeFileSync(file, `${JSON.stringify({ id: 'bd-\u001b[2J', title, status: 'open', priority: 2 })}\n`);
    const dst = cliIn();
    const r = dst.tl(['import', '--from', 'beads', file]);
    assert.equal(r.status, 0, explain(r));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    assert.doesNotMatch(r.stdout, /\u001b/);
    assert.equal(tasksOf(dst.dir).get('1').subject, title);
  });
});

describe('the readers, through the store API', () => {
  it('give records any store imports, the same tasks each time but the import time', async () => {
    const one = readPeer('beads', BEADS, 'beads');
    const two = readPeer('beads', BEADS, 'beads');
    const strip = (x: unknown): string =>
      JSON.stringify(x).replace(/"(createdAt|updatedAt|exportedAt|fp)":"[^"]*"/g, '');
    assert.equal(strip(one.records.slice(1)), strip(two.records.slice(1)));
    const store = openStore(tempDir(), 'api');
    const report = await store.importList(one.records);
    assert.deepEqual(report, { tasks: 6, entries: 0, highestId: 6 });
    assert.equal((await store.list()).length, 6);
  });
});
