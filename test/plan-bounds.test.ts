import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { headingWords, phaseHeading } from '../src/engine/plan/headings.js';
import { loadPlan } from '../src/engine/plan/load.js';
import { ambiguityError, readMarkdownPlan } from '../src/engine/plan/markdown.js';
import { dropClosingBreaks } from '../src/engine/plan/phases.js';
import { parseTargets } from '../src/engine/plan/prose-refs.js';
import type { PlanReading } from '../src/engine/plan/shape.js';
import { isTasklaneError } from '../src/model/errors.js';

// Hostile plans stay bounded: a reference list yields one short ambiguity, not one per number
// quoting the whole clause; ranges cost the numbers they name; every pattern applied to a line
// tries each run once. The inputs are sized so that the quadratic (or exponential) versions these
// tests replaced take from many seconds to forever, while a linear reading is instant: a
// structural check, no wall-clock assertion (a synchronous regex cannot be timed out anyway). Before
// the fixes, at a quarter of the sizes of the ". " heading, the spaces, the dots and the phase
// heading, these took 41 s, 12 s, 30 s and 32 s; the unclosed "{#" heading, the 40 breaks and the
// target with 200,000 spaces (these sizes) over 60 s; 200,000 detail lines a RangeError. Each takes
// milliseconds now.

const read = (text: string, shape?: 'phases' | 'steps'): PlanReading =>
  readMarkdownPlan(text, 'plan.md', shape === undefined ? {} : { shape });
const graph = (r: PlanReading) => r.spec.tasks.map((t) => [t.subject, t.after]);
const T = { timeout: 120_000 };
/** The reading, or the message of the clear refusal (a subject over the length limit) it ends in. */
const settle = (text: string): PlanReading | string => {
  try {
    return read(text);
  } catch (err) {
    assert.ok(isTasklaneError(err, 'INVALID_INPUT'), String(err));
    return err.message;
  }
};

describe('plan bounds: written reference lists', () => {
  test('20,000 copies of a missing step number make one ambiguity with a capped quote', T, () => {
    const r = read(`## Steps\n1. Build it; depends on ${'9, '.repeat(20_000)}9\n2. Test it\n3. Ship it\n`);
    assert.equal(r.ambiguities.length, 1);
    const message = r.ambiguities[0]?.message ?? '';
    assert.match(message, /^"; depends on 9, 9, 9, [^"]*\u2026": there is no step 9 in this list$/);
    assert.ok(message.length < 200, `${message.length} characters`);
    const refusal = ambiguityError(r, 'plan.md').message;
    assert.ok(refusal.length < 1000, `${refusal.length} characters`);
  });

  test('repeated 1,000-wide ranges in a multi-MB plan cost the numbers they name', T, () => {
    const ranges = '1-1000, '.repeat(300_000); // 2.4 MB on one line: 3e8 numbers when each range is expanded
    const r = read(`## Steps\n1. Design it\n2. Build it\n3. Ship it; depends on ${ranges}1-2\n`);
    assert.deepEqual(graph(r), [
      ['Design it', []],
      ['Build it', []],
      ['Ship it', ['design-it', 'build-it']],
    ]);
    assert.equal(r.ambiguities.length, 1);
    assert.match(
      r.ambiguities[0]?.message ?? '',
      /\u2026": a step cannot wait for itself; there are no steps 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 in this list$/,
    );
  });

  test('a list of unmatched words is one ambiguity naming a few of them', T, () => {
    const r = read(`## Steps\n1. Design it\n2. Ship it; depends on ${'the moon, '.repeat(20_000)}the sun\n`);
    assert.equal(r.ambiguities.length, 1);
    const message = r.ambiguities[0]?.message ?? '';
    assert.match(message, /no step matches "the moon", "the sun"$/);
    assert.ok(message.length < 300, `${message.length} characters`);
  });

  test('phases: a long list of missing phase numbers is one ambiguity', T, () => {
    const r = read(`## Phase 1: Core\nDepends on: ${'7, '.repeat(20_000)}8\n\n## Phase 2: Edge\nText.\n`);
    assert.equal(r.ambiguities.length, 1);
    assert.match(r.ambiguities[0]?.message ?? '', /\u2026": there is no other phase 7, 8$/);
  });

  test('a refusal lists at most 50 ambiguities and counts the rest', () => {
    const items = Array.from({ length: 200 }, (_, i) => `${i + 1}. Step ${i + 1} (after step 999)`).join('\n');
    const message = ambiguityError(read(`## Steps\n${items}\n`), 'plan.md').message;
    assert.equal(message.match(/there is no step 999/g)?.length, 50);
    assert.match(message, /\.\.\. and 150 more/);
  });

  test("Tasklane's dialect quotes a long reference clause up to 120 characters", T, () => {
    for (const text of [
      `# Plan\n- a {#a}\n- b (after: ${'9, '.repeat(20_000)}9)\n`,
      `# Plan\n- a {#a}\n- b (after: ${'zz, '.repeat(20_000)}zz)\n`,
    ]) {
      assert.throws(
        () => loadPlan(text, 'plan.md'),
        (err: unknown) => {
          assert.ok(isTasklaneError(err, 'INVALID_INPUT'), String(err));
          assert.match(
            err.message,
            /^plan\.md:3: "after: [^"]*\u2026": (there is no task 9|no task has the key or subject "zz")/,
          );
          assert.ok(err.message.length < 400, `${err.message.length} characters`);
          return true;
        },
      );
    }
  });

  test('a long unmatched dialect reference gets no did-you-mean, so its cost is not length squared per task', T, () => {
    // 4,000 tasks of 906-character subjects and a reference one letter off the first: 36e8 edit-distance
    // steps (28 s) and a did-you-mean before; no hint, and milliseconds, now.
    const items = Array.from({ length: 4_000 }, (_, i) => `- ${String(i).padStart(6, '0')}${'x'.repeat(900)}`);
    const text = `# Plan\n${items.join('\n')}\n- last (after: 000000${'x'.repeat(899)}z)\n`;
    assert.throws(() => loadPlan(text, 'plan.md'), /no task has the key or subject "000000x+\u2026"$/);
    assert.throws(() => loadPlan('# Plan\n- Design {#api}\n- b (after: apl)\n', 'plan.md'), /did you mean "api"\?/);
  });

  test('numbers are kept in written order, each once, and short ranges still expand', () => {
    assert.deepEqual(parseTargets('steps 3, 1-2, 2, 1'), { numbers: [3, 1, 2] });
    assert.deepEqual(parseTargets('2-4 and 3-6'), { numbers: [2, 3, 4, 5, 6] });
    assert.deepEqual(parseTargets('1-1000', 3), { numbers: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] });
  });
});

describe('plan bounds: patterns try each run once', () => {
  test('a heading ending in a run of 400,000 ". " pairs before a letter', T, () => {
    assert.equal(headingWords(`a${'. '.repeat(400_000)}b`).length, 800_002);
  });

  test('a heading of 200,000 unclosed "{#"', T, () => {
    const title = '{#'.repeat(200_000);
    assert.equal(headingWords(title), '');
    assert.equal(phaseHeading(title), undefined);
    assert.equal(phaseHeading(`Phase 1: x ${title}`)?.label, 'Phase 1');
  });

  test('a step item with 800,000 spaces or unclosed "{#" inside it', T, () => {
    assert.equal(read(`## Steps\n- a${' '.repeat(800_000)}b\n- c\n`).spec.tasks[0]?.subject, 'a b');
    assert.match(String(settle(`## Steps\n- a ${'{#'.repeat(100_000)} b\n- c\n`)), /subject is \d+ characters/);
    // Not the dialect ({#-x} is no key), so the step reader drops the braces with the space before them.
    assert.deepEqual(
      read('## Steps\n- Build it {#-x}: now\n- **Ship** {#-y}: today\n').spec.tasks.map((t) => [
        t.subject,
        t.description,
      ]),
      [
        ['Build it: now', undefined],
        ['Ship', 'today'],
      ],
    );
  });

  test('a step subject with 800,000 dots before a letter', T, () => {
    assert.match(String(settle(`## Steps\n- a${'.'.repeat(800_000)}b\n- c\n`)), /subject is \d+ characters/);
  });

  test('a phase heading of unclosed "{#"', T, () => {
    const title = `## Phase 1: x ${'{#'.repeat(400_000)}\nText.\n\n## Phase 2: y\nText.\n`;
    assert.match(String(settle(title)), /subject is \d+ characters/);
  });

  test('a phase whose text holds 40 thematic breaks before a line of text', T, () => {
    const breaks = '\n---\n'.repeat(40);
    const r = read(`## Phase 1: Core\nText.\n${breaks}\nMore.\n\n## Phase 2: Edge\nText.\n\n---\n\n***\n`);
    assert.equal(r.spec.tasks.length, 2);
    assert.equal(r.spec.tasks[1]?.description, 'Text.');
    assert.equal(dropClosingBreaks('a\n\n---\n\n***  \n\n'), 'a');
    assert.equal(dropClosingBreaks('a\n---\nb\n'), 'a\n---\nb\n');
    assert.equal(dropClosingBreaks('---\n---'), '---');
  });

  test('a target with long runs of spaces or dots', T, () => {
    assert.deepEqual(parseTargets(`a${' '.repeat(200_000)}b`), { words: [`a${' '.repeat(200_000)}b`] });
    assert.ok('words' in parseTargets(`a${'.'.repeat(200_000)}b`));
    assert.deepEqual(parseTargets(`the api${' '.repeat(200_000)}is done x`), {
      words: [`the api${' '.repeat(200_000)}is done x`],
    });
    assert.deepEqual(parseTargets('the api is done, the ui'), { words: ['the api', 'the ui'] });
  });

  test('a step with 200,000 lines of detail', T, () => {
    const r = read(`## Steps\n- a\n${'  x\n'.repeat(200_000)}- b\n`);
    assert.equal(r.spec.tasks.length, 2);
  });
});
