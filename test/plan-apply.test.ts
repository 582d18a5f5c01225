import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { applyPlan, planOriginOf } from '../src/engine/plan/apply.js';
import { loadPlan } from '../src/engine/plan/load.js';
import { parseMarkdownPlan } from '../src/engine/plan/markdown.js';
import { isTasklaneError } from '../src/model/errors.js';
import { labelsOf, priorityOf, type Task, tasklaneFields } from '../src/model/task.js';
import { openStore } from '../src/store/open.js';
import { tempDir } from './helpers.js';

// Applying a plan to the real file store: dependencies at creation, idempotent re-runs, dry runs.

/** Every file under `dir` with its bytes: equal snapshots mean nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (at: string, rel: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const key = rel === '' ? name : `${rel}/${name}`;
      if (statSync(path).isDirectory()) {
        out[`${key}/`] = '';
        walk(path, key);
      } else out[key] = readFileSync(path, 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

const PLAN = `# Launch
## Design
- Design API {#api-design} !high ~1h #backend
  The endpoints.
- Write schema {#schema}
- [x] Pick a UI kit
## Build
- Build API {#api}
  - Endpoints
  - Auth
- Build UI (after: api)
`;

function open(dir: string, list = 'plan') {
  return openStore({ dir, list });
}

function bySubject(tasks: Task[], subject: string): Task {
  const t = tasks.find((x) => x.subject === subject);
  assert.ok(t, `no task ${subject}`);
  return t;
}

describe('plan apply', () => {
  test('creates every task with its blockers, fields and plan origin', async () => {
    const dir = tempDir();
    const store = open(dir);
    const spec = parseMarkdownPlan(PLAN, 'launch.md');
    const result = await applyPlan(store, spec, { source: 'plans/launch.md' });
    assert.equal(result.created.length, 7);
    assert.equal(result.existing.length, 0);
    const tasks = await store.list();
    assert.equal(tasks.length, 7);
    const ids = (subjects: string[]) => subjects.map((s) => bySubject(tasks, s).id).sort();

    const design = bySubject(tasks, 'Design API');
    assert.equal(design.description, 'The endpoints.');
    assert.equal(priorityOf(design), 1);
    assert.equal(tasklaneFields(design).estimate, 3600);
    assert.deepEqual(labelsOf(design), ['backend']);
    assert.deepEqual(planOriginOf(design), { source: 'plans/launch.md', key: 'api-design', phase: 'Design' });

    const kit = bySubject(tasks, 'Pick a UI kit');
    assert.equal(kit.status, 'completed');
    assert.equal(kit.owner, undefined);

    assert.deepEqual(
      bySubject(tasks, 'Endpoints').blockedBy.sort(),
      ids(['Design API', 'Write schema', 'Pick a UI kit']),
    );
    assert.deepEqual(bySubject(tasks, 'Build API').blockedBy.sort(), ids(['Endpoints', 'Auth']));
    assert.deepEqual(bySubject(tasks, 'Build UI').blockedBy, [bySubject(tasks, 'Build API').id]);
    // Both sides of every edge are written.
    assert.ok(bySubject(tasks, 'Build API').blocks.includes(bySubject(tasks, 'Build UI').id));
    // Created blockers first: every blocker has a smaller id than the task it blocks.
    for (const t of tasks) for (const b of t.blockedBy) assert.ok(Number(b) < Number(t.id), `#${b} before #${t.id}`);
  });

  test('applying the same plan again creates nothing and writes nothing', async () => {
    const dir = tempDir();
    const spec = parseMarkdownPlan(PLAN, 'launch.md');
    await applyPlan(open(dir), spec, { source: 'launch.md' });
    const before = snapshot(dir);
    const again = await applyPlan(open(dir), spec, { source: 'launch.md' });
    assert.equal(again.created.length, 0);
    assert.equal(again.existing.length, 7);
    assert.equal(again.edges.filter((e) => e.added).length, 0);
    assert.deepEqual(snapshot(dir), before);
  });

  test('an edited plan adds only the new tasks and the missing dependencies', async () => {
    const dir = tempDir();
    const store = open(dir);
    await applyPlan(store, parseMarkdownPlan(PLAN, 'launch.md'), { source: 'launch.md' });
    // A new task in Design (so Build's leaves, which exist, gain a blocker) and a new phase.
    const edited = `${PLAN.replace('- [x] Pick a UI kit', '- [x] Pick a UI kit\n- Write docs {#docs}')}## Ship\n- Deploy\n`;
    const result = await applyPlan(store, parseMarkdownPlan(edited, 'launch.md'), { source: 'launch.md' });
    assert.deepEqual(
      result.created.map((t) => t.subject),
      ['Write docs', 'Deploy'],
    );
    assert.equal(result.existing.length, 7);
    const tasks = await store.list();
    assert.equal(tasks.length, 9);
    // Existing tasks gained the new blocker, on both sides.
    const docs = bySubject(tasks, 'Write docs');
    assert.ok(bySubject(tasks, 'Endpoints').blockedBy.includes(docs.id));
    assert.ok(bySubject(tasks, 'Auth').blockedBy.includes(docs.id));
    assert.deepEqual(docs.blocks.sort(), [bySubject(tasks, 'Endpoints').id, bySubject(tasks, 'Auth').id].sort());
    assert.deepEqual(
      result.edges
        .filter((e) => e.added)
        .map((e) => `${e.blocker}->${e.blocked}`)
        .sort(),
      ['build-ui->deploy', 'docs->auth', 'docs->endpoints'],
    );
  });

  test('tasks an earlier run made that the plan no longer has are reported and left alone', async () => {
    const dir = tempDir();
    const store = open(dir);
    await applyPlan(store, loadPlan('[{"key": "a", "subject": "A"}, {"key": "b", "subject": "B"}]', 'p.json'), {
      source: 'p',
    });
    const result = await applyPlan(store, loadPlan('[{"key": "a", "subject": "A"}]', 'p.json'), { source: 'p' });
    assert.deepEqual(
      result.stale.map((t) => t.subject),
      ['B'],
    );
    assert.equal((await store.list()).length, 2);
  });

  test('another source is another plan: its tasks are its own', async () => {
    const dir = tempDir();
    const store = open(dir);
    const spec = loadPlan('[{"key": "a", "subject": "A"}]', 'p.json');
    await applyPlan(store, spec, { source: 'one.json' });
    const other = await applyPlan(store, spec, { source: 'two.json' });
    assert.equal(other.created.length, 1);
    assert.equal((await store.list()).length, 2);
  });

  test('a dry run reads the list but writes nothing, not even the list directory', async () => {
    const dir = tempDir();
    const spec = parseMarkdownPlan(PLAN, 'launch.md');
    const dry = await applyPlan(open(dir), spec, { source: 'launch.md', dryRun: true });
    assert.equal(dry.created.length, 0);
    assert.equal(dry.tasks.length, 7);
    assert.ok(dry.tasks.every((t) => t.action === 'would-create' && t.id === undefined));
    assert.deepEqual(snapshot(dir), {});

    await applyPlan(open(dir), spec, { source: 'launch.md' });
    const before = snapshot(dir);
    const edited = parseMarkdownPlan(`${PLAN}- Extra\n`, 'launch.md');
    const dry2 = await applyPlan(open(dir), edited, { source: 'launch.md', dryRun: true });
    assert.deepEqual(
      dry2.tasks.filter((t) => t.action === 'would-create').map((t) => t.subject),
      ['Extra'],
    );
    assert.equal(dry2.existing.length, 7);
    assert.deepEqual(snapshot(dir), before);
  });

  test("a plan whose edges would close a cycle with the list's own dependencies is refused before any write", async () => {
    const dir = tempDir();
    const store = open(dir);
    const spec = loadPlan('[{"key": "a", "subject": "A"}, {"key": "b", "subject": "B", "after": ["a"]}]', 'p.json');
    await applyPlan(store, spec, { source: 'p' });
    const [a, b] = await store.list();
    // Someone removes the plan's edge and adds the reverse by hand.
    await store.removeDependency(a?.id as string, b?.id as string);
    await store.addDependency(b?.id as string, a?.id as string);
    const grown = loadPlan(
      '[{"key": "a", "subject": "A"}, {"key": "b", "subject": "B", "after": ["a"]}, {"key": "c", "subject": "C"}]',
      'p.json',
    );
    const before = snapshot(dir);
    await assert.rejects(applyPlan(store, grown, { source: 'p' }), (err: unknown) => {
      assert.ok(isTasklaneError(err, 'CYCLE'));
      assert.match(err.message, /a blocking b would close a cycle/);
      return true;
    });
    assert.deepEqual(snapshot(dir), before);
  });

  test('an invalid spec is refused before any write', async () => {
    const dir = tempDir();
    const bad = { tasks: [{ key: 'a', subject: 'A', after: ['nope'] }] };
    await assert.rejects(applyPlan(open(dir), bad, { source: 'p' }), (err: unknown) =>
      isTasklaneError(err, 'INVALID_INPUT'),
    );
    assert.deepEqual(snapshot(dir), {});
  });
});
