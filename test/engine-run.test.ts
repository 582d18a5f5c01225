import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tasklaneFields } from '../src/model/index.js';
import {
  type AgentRecord,
  alive,
  cli,
  makeList,
  maxOverlap,
  readRecords,
  runArgs,
  type TaskDef,
} from './engine-helpers.js';

// `tasklane run` end to end: the built CLI, real stand-in agent processes, a real file store.

function byId(records: AgentRecord[]): Map<string, AgentRecord[]> {
  const m = new Map<string, AgentRecord[]>();
  for (const r of records) m.set(r.id, [...(m.get(r.id) ?? []), r]);
  return m;
}

describe('tasklane run', () => {
  it('starts no task before all its blockers completed, and runs at most -j at once', async () => {
    // A layered graph: 14 tasks, each after one to three earlier ones.
    const defs: TaskDef[] = [];
    for (let i = 0; i < 14; i++) {
      const after = i < 3 ? [] : [i - 3, ...(i % 2 === 0 ? [i - 2] : []), ...(i % 3 === 0 ? [i - 1] : [])];
      defs.push({ subject: `Task ${i}`, after, standin: { ms: 40 + ((i * 37) % 90) } });
    }
    const f = await makeList(defs);
    const r = await cli(runArgs(f, ['-j', '3']), f.env);
    assert.equal(r.code, 0, `run failed: ${r.stderr}`);
    const records = readRecords(f.records);
    const runs = byId(records);
    assert.equal(records.length, defs.length, 'each task ran exactly once');
    for (const [i, def] of defs.entries()) {
      const mine = runs.get(f.ids[i] as string)?.[0] as AgentRecord;
      for (const b of def.after ?? []) {
        const blocker = runs.get(f.ids[b] as string)?.[0] as AgentRecord;
        assert.ok(
          blocker.end !== undefined && mine.start >= blocker.end,
          `#${mine.id} started at ${mine.start}, before its blocker #${blocker.id} ended at ${blocker.end}`,
        );
      }
    }
    assert.ok(maxOverlap(records) <= 3, `${maxOverlap(records)} agents ran at once with -j 3`);
    for (const id of f.ids) assert.equal((await f.store.get(id)).status, 'completed');
  });

  it("puts the writer's result in the reviewer's prompt, and both in the aggregate on stdout", async () => {
    const f = await makeList([
      { subject: 'Write the release notes', standin: { result: 'DRAFT: v2 adds offline mode' } },
      {
        subject: 'Review the release notes',
        description: 'Check the draft for accuracy.',
        after: [0],
        standin: { result: 'LGTM with one fix' },
      },
    ]);
    const r = await cli(runArgs(f), f.env);
    assert.equal(r.code, 0, r.stderr);
    const review = readRecords(f.records).find((x) => x.id === f.ids[1]) as AgentRecord;
    assert.match(review.prompt, /### #1 Write the release notes\n\nDRAFT: v2 adds offline mode/);
    assert.match(review.prompt, /# Review the release notes\n\nCheck the draft for accuracy\./);
    assert.equal(tasklaneFields(await f.store.get(f.ids[1] as string)).result, 'LGTM with one fix');
    assert.match(r.stdout, /^# Tasklane run: 2 of 2 tasks completed/);
    assert.match(r.stdout, /DRAFT: v2 adds offline mode/);
    assert.match(r.stdout, /LGTM with one fix/);
    assert.doesNotMatch(r.stdout, /tasklane: /, 'progress lines stay on stderr');
    assert.match(r.stderr, /done #2 Review the release notes/);
  });

  it('gives every agent the list, task id and result file in its environment', async () => {
    const f = await makeList([{ subject: 'Only', standin: { stdoutOnly: true, result: 'printed, not written' } }]);
    const r = await cli(runArgs(f, ['--json']), f.env);
    assert.equal(r.code, 0, r.stderr);
    const rec = readRecords(f.records)[0] as AgentRecord;
    assert.equal(rec.env.TASKLANE_LIST, f.list);
    // Only for a list in Claude Code's own root (test/engine-claude-mcp.test.ts); this one is not.
    assert.equal(rec.env.CLAUDE_CODE_TASK_LIST_ID, undefined);
    assert.equal(rec.env.TASKLANE_TASK_ID, f.ids[0]);
    assert.match(rec.env.TASKLANE_RESULT_FILE ?? '', /results\/1\.md$/);
    assert.equal(rec.env.TASKLANE_DIR, f.dir);
    // Without a result file, the agent's output is the result.
    const out = JSON.parse(r.stdout);
    assert.equal(out.ok, true);
    assert.equal(out.tasks[0].result, 'agent 1 attempt 1 started\nprinted, not written');
  });

  it('runs tasks that an agent adds while the run is going', async () => {
    const f = await makeList([
      { subject: 'Plan the work', standin: { subtask: { subject: 'Subtask added mid-run', ms: 20 } } },
      { subject: 'Something else', standin: { ms: 20 } },
    ]);
    const r = await cli(runArgs(f, ['--json']), f.env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const added = out.tasks.find((t: { subject: string }) => t.subject === 'Subtask added mid-run');
    assert.ok(added, `the added task is in the aggregate: ${r.stdout}`);
    assert.equal(added.status, 'completed');
    assert.ok(
      readRecords(f.records).some((x) => x.id === added.id),
      'an agent ran the added task',
    );
  });

  it('retries a failing task with --retries, and fails it when the retries run out', async () => {
    const f = await makeList([{ subject: 'Flaky', standin: { failAttempts: 2 } }]);
    const ok = await cli(runArgs(f, ['--retries', '2', '--retry-delay', '0.05', '--json']), f.env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(
      readRecords(f.records)
        .map((x) => x.attempt)
        .sort(),
      [1, 2, 3],
    );
    const task = await f.store.get(f.ids[0] as string);
    assert.equal(task.status, 'completed');
    assert.equal(tasklaneFields(task).failures?.length, 2, 'both failures are kept in the history');
    assert.match(ok.stderr, /FAILED #1 Flaky: exit 1: standin failure on attempt 1; retrying in/);

    const g = await makeList([{ subject: 'Broken', standin: { failAttempts: 5 } }]);
    const bad = await cli(runArgs(g, ['--retries', '1', '--retry-delay', '0.05', '--json']), g.env);
    assert.equal(bad.code, 1);
    assert.equal(readRecords(g.records).length, 2, 'one run and one retry');
    const out = JSON.parse(bad.stdout);
    assert.equal(out.tasks[0].status, 'failed');
    assert.match(out.tasks[0].failure, /^exit 1: standin failure on attempt 2/);
  });

  it('--on-failure continue: runs everything not downstream of the failure, then exits 1', async () => {
    const f = await makeList([
      { subject: 'Breaks', standin: { exit: 1 }, priority: 5 },
      { subject: 'Independent', standin: { ms: 200 } },
      { subject: 'Downstream', after: [0] },
      { subject: 'After independent', after: [1] },
    ]);
    const r = await cli(runArgs(f, ['-j', '2', '--json']), f.env);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    const status = Object.fromEntries(out.tasks.map((t: { id: string; status: string }) => [t.id, t.status]));
    assert.deepEqual(status, { 1: 'failed', 2: 'completed', 3: 'blocked', 4: 'completed' });
    assert.deepEqual(out.tasks[2].blockedBy, ['1']);
    assert.ok(!readRecords(f.records).some((x) => x.id === '3'), 'the downstream task never ran');
  });

  it('--on-failure stop: starts nothing new but lets the running agents finish', async () => {
    const f = await makeList([
      { subject: 'Breaks', standin: { exit: 1 }, priority: 5 },
      { subject: 'Long', standin: { ms: 600 }, priority: 5 },
      { subject: 'Would start next', priority: 1 },
    ]);
    const r = await cli(runArgs(f, ['-j', '2', '--on-failure', 'stop', '--json']), f.env);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    const status = Object.fromEntries(out.tasks.map((t: { id: string; status: string }) => [t.id, t.status]));
    assert.deepEqual(status, { 1: 'failed', 2: 'completed', 3: 'not_run' });
    assert.equal(out.stopped, 'task 1 failed');
  });

  it('--on-failure kill: stops the running agents, releases their tasks, leaves no process', async () => {
    const f = await makeList([
      { subject: 'Breaks', standin: { exit: 1, ms: 300 }, priority: 5 },
      { subject: 'Long', standin: { hang: true, grandchild: true }, priority: 5 },
      { subject: 'Would start next', priority: 1 },
    ]);
    const r = await cli(runArgs(f, ['-j', '2', '--on-failure', 'kill', '--json']), f.env);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    const status = Object.fromEntries(out.tasks.map((t: { id: string; status: string }) => [t.id, t.status]));
    assert.deepEqual(status, { 1: 'failed', 2: 'cancelled', 3: 'not_run' });
    const long = readRecords(f.records).find((x) => x.id === '2') as AgentRecord;
    assert.equal(alive(long.pid), false, 'the killed agent is gone');
    assert.equal(alive(long.grandchild as number), false, "the killed agent's child is gone");
    const task = await f.store.get('2');
    assert.equal(task.status, 'pending');
    assert.equal(task.owner, undefined);
  });

  it('kills an agent that runs past --timeout, with its children, and fails the task', async () => {
    const f = await makeList([{ subject: 'Hangs', standin: { hang: true, grandchild: true, ignoreTerm: true } }]);
    const r = await cli(runArgs(f, ['--timeout', '0.5', '--json']), f.env);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.tasks[0].status, 'failed');
    assert.equal(out.tasks[0].failure, 'timed out after 500 ms');
    const rec = readRecords(f.records)[0] as AgentRecord;
    assert.equal(alive(rec.pid), false);
    assert.equal(alive(rec.grandchild as number), false);
  });

  it('uses --prompt-template, and refuses one with an unknown placeholder', async () => {
    const f = await makeList([{ subject: 'Templated', description: 'with {{id}} inside' }]);
    const { writeFileSync } = await import('node:fs');
    const template = `${f.dir}/prompt.txt`;
    writeFileSync(template, 'T={{id}}|S={{subject}}|D={{description}}|L={{list}}|B={{blockers}}|R={{resultFile}}');
    const r = await cli(runArgs(f, ['--prompt-template', template]), f.env);
    assert.equal(r.code, 0, r.stderr);
    const rec = readRecords(f.records)[0] as AgentRecord;
    assert.equal(
      rec.prompt,
      `T=1|S=Templated|D=with {{id}} inside|L=work|B=Nothing: this task has no blockers.|R=${rec.env.TASKLANE_RESULT_FILE}`,
    );
    writeFileSync(template, 'Do {{task}}');
    const bad = await cli(runArgs(f, ['--prompt-template', template]), f.env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown placeholder \{\{task\}\}/);
  });

  it('without claude installed refuses to run (and imports nothing) unless --sim-if-missing, then imports the plan and simulates', async () => {
    const f = await makeList([]);
    const { writeFileSync } = await import('node:fs');
    const plan = `${f.dir}/plan.md`;
    writeFileSync(plan, '# Plan\n\n- Design {#design} ~1m\n- Build ~1m (after: design)\n');
    const env = { ...f.env, PATH: '/nonexistent', TASKLANE_SIM_SCALE: '0.001' };
    const refused = await cli(['run', plan, '--dir', f.dir, '--list', f.list, '--json'], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /"claude" \(from the default\) is not installed .*--preset sim/);
    assert.deepEqual(await f.store.list(), [], 'nothing imported, nothing run');
    const r = await cli(['run', plan, '--sim-if-missing', '--dir', f.dir, '--list', f.list, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /claude is not installed; running the simulated agent instead/);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.tasks.map((t: { subject: string; status: string }) => [t.subject, t.status]),
      [
        ['Design', 'completed'],
        ['Build', 'completed'],
      ],
    );
    assert.match(out.tasks[1].result, /Built on #1\./);
  });
});
