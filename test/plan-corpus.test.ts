import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cliIn, explain, type Json, type RunOptions, snapshot } from './cli-run.js';
import { repoRoot, tempDir } from './helpers.js';

// The corpus of issue 12: plans in the shapes people and agents write (test/fixtures/plans/*.md),
// each with the graph `plan --dry-run --json` must give (<name>.expected.json), read through the
// built CLI; then re-runs, edits, and what an ambiguous plan does.

const CORPUS = join(repoRoot, 'test', 'fixtures', 'plans');
const FIXTURES = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.md'))
  .map((f) => f.slice(0, -3));
const NO_AGENT_ENV = { TASKLANE_AGENT: undefined, CLAUDE_CODE: undefined };

/** A fresh list root, and a working directory holding copies of the corpus. */
function setup() {
  const { dir, tl } = cliIn();
  const cwd = tempDir('tasklane-plan-corpus-');
  for (const name of FIXTURES) copyFileSync(join(CORPUS, `${name}.md`), join(cwd, `${name}.md`));
  const plan = (args: string[], opts: RunOptions = {}) =>
    tl(['plan', '--list', 'p', ...args], { cwd, ...opts, env: { ...NO_AGENT_ENV, ...opts.env } });
  return { dir, cwd, plan, tl };
}

function dryRun(plan: ReturnType<typeof setup>['plan'], name: string): Json {
  const r = plan([`${name}.md`, '--dry-run', '--json', '--source', `${name}.md`]);
  assert.equal(r.status, 0, explain(r));
  return r.json();
}

const task = (out: Json, key: string) => out.plan.tasks.find((t: Json) => t.key === key);

describe('plan corpus: each fixture gives its expected graph', () => {
  test('the corpus has every shape of the issue', () => {
    for (const name of [
      'phased-rate-limiter',
      'plan-template-export',
      'frontmatter-todos',
      'checklist-release',
      'taskmaster-prd',
      'tasklane-dialect',
    ]) {
      assert.ok(FIXTURES.includes(name), `test/fixtures/plans/${name}.md is missing`);
    }
  });

  for (const name of FIXTURES) {
    test(`${name}.md`, () => {
      const { plan } = setup();
      const expected = JSON.parse(readFileSync(join(CORPUS, `${name}.expected.json`), 'utf8'));
      assert.deepEqual(dryRun(plan, name), expected);
    });
  }
});

describe('plan corpus: the acceptance of issue 12, point by point', () => {
  test('a phased plan: three chained phase tasks, the first checked by `npm test -- bucket`, nothing out of scope or manual', () => {
    const out = dryRun(setup().plan, 'phased-rate-limiter');
    assert.equal(out.shape, 'phases');
    const tasks = out.plan.tasks;
    assert.deepEqual(
      tasks.map((t: Json) => [t.subject, t.after]),
      [
        ['Token bucket core', []],
        ['Redis-backed buckets', ['token-bucket-core']],
        ['Middleware and headers', ['redis-backed-buckets']],
      ],
    );
    assert.equal(tasks[0].verify, 'npm test -- bucket');
    assert.doesNotMatch(
      JSON.stringify(tasks.map((t: Json) => t.subject)),
      /Global limits|Redis keys expire|Unit tests pass/,
    );
    // The manual check stays in the description; the automated one became the check.
    assert.match(tasks[1].description, /Redis keys expire after the idle window/);
    assert.doesNotMatch(tasks[0].description, /npm test -- bucket/);
    // An automated criterion that names no command stays in the description too.
    assert.match(tasks[2].description, /Linting passes/);
    const skipped = out.skipped.map((s: Json) => s.heading);
    for (const h of ["What We're NOT Doing", 'Testing Strategy', 'Overview', 'References'])
      assert.ok(skipped.includes(h), h);
  });

  test('a "Plan:" template: six steps, step 3 waits for step 2, step 4 for steps 1 and 3, no task for files or questions', () => {
    const out = dryRun(setup().plan, 'plan-template-export');
    assert.equal(out.shape, 'steps');
    const keys = out.plan.tasks.map((t: Json) => t.key);
    assert.equal(keys.length, 6);
    assert.deepEqual(task(out, keys[2]).after, [keys[1]]);
    assert.deepEqual(task(out, keys[3]).after, [keys[0], keys[2]]);
    assert.deepEqual(task(out, keys[4]).after, [keys[3]], '"once the route is done" names step 4');
    assert.doesNotMatch(JSON.stringify(out.plan.tasks), /ReportPage|100 MB/);
    assert.deepEqual(
      out.skipped.map((s: Json) => [s.heading, s.reason]),
      [
        ['Summary', 'an overview, not work'],
        ['Files to Create/Modify', 'a list of files, not work'],
        ['Open Questions', 'open questions, not work'],
      ],
    );
  });

  test('front-matter todos: three todos chained by their dependencies, the completed one created completed', () => {
    const out = dryRun(setup().plan, 'frontmatter-todos');
    assert.equal(out.shape, 'todos');
    assert.deepEqual(
      out.plan.tasks.map((t: Json) => [t.key, t.after, t.done === true]),
      [
        ['schema', [], true],
        ['indexer', ['schema'], false],
        ['backfill', ['indexer'], false],
      ],
    );
  });

  test('the dry run prints one line per skipped section, with why', () => {
    const { plan } = setup();
    const r = plan(['phased-rate-limiter.md', '--dry-run']);
    assert.equal(r.status, 0, explain(r));
    assert.match(r.stdout, /Read as a phased plan: one task per phase\./);
    assert.match(r.stdout, /line 21 "What We're NOT Doing": out of scope/);
    assert.match(r.stdout, /line 100 "Testing Strategy": the testing strategy, not work/);
    assert.match(r.stdout, /1 token-bucket-core: npm test -- bucket/);
  });
});

describe('plan corpus: running twice, and edited plans', () => {
  for (const name of FIXTURES) {
    test(`${name}.md: a second run creates nothing and writes nothing`, () => {
      const { dir, plan } = setup();
      const first = plan([`${name}.md`, '--json']);
      assert.equal(first.status, 0, explain(first));
      assert.ok(first.json().created.length > 0);
      const before = snapshot(dir);
      const second = plan([`${name}.md`, '--json']);
      assert.equal(second.status, 0, explain(second));
      assert.deepEqual(second.json().created, []);
      assert.equal(second.json().existing.length, first.json().created.length);
      assert.deepEqual(snapshot(dir), before);
    });
  }

  const edits: [string, (text: string) => string, string][] = [
    [
      'phased-rate-limiter',
      (t) =>
        t.replace(
          '## Testing Strategy',
          '## Phase 4: Rollout\n\nTurn the limiter on per route.\n\n## Testing Strategy',
        ),
      'Rollout',
    ],
    [
      'plan-template-export',
      (t) =>
        t.replace(
          '\n## Files to Create/Modify',
          '7. **Add a changelog entry** (after step 6)\n\n## Files to Create/Modify',
        ),
      'Add a changelog entry',
    ],
    [
      'frontmatter-todos',
      (t) =>
        t.replace(
          '---\n\n# Search',
          '  - id: cleanup\n    content: Delete the nightly job\n    dependencies: [backfill]\n---\n\n# Search',
        ),
      'Delete the nightly job',
    ],
  ];
  for (const [name, edit, subject] of edits) {
    test(`${name}.md edited between runs: only the new task is created, waiting for what it names`, () => {
      const { cwd, plan } = setup();
      const first = plan([`${name}.md`, '--json']);
      assert.equal(first.status, 0, explain(first));
      const path = join(cwd, `${name}.md`);
      writeFileSync(path, edit(readFileSync(path, 'utf8')));
      const second = plan([`${name}.md`, '--json']);
      assert.equal(second.status, 0, explain(second));
      const out = second.json();
      assert.equal(out.created.length, 1, explain(second));
      assert.equal(out.existing.length, first.json().created.length);
      const made = out.tasks.find((t: Json) => t.action === 'created');
      assert.equal(made.subject, subject);
      const into = out.edges.filter((e: Json) => e.blocked === made.key);
      assert.equal(into.length, 1, 'the new task waits for the task before it');
      assert.equal(into[0].added, true);
    });
  }
});

describe('plan corpus: ambiguity is said, not guessed', () => {
  const mixed = `# Plan

## Phase 1: Parser
Read the input.

## Phase 2: Printer
Write the output.

## Implementation Steps
1. Write the lexer
2. Write the parser (after step 1)
`;
  const unmatched = `## Tasks
1. Write the schema
2. Build the API (depends on step 1)
3. Ship it, once the billing service is done
`;

  test('mixed shapes: the dry run says so; plan refuses and writes nothing; --phases or --steps chooses', () => {
    const { dir, cwd, plan } = setup();
    writeFileSync(join(cwd, 'mixed.md'), mixed);
    const dry = plan(['mixed.md', '--dry-run']);
    assert.equal(dry.status, 0, explain(dry));
    assert.match(
      dry.stdout,
      /Ambiguous:\n {2}line 9: the plan has both phases \(line 3: "Phase 1: Parser"\) and a step list/,
    );
    assert.match(dry.stdout, /A real run refuses this plan/);
    const json = plan(['mixed.md', '--dry-run', '--json']).json();
    assert.equal(json.ambiguities.length, 1);
    assert.equal(json.ambiguities[0].line, 9);

    const refused = plan(['mixed.md']);
    assert.equal(refused.status, 1, explain(refused));
    assert.match(refused.stderr, /the plan is ambiguous, so nothing was written/);
    assert.match(refused.stderr, /--phases or --steps/);
    assert.deepEqual(snapshot(dir), {});

    const phases = plan(['mixed.md', '--phases', '--json']);
    assert.equal(phases.status, 0, explain(phases));
    assert.deepEqual(
      phases.json().tasks.map((t: Json) => t.subject),
      ['Parser', 'Printer'],
    );
    const steps = plan(['mixed.md', '--steps', '--dry-run', '--json']);
    assert.equal(steps.status, 0, explain(steps));
    assert.deepEqual(
      steps.json().plan.tasks.map((t: Json) => [t.subject, t.after]),
      [
        ['Write the lexer', []],
        ['Write the parser', ['write-the-lexer']],
      ],
    );
  });

  test('a reference that names nothing: the dry run says so; plan refuses unless told how', () => {
    const { dir, cwd, plan } = setup();
    writeFileSync(join(cwd, 'unmatched.md'), unmatched);
    const dry = plan(['unmatched.md', '--dry-run', '--json']);
    assert.equal(dry.status, 0, explain(dry));
    assert.deepEqual(dry.json().ambiguities, [
      { line: 4, message: '"once the billing service is done": no step matches "the billing service"' },
    ]);
    const refused = plan(['unmatched.md']);
    assert.equal(refused.status, 1, explain(refused));
    assert.match(refused.stderr, /unmatched\.md:4: "once the billing service is done": no step matches/);
    assert.deepEqual(snapshot(dir), {});
    const told = plan(['unmatched.md', '--steps', '--json']);
    assert.equal(told.status, 0, explain(told));
    assert.equal(told.json().created.length, 3);
  });

  test('--phases on a plan without phases, and --phases with --steps, are errors', () => {
    const { plan } = setup();
    const none = plan(['plan-template-export.md', '--phases', '--dry-run']);
    assert.equal(none.status, 1, explain(none));
    assert.match(none.stderr, /--phases: the plan has no phase headings/);
    const both = plan(['plan-template-export.md', '--phases', '--steps']);
    assert.equal(both.status, 2, explain(both));
  });
});
