import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { extractJson } from '../src/engine/plan/agent.js';
import { parseDuration, parsePriority, slugify } from '../src/engine/plan/annotations.js';
import { formatOf, loadPlan } from '../src/engine/plan/load.js';
import { parseMarkdownPlan } from '../src/engine/plan/markdown.js';
import { planEdges, planOrder, specForOutput } from '../src/engine/plan/spec.js';
import { isTasklaneError } from '../src/model/errors.js';
import { repoRoot } from './helpers.js';

// JSON and YAML plans, the validator every plan passes, ordering, and reading an agent's answer.

function rejects(
  fn: () => unknown,
  pattern: RegExp,
  field?: string,
  code: 'INVALID_INPUT' | 'CYCLE' = 'INVALID_INPUT',
) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTasklaneError(err, code), `expected ${code}, got ${String(err)}`);
    assert.match(err.message, pattern);
    if (field !== undefined) assert.equal(err.field, field);
    return true;
  });
}

const JSON_PLAN = `{
  "title": "Launch",
  "tasks": [
    {"key": "schema", "subject": "Write the schema", "estimate": 1800},
    {"key": "api", "subject": "Build the API", "after": ["schema"], "labels": ["backend"]},
    {"key": "routes", "subject": "Routes", "parent": "api", "after": ["schema"]},
    {"key": "ui", "subject": "Build the UI", "after": ["api"], "priority": 2, "done": false,
     "metadata": {"owner_team": "web"}, "agent": "codex", "phase": "Build"}
  ]
}`;

const YAML_PLAN = `title: Launch
tasks:
  - key: schema
    subject: Write the schema
    estimate: 1800
  - key: api
    subject: Build the API
    after: [schema]
    labels: [backend]
  - key: routes
    subject: Routes
    parent: api
    after: [schema]
  - key: ui
    subject: Build the UI
    after: api
`;

describe('plan spec: JSON and YAML', () => {
  test('a JSON plan loads as written', () => {
    const spec = loadPlan(JSON_PLAN, 'plan.json');
    assert.equal(spec.title, 'Launch');
    assert.deepEqual(
      spec.tasks.map((t) => [t.key, t.after, t.parent]),
      [
        ['schema', [], undefined],
        ['api', ['schema'], undefined],
        ['routes', ['schema'], 'api'],
        ['ui', ['api'], undefined],
      ],
    );
    const ui = spec.tasks[3];
    assert.equal(ui?.priority, 2);
    assert.equal(ui?.agent, 'codex');
    assert.deepEqual(ui?.metadata, { owner_team: 'web' });
    assert.equal(ui?.line, 7);
  });

  test('a YAML plan gives the same graph; a single string `after` is one key', () => {
    const json = loadPlan(JSON_PLAN, 'plan.json');
    const yaml = loadPlan(YAML_PLAN, 'plan.yaml');
    assert.deepEqual(planEdges(yaml), planEdges(json));
    assert.equal(yaml.tasks[2]?.line, 10);
  });

  test('a bare array of tasks is a plan', () => {
    const spec = loadPlan('[{"key": "a", "subject": "A"}]', 'plan.json');
    assert.equal(spec.tasks.length, 1);
  });

  test('the format comes from the extension, and can be forced', () => {
    assert.equal(formatOf('x.MD'), 'md');
    assert.equal(formatOf('x.markdown'), 'md');
    assert.equal(formatOf('x.yml'), 'yaml');
    assert.equal(formatOf('x.json'), 'json');
    assert.equal(formatOf('x.plan'), undefined);
    assert.equal(loadPlan('- a\n', 'x.plan').tasks.length, 1);
    assert.equal(loadPlan(YAML_PLAN, 'x.txt', 'yaml').tasks.length, 4);
  });

  test('what a dry run prints as "plan" loads again to the same graph', () => {
    const md = parseMarkdownPlan('## A\n- One\n- Two {#two}\n## B\n- Three\n  - Four\n', 'plan.md');
    const again = loadPlan(JSON.stringify(specForOutput(md)), 'saved.json');
    assert.deepEqual(planEdges(again), planEdges(md));
    assert.equal(
      JSON.stringify(specForOutput(md)).includes('"line"'),
      false,
      'parser-only line numbers are not printed',
    );
  });
});

describe('plan spec: validation', () => {
  test('syntax errors name the file (and line, for YAML)', () => {
    rejects(() => loadPlan('{"tasks": [', 'p.json'), /^p\.json: not valid JSON/);
    rejects(() => loadPlan('tasks:\n  - key: a\n   subject: x\n', 'p.yaml'), /^p\.yaml:\d+: not valid YAML/);
  });

  test('the shape: tasks array, object items, required key and subject', () => {
    rejects(() => loadPlan('{"task": []}', 'p.json'), /p\.json: task is not a plan field/, 'task');
    rejects(() => loadPlan('{}', 'p.json'), /tasks is missing/, 'tasks');
    rejects(() => loadPlan('{"tasks": ["a"]}', 'p.json'), /p\.json:1: tasks\[0\] must be an object, got string/);
    rejects(() => loadPlan('{"tasks": [{"subject": "A"}]}', 'p.json'), /tasks\[0\]\.key is missing/, 'tasks[0].key');
    rejects(() => loadPlan('{"tasks": [{"key": "a"}]}', 'p.json'), /tasks\[0\]\.subject is missing/);
    rejects(
      () => loadPlan('{"tasks": [{"key": "a", "subject": "  "}]}', 'p.json'),
      /task "a": subject must be a non-empty/,
    );
  });

  test('an unknown field is refused, so a typo cannot drop an edge', () => {
    rejects(
      () => loadPlan('tasks:\n  - key: a\n    subject: A\n  - key: b\n    subject: B\n    depends_on: [a]\n', 'p.yaml'),
      /^p\.yaml:4: tasks\[1\]\.depends_on is not a task field/,
      'tasks[1].depends_on',
    );
  });

  test('field types and the store limits', () => {
    const one = (fields: string) => () => loadPlan(`{"tasks": [{"key": "a", "subject": "A", ${fields}}]}`, 'p.json');
    rejects(one('"after": "b", "x": 1'), /tasks\[0\]\.x is not a task field/);
    rejects(one('"after": [1]'), /tasks\[0\]\.after must be an array of task keys/);
    rejects(one('"priority": 1.5'), /task "a": priority must be an integer/, 'tasks[0].priority');
    rejects(one('"estimate": -1'), /task "a": estimate must be a positive number/, 'tasks[0].estimate');
    rejects(one('"labels": ["ok", ""]'), /task "a": labels must be a list of non-empty strings/);
    rejects(one('"done": "yes"'), /tasks\[0\]\.done must be true or false/);
    rejects(one('"metadata": {"plan": 1}'), /metadata\.plan is reserved/, 'tasks[0].metadata.plan');
    rejects(one('"metadata": {"tasklane": {}}'), /metadata/, 'tasks[0].metadata');
  });

  test('duplicate keys, unknown references (with a suggestion) and self-references', () => {
    rejects(
      () => loadPlan('{"tasks": [{"key": "a", "subject": "A"},\n{"key": "a", "subject": "B"}]}', 'p.json'),
      /^p\.json:2: duplicate key "a" \(first used at line 1\)/,
    );
    rejects(
      () =>
        loadPlan(
          '{"tasks": [{"key": "schema", "subject": "S"}, {"key": "api", "subject": "A", "after": ["shema"]}]}',
          'p.json',
        ),
      /task "api" refers to unknown task key "shema" in tasks\[1\]\.after\[0\] \(did you mean "schema"\?\)/,
      'tasks[1].after[0]',
    );
    rejects(
      () => loadPlan('[{"key": "a", "subject": "A", "parent": "zzz"}]', 'p.json'),
      /unknown task key "zzz" in tasks\[0\]\.parent/,
    );
    rejects(() => loadPlan('[{"key": "a", "subject": "A", "after": ["a"]}]', 'p.json'), /cannot depend on itself/);
  });

  test('a cycle is refused with its path', () => {
    rejects(
      () =>
        loadPlan(
          '[{"key": "a", "subject": "A", "after": ["c"]}, {"key": "b", "subject": "B", "after": ["a"]}, {"key": "c", "subject": "C", "after": ["b"]}]',
          'p.json',
        ),
      /^p\.json: dependency cycle: a \(line 1\) -> b \(line 1\) -> c \(line 1\) -> a \(line 1\)/,
      undefined,
      'CYCLE',
    );
  });
});

describe('plan spec: order', () => {
  test('blockers first, subtasks before their parent, ties in plan order', () => {
    const spec = loadPlan(
      '[{"key": "p", "subject": "P"}, {"key": "c1", "subject": "C1", "parent": "p"}, {"key": "z", "subject": "Z"}, {"key": "c2", "subject": "C2", "parent": "p", "after": ["z"]}]',
      'p.json',
    );
    assert.deepEqual(planOrder(spec), ['c1', 'z', 'c2', 'p']);
  });

  test('a long chain orders and validates without deep recursion', () => {
    const tasks = Array.from({ length: 20_000 }, (_, i) => ({
      key: `t${i}`,
      subject: `T${i}`,
      after: i === 0 ? [] : [`t${i - 1}`],
    }));
    const spec = loadPlan(JSON.stringify({ tasks }), 'long.json');
    const order = planOrder(spec);
    assert.equal(order.length, 20_000);
    assert.equal(order[19_999], 't19999');
  });
});

describe('plan spec: small syntaxes and agent answers', () => {
  test('durations, priorities and slugs', () => {
    assert.equal(parseDuration('30m'), 1800);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('1.5h'), 5400);
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('1d'), 8 * 3600);
    assert.equal(parseDuration('45'), 2700);
    assert.equal(parseDuration('soon'), undefined);
    assert.equal(parseDuration('0m'), undefined);
    assert.equal(parsePriority('HIGH'), 1);
    assert.equal(parsePriority('-2'), -2);
    assert.equal(parsePriority('meh'), undefined);
    assert.equal(slugify('Design the REST API!'), 'design-the-rest-api');
    assert.ok(slugify('x'.repeat(30) + ' ' + 'y'.repeat(30)).length <= 48);
  });

  test('the JSON in an answer: whole, fenced, Claude Code result object, wrapped in prose, or none', () => {
    const plan = { tasks: [{ key: 'a', subject: 'A' }] };
    const text = JSON.stringify(plan);
    assert.deepEqual(extractJson(text), plan);
    assert.deepEqual(extractJson(`Here:\n\`\`\`json\n${text}\n\`\`\`\nDone.`), plan);
    assert.deepEqual(extractJson(JSON.stringify({ type: 'result', result: `\`\`\`json\n${text}\n\`\`\`` })), plan);
    assert.deepEqual(extractJson(`The plan is ${text} as asked.`), plan);
    assert.equal(extractJson('no json here'), undefined);
    assert.equal(extractJson('{broken'), undefined);
  });
});

describe('plan examples and docs', () => {
  /** Edges as "blocker subject -> blocked subject", so plans with different keys compare. */
  const edgesBySubject = (spec: ReturnType<typeof loadPlan>) => {
    const subject = new Map(spec.tasks.map((t) => [t.key, t.subject]));
    return planEdges(spec)
      .map((e) => `${subject.get(e.blocker)} -> ${subject.get(e.blocked)} (${e.via})`)
      .sort();
  };
  const read = (...parts: string[]) => readFileSync(join(repoRoot, ...parts), 'utf8');

  test('examples/webapp.yaml is the graph of examples/webapp.md', () => {
    const md = loadPlan(read('examples', 'webapp.md'), 'examples/webapp.md');
    const yaml = loadPlan(read('examples', 'webapp.yaml'), 'examples/webapp.yaml');
    assert.equal(md.tasks.length, 13);
    assert.deepEqual(edgesBySubject(yaml), edgesBySubject(md));
    const fields = (spec: typeof md) =>
      spec.tasks.map((t) => [t.subject, t.description, t.phase, t.priority, t.estimate, t.labels, t.done]).sort();
    assert.deepEqual(fields(yaml), fields(md));
  });

  test('the markdown example in docs/plans.md, without its arrows, parses as the docs say', () => {
    const docs = read('docs', 'plans.md');
    const block = /```markdown\n([\s\S]*?)```/.exec(docs)?.[1];
    assert.ok(block, 'docs/plans.md has a markdown example');
    const spec = parseMarkdownPlan(block.replace(/\s+<- .*$/gm, ''), 'docs/plans.md');
    assert.equal(spec.title, 'Notes app');
    const after = Object.fromEntries(spec.tasks.map((t) => [t.key, t.after]));
    assert.deepEqual(after['notes-endpoints'], ['api-design', 'schema']);
    assert.deepEqual(after['login-page'], ['auth']);
    assert.deepEqual(after['write-the-readme-quick-start'], [
      'api-design',
      'schema',
      'choose-the-ui-component-library',
    ]);
    assert.deepEqual(after['deploy-to-staging'], ['run-the-end-to-end-tests']);
    assert.equal(spec.tasks.find((t) => t.key === 'choose-the-ui-component-library')?.done, true);
  });
});
