import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadPlan } from '../src/engine/plan/load.js';
import { readMarkdownPlan } from '../src/engine/plan/markdown.js';
import { codeSpans } from '../src/engine/plan/markdown-tree.js';
import type { PlanReading } from '../src/engine/plan/shape.js';
import { isTasklaneError } from '../src/model/errors.js';
import { repoRoot } from './helpers.js';

// The shapes of docs/plans.md read in-process: phases, step lists and their written dependencies,
// front-matter todos, sections that are not work, code spans, and hostile input that stays bounded.

const read = (text: string, shape?: 'phases' | 'steps'): PlanReading =>
  readMarkdownPlan(text, 'plan.md', shape === undefined ? {} : { shape });
const graph = (r: PlanReading) => r.spec.tasks.map((t) => [t.subject, t.after]);

function refuses(text: string, pattern: RegExp): void {
  assert.throws(
    () => loadPlan(text, 'plan.md'),
    (err: unknown) => {
      assert.ok(isTasklaneError(err, 'INVALID_INPUT'), String(err));
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('plan shapes: step lists', () => {
  test('a numbered list that writes no dependency runs in order; a bulleted one all at once', () => {
    assert.deepEqual(graph(read('## Steps\n1. A\n2. B\n3. C\n')), [
      ['A', []],
      ['B', ['a']],
      ['C', ['b']],
    ]);
    assert.deepEqual(graph(read('## Tasks\n- A\n- B\n')), [
      ['A', []],
      ['B', []],
    ]);
  });

  test('once one step writes a dependency, only written dependencies count', () => {
    assert.deepEqual(graph(read('## Implementation Steps\n1. A\n2. B\n3. C (after step 1)\n')), [
      ['A', []],
      ['B', []],
      ['C', ['a']],
    ]);
  });

  test('the ways people write dependencies', () => {
    const r = read(`## Work Items
1. Write the database schema
2. Seed data — depends on step 1
3. Build the API, once the schema is done
4. Write the client; requires the API
5. Deploy (blocked by steps 2-4)
6. Announce
   Depends on: Step 5
7. Clean up after the launch (after lunch)
`);
    assert.deepEqual(graph(r), [
      ['Write the database schema', []],
      ['Seed data', ['write-the-database-schema']],
      ['Build the API', ['write-the-database-schema']],
      ['Write the client', ['build-the-api']],
      ['Deploy', ['seed-data', 'build-the-api', 'write-the-client']],
      ['Announce', ['deploy']],
      ['Clean up after the launch (after lunch)', []],
    ]);
    assert.deepEqual(r.ambiguities, []);
  });

  test('a bold lead names the step; what follows is its description, nested items included', () => {
    const r = read(`## Todo
- [x] **Set up CI** (\`.github/workflows/ci.yml\`): lint and test on push
  - cache node_modules
- [ ] **Add the badge**: to the README
`);
    const [ci, badge] = r.spec.tasks;
    assert.equal(ci?.subject, 'Set up CI');
    assert.equal(ci?.done, true);
    assert.equal(ci?.description, '(`.github/workflows/ci.yml`): lint and test on push\n\n- cache node_modules');
    assert.equal(badge?.subject, 'Add the badge');
    assert.equal(badge?.description, 'to the README');
  });

  test('a reference that names nothing, or names several, is an ambiguity; loadPlan refuses it', () => {
    const text =
      '## Tasks\n1. Write docs\n2. Write tests\n3. Ship (requires the billing service)\n4. Review, once write is done\n';
    const r = read(text);
    assert.deepEqual(
      r.ambiguities.map((a) => [a.line, a.message]),
      [
        [4, '"(requires the billing service)": no step matches "the billing service"'],
        [5, '"once write is done": several steps match "write"'],
      ],
    );
    refuses(text, /plan\.md:4: "\(requires the billing service\)": no step matches/);
    // With --steps the reading is what was asked for: the unmatched reference is dropped.
    assert.deepEqual(read(text, 'steps').spec.tasks[2]?.after, []);
  });

  test('a step cannot wait for itself or for a step the list lacks', () => {
    const r = read('## Steps\n1. A\n2. B (after step 2)\n3. C (after step 9)\n');
    assert.deepEqual(
      r.ambiguities.map((a) => a.message),
      ['"(after step 2)": a step cannot wait for itself', '"(after step 9)": there is no step 9 in this list'],
    );
  });
});

describe('plan shapes: a list under "Tasks" written in Tasklane\'s dialect stays the dialect', () => {
  test('keys, colon references, priorities and estimates are read as before', () => {
    const r = read('## Tasks\n- Design the API {#api} !high\n- Build it (after: api) ~2h\n');
    assert.equal(r.shape, 'items');
    assert.deepEqual(
      r.spec.tasks.map((t) => [t.key, t.subject, t.after, t.priority, t.estimate]),
      [
        ['api', 'Design the API', [], 1, undefined],
        ['build-it', 'Build it', ['api'], undefined, 7200],
      ],
    );
  });
});

describe('plan shapes: phases', () => {
  test('"Step N", "Milestone N -", "Stage N." headings are phases too; each waits for the one before', () => {
    const r = read('# X\n## Step 1: Scaffold\ntext\n## Milestone 2 - Beta\n## Stage 3. Launch\n');
    assert.equal(r.shape, 'phases');
    assert.deepEqual(graph(r), [
      ['Scaffold', []],
      ['Beta', ['scaffold']],
      ['Launch', ['beta']],
    ]);
    assert.deepEqual(
      r.spec.tasks.map((t) => t.phase),
      ['Step 1', 'Milestone 2', 'Stage 3'],
    );
  });

  test('a phase says otherwise: "(parallel)" or a "Depends on" line', () => {
    const r = read(`## Phase 1: Core
## Phase 2: Docs (parallel)
## Phase 3: CLI
**Depends on:** Phase 1
## Phase 4: Release
`);
    assert.deepEqual(graph(r), [
      ['Core', []],
      ['Docs', []],
      ['CLI', ['core']],
      ['Release', ['cli']],
    ]);
  });

  test('steps inside a phase are its description, and the phase is the task', () => {
    const r = read('## Phase 1: Core\n### Step 1: parse\n- a\n### Step 2: print\n## Phase 2: Ship\n');
    assert.deepEqual(
      r.spec.tasks.map((t) => t.subject),
      ['Core', 'Ship'],
    );
    assert.equal(r.spec.tasks[0]?.description, '### Step 1: parse\n- a\n### Step 2: print');
  });

  test('checks: every command of the automated criteria, in order; a lead-in paragraph works as a heading does', () => {
    const r = read(`## Phase 1: Core
**Automated verification:**
- [ ] \`make lint\` and \`go test ./...\` pass
- [ ] \`./scripts/smoke.sh\` exits 0
- [ ] the file \`core.go\` exists

**Manual verification:**
- [ ] \`make demo\` looks right
`);
    const core = r.spec.tasks[0];
    assert.equal(core?.verify, 'make lint && go test ./... && ./scripts/smoke.sh');
    assert.match(core?.description ?? '', /the file `core.go` exists/);
    assert.match(core?.description ?? '', /`make demo` looks right/);
    assert.doesNotMatch(core?.description ?? '', /smoke/);
  });

  test('phases under a section that is not work are not read', () => {
    const r = read('## Phase 1: Now\n## Future Work\n### Phase 2: Later\n');
    assert.deepEqual(
      r.spec.tasks.map((t) => t.subject),
      ['Now'],
    );
    assert.deepEqual(r.skipped, [{ heading: 'Future Work', line: 2, reason: 'out of scope' }]);
  });
});

describe('plan shapes: front-matter todos', () => {
  test('YAML todos: statuses, dependencies by id, a string todo, a cancelled one left out', () => {
    const r = read(`---
title: T
todos:
  - {id: 1, content: "First\\nwith details", status: done}
  - {id: 2, content: Second, status: in_progress, dependencies: [1]}
  - {id: 3, content: Dropped, status: cancelled}
  - {id: 4, content: Fourth, depends_on: [2, 3]}
  - Fifth
---
body
`);
    assert.equal(r.shape, 'todos');
    assert.equal(r.spec.title, 'T');
    assert.deepEqual(
      r.spec.tasks.map((t) => [t.key, t.subject, t.after, t.done === true, t.description]),
      [
        ['task-1', 'First', [], true, 'with details'],
        ['task-2', 'Second', ['task-1'], false, undefined],
        ['task-4', 'Fourth', ['task-2'], false, undefined],
        ['fifth', 'Fifth', [], false, undefined],
      ],
    );
    assert.deepEqual(r.skipped, [{ heading: 'todo "Dropped"', line: 6, reason: 'its status is cancelled' }]);
  });

  test('JSON front matter, and a dependency on an id no todo has', () => {
    const r = read(
      '---json\n{"todos": [{"id": "a", "content": "A"}, {"id": "b", "content": "B", "dependencies": ["zz"]}]}\n---\n',
    );
    assert.deepEqual(graph(r), [
      ['A', []],
      ['B', []],
    ]);
    assert.deepEqual(r.ambiguities, [{ line: 2, message: 'todo "b" depends on "zz", which no todo has as its id' }]);
  });

  test('bad front matter is an error naming the line', () => {
    refuses('---\ntodos:\n  - content: [unclosed\n---\n', /^plan\.md:\d+: front matter is not valid YAML/);
    refuses('---\ntodos:\n  - status: pending\n---\n', /^plan\.md:3: front matter todo 1 has no content/);
  });
});

describe('plan shapes: sections that are not work', () => {
  test("in Tasklane's dialect too, with numbering, emoji and markup around the heading", () => {
    const r = read(`# Plan
## 1. Build
- Real work
## ⚠️ Risks
- Could be slow
## **Out of Scope**
- Rewrite everything
## 3) Open questions:
- Which DB?
`);
    assert.equal(r.shape, 'items');
    assert.deepEqual(
      r.spec.tasks.map((t) => t.subject),
      ['Real work'],
    );
    assert.deepEqual(
      r.skipped.map((s) => [s.line, s.reason]),
      [
        [4, 'risks, not work'],
        [6, 'out of scope'],
        [8, 'open questions, not work'],
      ],
    );
  });
});

describe('plan shapes: CommonMark', () => {
  test('code spans are text: no label, key or reference is read inside one', () => {
    const r = read('- A\n- Run `npm test #unit after #1 {#k}` now\n');
    assert.equal(r.spec.tasks[1]?.subject, 'Run `npm test #unit after #1 {#k}` now');
    assert.deepEqual(r.spec.tasks[1]?.after, []);
    assert.equal(r.spec.tasks[1]?.labels, undefined);
  });

  test("code spans by CommonMark's rule: runs of equal length, escapes", () => {
    assert.deepEqual(codeSpans('a `b` c'), [[2, 5]]);
    assert.deepEqual(codeSpans('``a ` b`` `c'), [[0, 9]]);
    assert.deepEqual(codeSpans('\\`a` `b`'), [[3, 6]], 'the escaped backtick opens nothing');
    assert.deepEqual(codeSpans('`unclosed'), []);
  });

  test('setext headings are headings; a list inside a quote is not a task list', () => {
    const r = read('Build\n=====\n- A\n\n> - quoted\n');
    assert.deepEqual(
      r.spec.tasks.map((t) => [t.subject, t.phase]),
      [['A', 'Build']],
    );
  });
});

describe('plan shapes: hostile input stays bounded', () => {
  test('a 1 MB line of references that fails at its end is refused for its length, not after a backtracking blow-up', () => {
    const line = `- A\n- B after ${'#1 and '.repeat(150_000)}#1 !\n`;
    assert.ok(line.length > 1_000_000);
    refuses(line, /^plan\.md:2: task .*subject is \d+ characters; the limit is 1000/);
    // The same references as a field line: read, each once.
    const field = `- A\n- B\n  after: ${'#1, '.repeat(200_000)}#1\n`;
    assert.deepEqual(read(field).spec.tasks[1]?.after, ['a']);
  });

  test('a 1 MB step list of written dependencies and a 1 MB phased plan are read', () => {
    const steps = ['## Implementation Steps\n'];
    for (let i = 1; steps.join('').length < 1_000_000 / 40; i++)
      steps.push(`${i}. Step ${i} (depends on step ${Math.max(1, i - 1)})\n`);
    const text = steps
      .join('')
      .repeat(40)
      .replace(/\(depends on step 1\)\n/, '\n');
    const r = read(text);
    assert.ok(r.spec.tasks.length > 1000);
    const words = ['## Tasks\n'];
    for (let i = 1; i <= 15_000; i++)
      words.push(`${i}. Build part ${i}${i > 1 ? `, once part ${i - 1} is done` : ''}\n`);
    const byWords = read(words.join(''));
    assert.deepEqual(byWords.ambiguities, []);
    assert.deepEqual(byWords.spec.tasks[14_999]?.after, ['build-part-14999']);
    const phases: string[] = [];
    for (let i = 1; phases.length < 15_000; i++)
      phases.push(`## Phase ${i}: P${i}\n- [ ] Tests: \`npm test -- p${i}\`\n`);
    assert.equal(read(phases.join('')).spec.tasks.length, 15_000);
  });

  test('markup CommonMark parsers find hard, and deep nesting, are read or refused with a line', () => {
    const hostile = `- Hostile\n  ${'*a **b [x ]( `` ` '.repeat(50_000)}\n- ${'*a **b [x ]( `` ` '.repeat(40)}\n`;
    assert.equal(read(hostile).spec.tasks.length, 2);
    const quotes = `${'> '.repeat(10_000)}- x\n\n- tail\n`;
    refuses(quotes, /^plan\.md:1: the plan nests lists or quotes more than 50 deep/);
    let nested = '';
    for (let i = 0; i < 60; i++) nested += `${'  '.repeat(i)}- L${i}\n`;
    refuses(`${nested}\n## After\n- tail\n`, /nests lists or quotes more than 50 deep/);
    let fine = '';
    for (let i = 0; i < 40; i++) fine += `${'  '.repeat(i)}- L${i}\n`;
    assert.equal(read(`${fine}\n## After\n- tail\n`).spec.tasks.length, 41);
  });
});

describe('plan shapes: the CLI loads the CommonMark parser only for plans', () => {
  /** Every module a compiled module loads at start-up: its static imports, followed; not its dynamic ones. */
  function staticClosure(entry: string): Set<string> {
    const seen = new Set<string>();
    const todo = [entry];
    while (todo.length > 0) {
      const file = todo.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      if (!file.startsWith('/')) continue; // a package
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
        const spec = m[1] as string;
        todo.push(spec.startsWith('.') ? join(file, '..', spec) : spec);
      }
    }
    return seen;
  }
  const cli = join(repoRoot, 'dist', 'src', 'cli');

  test('not at start-up, nor for list or run; for plan', () => {
    for (const entry of ['main.js', 'commands/list.js', 'commands/run.js']) {
      assert.ok(!staticClosure(join(cli, entry)).has('markdown-it'), `${entry} loads markdown-it at start-up`);
    }
    assert.ok(staticClosure(join(cli, 'commands', 'plan.js')).has('markdown-it'), 'the check sees the import');
    const commands = readdirSync(join(cli, 'commands')).filter((f) => f.endsWith('.js') && f !== 'plan.js');
    const loading = commands.filter((f) => staticClosure(join(cli, 'commands', f)).has('markdown-it'));
    assert.deepEqual(loading, []);
  });
});
