import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMarkdownPlan } from '../src/engine/plan/markdown.js';
import type { PlanSpec, PlanTask } from '../src/engine/plan/spec.js';
import { isTasklaneError } from '../src/model/errors.js';

// The markdown plan syntax of docs/plans.md: phases, subtasks, references, annotations, errors.

const parse = (text: string): PlanSpec => parseMarkdownPlan(text, 'plan.md');

/** key -> the keys it waits for through `after`. */
function afterOf(spec: PlanSpec): Record<string, string[]> {
  return Object.fromEntries(spec.tasks.map((t) => [t.key, t.after]));
}

function task(spec: PlanSpec, key: string): PlanTask {
  const t = spec.tasks.find((x) => x.key === key);
  assert.ok(t, `no task with key ${key}; keys: ${spec.tasks.map((x) => x.key).join(', ')}`);
  return t;
}

/** Asserts the parse fails with INVALID_INPUT (or the given code) and a message matching `pattern`. */
function rejects(text: string, pattern: RegExp, code: 'INVALID_INPUT' | 'CYCLE' = 'INVALID_INPUT'): void {
  assert.throws(
    () => parse(text),
    (err: unknown) => {
      assert.ok(isTasklaneError(err, code), `expected ${code}, got ${String(err)}`);
      assert.match(err.message, pattern);
      assert.equal(err.file, 'plan.md');
      return true;
    },
  );
}

describe('plan markdown: phases', () => {
  test('a level-1 heading with no items is the title; headings are phases, run one after another', () => {
    const spec = parse(`# Launch

## Design
- Design API
- Write schema

## Build
- Build API
- Build UI
`);
    assert.equal(spec.title, 'Launch');
    assert.deepEqual(afterOf(spec), {
      'design-api': [],
      'write-schema': [],
      'build-api': ['design-api', 'write-schema'],
      'build-ui': ['design-api', 'write-schema'],
    });
    assert.equal(task(spec, 'build-ui').phase, 'Build');
    assert.equal(task(spec, 'design-api').line, 4);
  });

  test('the next phase waits only for the final tasks of the previous one', () => {
    const spec = parse(`## One
- A
- B (after #1)
## Two
- C
`);
    assert.deepEqual(afterOf(spec), { a: [], b: ['a'], c: ['b'] });
  });

  test('a (parallel) phase runs alongside the one before it; the phase after waits for both', () => {
    const spec = parse(`## Design
- D
## Build
- B
## Docs (parallel)
- W
## Release
- R
`);
    assert.equal(task(spec, 'w').phase, 'Docs');
    assert.deepEqual(afterOf(spec), { d: [], b: ['d'], w: ['d'], r: ['b', 'w'] });
  });

  test('a (sequential) phase chains its top-level items; tasks before any heading form a phase too', () => {
    const spec = parse(`- Prep
## Release (sequential)
- Test
- Deploy
- Tag
`);
    assert.deepEqual(afterOf(spec), { prep: [], test: ['prep'], deploy: ['test'], tag: ['deploy'] });
    assert.equal(task(spec, 'prep').phase, undefined);
  });

  test('an explicit reference replaces the phase rule for that task', () => {
    const spec = parse(`## A
- One
- Two
## B
- Three (after: one)
`);
    assert.deepEqual(task(spec, 'three').after, ['one']);
  });
});

describe('plan markdown: items and subtasks', () => {
  test('every list marker and checklist state', () => {
    const spec = parse(`- dash
* star
+ plus
1. numbered
2) paren
- [ ] open box
- [x] done box
- [X] done too
`);
    assert.deepEqual(
      spec.tasks.map((t) => [t.subject, t.done === true]),
      [
        ['dash', false],
        ['star', false],
        ['plus', false],
        ['numbered', false],
        ['paren', false],
        ['open box', false],
        ['done box', true],
        ['done too', true],
      ],
    );
  });

  test('a parent waits for its subtasks; subtasks inherit the start rule', () => {
    const spec = parse(`## Design
- Spec
## Build
- Backend
  - Endpoints
    - Handlers
  - Auth
`);
    assert.equal(task(spec, 'endpoints').parent, 'backend');
    assert.equal(task(spec, 'handlers').parent, 'endpoints');
    assert.equal(task(spec, 'auth').parent, 'backend');
    assert.deepEqual(afterOf(spec), { spec: [], backend: [], endpoints: [], handlers: ['spec'], auth: ['spec'] });
  });

  test("a parent's own references pass down to subtasks that have none", () => {
    const spec = parse(`- Schema
- API (after: schema)
  - Routes
  - Tests (after #3)
`);
    assert.deepEqual(afterOf(spec), { schema: [], api: ['schema'], routes: ['schema'], tests: ['routes'] });
  });

  test('indented lines are the description, fences kept whole; field lines are not', () => {
    const spec = parse(`- Build the API
  Use Express.

  Endpoints:
  \`\`\`
  - GET /notes
  priority: 9
  \`\`\`
  priority: high
- Next
`);
    const api = task(spec, 'build-the-api');
    assert.equal(api.description, 'Use Express.\n\nEndpoints:\n```\n- GET /notes\npriority: 9\n```');
    assert.equal(api.priority, 1);
    assert.equal(spec.tasks.length, 2);
  });

  test('prose, rules, comments, top-level code blocks and front matter are not tasks', () => {
    const spec = parse(`---
title: "From front matter"
---
Some intro text with - a dash.

\`\`\`
- not a task
\`\`\`
<!-- - nor this -->
---
- Real task
`);
    assert.equal(spec.title, 'From front matter');
    assert.deepEqual(
      spec.tasks.map((t) => t.subject),
      ['Real task'],
    );
  });

  test('a nested "- depends on: X" is a field of its parent, not a subtask', () => {
    const spec = parse(`- Schema
- API
  - depends on: Schema
`);
    assert.equal(spec.tasks.length, 2);
    assert.deepEqual(task(spec, 'api').after, ['schema']);
  });

  test('keys come from subjects, made unique; CRLF line ends are fine', () => {
    const spec = parse('- Write tests\r\n- Write tests\r\n- Ünïcode Ärger!\r\n- 日本語\r\n');
    assert.deepEqual(
      spec.tasks.map((t) => t.key),
      ['write-tests', 'write-tests-2', 'unicode-arger', 'task-4'],
    );
  });
});

describe('plan markdown: references', () => {
  test('by number in document order: after #2, after 2, after 1 and 3', () => {
    const spec = parse(`- A
- B
- C after #2
- D after 2
- E after 1 and 3
- F (after #1, #2)
`);
    assert.deepEqual(afterOf(spec), { a: [], b: [], c: ['b'], d: ['b'], e: ['a', 'c'], f: ['a', 'b'] });
    assert.equal(task(spec, 'c').subject, 'C');
  });

  test('by subject (any case) and by key; explicit keys in three spellings', () => {
    const spec = parse(`- Design the API {#api}
- Write schema [schema]
- Seed data
  key: seed
- Build it — depends on: design the API, Write Schema
- Ship it (after: api, seed)
- Verify after #api
`);
    assert.deepEqual(
      spec.tasks.map((t) => t.key),
      ['api', 'schema', 'seed', 'build-it', 'ship-it', 'verify'],
    );
    assert.deepEqual(task(spec, 'build-it').after, ['api', 'schema']);
    assert.equal(task(spec, 'build-it').subject, 'Build it');
    assert.deepEqual(task(spec, 'ship-it').after, ['api', 'seed']);
    assert.deepEqual(task(spec, 'verify').after, ['api']);
  });

  test('an indented "depends on:" or "after:" line adds references', () => {
    const spec = parse(`- A
- B
- C
  depends on: A
  after: #2
`);
    assert.deepEqual(task(spec, 'c').after, ['a', 'b']);
  });

  test('"after" in ordinary prose stays in the subject', () => {
    const spec = parse(`- Clean up after 2 days
- Deploy (after lunch)
- Look after the cache
`);
    assert.deepEqual(
      spec.tasks.map((t) => [t.subject, t.after.length]),
      [
        ['Clean up after 2 days', 0],
        ['Deploy (after lunch)', 0],
        ['Look after the cache', 0],
      ],
    );
  });

  test('labels after a reference are labels, not part of it', () => {
    const spec = parse(`- Schema
- API after #1 #backend
- UI depends on: API #frontend
`);
    assert.deepEqual(task(spec, 'api').after, ['schema']);
    assert.deepEqual(task(spec, 'api').labels, ['backend']);
    assert.deepEqual(task(spec, 'ui').after, ['api']);
    assert.deepEqual(task(spec, 'ui').labels, ['frontend']);
  });
});

describe('plan markdown: annotations', () => {
  test('priority, estimate, labels and agent, inline and as fields', () => {
    const spec = parse(`- One !high ~30m #backend #api
- Two !urgent ~1h30m
- Three !-1 ~2.5h
- Four !3 ~1d
- Five
  priority: low
  estimate: 45m
  labels: docs, web
  agent: codex
- Six (priority: 2) (estimate: 90s) (agent: claude)
- Ship it!
`);
    const pick = (t: PlanTask) => [t.subject, t.priority, t.estimate, t.labels, t.agent];
    assert.deepEqual(spec.tasks.map(pick), [
      ['One', 1, 1800, ['backend', 'api'], undefined],
      ['Two', 2, 5400, undefined, undefined],
      ['Three', -1, 9000, undefined, undefined],
      ['Four', 3, 8 * 3600, undefined, undefined],
      ['Five', -1, 2700, ['docs', 'web'], 'codex'],
      ['Six', 2, 90, undefined, 'claude'],
      ['Ship it!', undefined, undefined, undefined, undefined],
    ]);
  });

  test('**bold** markup is dropped from subjects, so references by subject still match', () => {
    const spec = parse(`- **Design API**: the endpoints
- **Build** it (after: Design API: the endpoints)
`);
    assert.equal(spec.tasks[0]?.subject, 'Design API: the endpoints');
    assert.deepEqual(spec.tasks[1]?.after, [spec.tasks[0]?.key]);
    assert.equal(spec.tasks[1]?.subject, 'Build it');
  });

  test('"#2" is a number, not a label; C# stays text', () => {
    const spec = parse(`- Fix #2 in the C# client`);
    assert.equal(spec.tasks[0]?.subject, 'Fix #2 in the C# client');
    assert.equal(spec.tasks[0]?.labels, undefined);
  });
});

describe('plan markdown: errors name the file, line and problem', () => {
  test('an unknown reference, with a suggestion', () => {
    rejects(
      `- Design API\n- Build\n  depends on: Desgin API\n`,
      /^plan\.md:3: .*no task has the key or subject "Desgin API" \(did you mean "Design API"\?\)/,
    );
  });

  test('a number past the last task', () => {
    rejects(`- A\n- B after #7\n`, /^plan\.md:2: .*no task #7; the plan has 2 tasks/);
  });

  test('a subject that matches two tasks', () => {
    rejects(`- Test\n- test\n- Ship (after: TEST)\n`, /^plan\.md:3: .*matches several tasks \(lines 1, 2\)/);
  });

  test('a duplicate explicit key', () => {
    rejects(`- A {#x}\n- B {#x}\n`, /^plan\.md:2: duplicate key "x" \(first used at line 1\)/);
  });

  test('an empty subject', () => {
    rejects(`- A\n- [ ]\n`, /^plan\.md:2: task has an empty subject/);
    rejects(`- {#k} !high\n`, /^plan\.md:1: task has an empty subject/);
  });

  test('a task that depends on itself', () => {
    rejects(`- A\n- B (after #2)\n`, /^plan\.md:2: .*cannot depend on itself/);
  });

  test('a cycle, printed as a path with lines', () => {
    rejects(
      `- A (after: c)\n- B (after: a)\n- C (after: b)\n`,
      /^plan\.md: dependency cycle: a \(line 1\) -> b \(line 2\) -> c \(line 3\) -> a \(line 1\)/,
      'CYCLE',
    );
  });

  test('a subtask that waits for its parent closes a cycle, with a hint', () => {
    rejects(`- Parent\n  - Child (after: parent)\n`, /cycle: .*a subtask cannot wait for its parent/, 'CYCLE');
  });

  test('bad annotation values', () => {
    rejects(`- A\n  priority: soon\n`, /^plan\.md:2: priority "soon" is not an integer/);
    rejects(`- A\n  estimate: a while\n`, /^plan\.md:2: estimate "a while" is not a duration/);
    rejects(`- A {#12}\n`, /^plan\.md:1: key "12" is only digits/);
  });

  test('a heading cannot be both (parallel) and (sequential)', () => {
    rejects(`## X (parallel) (sequential)\n- A\n`, /^plan\.md:1: .*both/);
  });
});
