import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, test } from 'node:test';
import { cliIn, explain, type RunOptions, run, snapshot } from './cli-run.js';
import { repoRoot, tempDir } from './helpers.js';

// `tasklane plan` through the built CLI: dry runs, idempotent re-runs, errors and exit codes, and
// --agent with stand-in agents (test/fixtures/plan-agent) instead of a real model.

const FIXTURES = join(repoRoot, 'test', 'fixtures', 'plan-agent');
const AGENT = join(FIXTURES, 'agent.mjs');
const NO_AGENT_ENV = { TASKLANE_AGENT: undefined, CLAUDE_CODE: undefined };

/** A fresh list root and a working directory holding the plan files. */
function setup(files: Record<string, string> = {}) {
  const { dir, tl } = cliIn();
  const cwd = tempDir('tasklane-plan-cwd-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  const plan = (args: string[], opts: RunOptions = {}) =>
    tl(['plan', '--list', 'p', ...args], { cwd, ...opts, env: { ...NO_AGENT_ENV, ...opts.env } });
  return { dir, cwd, plan, tl };
}

/** Running (a zombie waiting for a reaper counts as ended: in containers PID 1 may never reap it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

const agentFlag = (mode: string) => `--agent=${process.execPath} ${AGENT} ${mode}`;

describe('tasklane plan (CLI)', () => {
  test('--dry-run prints the graph and writes nothing', () => {
    const { dir, cwd, plan } = setup();
    copyFileSync(join(repoRoot, 'examples', 'webapp.md'), join(cwd, 'webapp.md'));
    const r = plan(['webapp.md', '--dry-run']);
    assert.equal(r.status, 0, explain(r));
    assert.match(r.stdout, /Plan webapp\.md "Notes app: first release": 13 tasks/);
    assert.match(r.stdout, /Creation order: /);
    assert.match(r.stdout, /Would create 13 tasks in list p/);
    assert.deepEqual(snapshot(dir), {}, 'the list root is untouched');

    const j = plan(['webapp.md', '--dry-run', '--json']);
    assert.equal(j.status, 0, explain(j));
    const out = j.json();
    assert.equal(out.dryRun, true);
    assert.equal(out.source, 'webapp.md');
    assert.equal(out.plan.tasks.length, 13);
    assert.equal(out.order.length, 13);
    assert.ok(out.tasks.every((t: { action: string }) => t.action === 'would-create'));
    assert.deepEqual(snapshot(dir), {});
  });

  test('running a plan twice creates nothing twice', () => {
    const { dir, cwd, plan, tl } = setup();
    copyFileSync(join(repoRoot, 'examples', 'webapp.md'), join(cwd, 'webapp.md'));
    const first = plan(['webapp.md', '--json']);
    assert.equal(first.status, 0, explain(first));
    const one = first.json();
    assert.equal(one.created.length, 13);
    assert.deepEqual(one.existing, []);
    assert.equal(one.tasks[0].key, 'api-design');
    const before = snapshot(dir);

    const second = plan(['webapp.md', '--json']);
    assert.equal(second.status, 0, explain(second));
    const two = second.json();
    assert.deepEqual(two.created, []);
    assert.deepEqual([...two.existing].sort(), [...one.created].sort());
    assert.deepEqual(snapshot(dir), before, 'the second run wrote nothing');

    const human = plan(['webapp.md']);
    assert.match(human.stdout, /Created no tasks from webapp\.md in list p, 13 already existed; added 0 dependencies/);
    const listed = tl(['list', '--list', 'p', '--all', '--json'], { cwd });
    assert.equal(listed.json().tasks.length, 13);
  });

  test("in a project, the plan's source is its path from the project root, wherever it is run from", () => {
    const project = tempDir('tasklane-plan-project-');
    const sub = join(project, 'src');
    mkdirSync(join(project, 'plans'));
    mkdirSync(sub);
    writeFileSync(join(project, 'plans', 'p.md'), '- A\n- B after #1\n');
    const env = { ...NO_AGENT_ENV };
    assert.equal(run(['init'], { cwd: project, env }).status, 0);
    const fromRoot = run(['plan', 'plans/p.md', '--json'], { cwd: project, env });
    assert.equal(fromRoot.status, 0, explain(fromRoot));
    assert.equal(fromRoot.json().source, 'plans/p.md');
    assert.equal(fromRoot.json().created.length, 2);
    const fromSub = run(['plan', '../plans/p.md', '--json'], { cwd: sub, env });
    assert.equal(fromSub.status, 0, explain(fromSub));
    assert.equal(fromSub.json().source, 'plans/p.md');
    assert.deepEqual(fromSub.json().created, []);
  });

  test('a JSON plan from stdin, with --format', () => {
    const { plan } = setup();
    const r = plan(['-', '--format', 'yaml', '--json'], {
      input: 'tasks:\n  - {key: a, subject: A}\n  - {key: b, subject: B, after: [a]}\n',
    });
    assert.equal(r.status, 0, explain(r));
    assert.equal(r.json().source, 'stdin');
    assert.equal(r.json().created.length, 2);
  });

  test('a bad reference exits 1 naming file and line, and writes nothing', () => {
    const { dir, plan } = setup({ 'bad.md': '- Design API\n- Build\n  depends on: Desgin API\n' });
    const r = plan(['bad.md']);
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /bad\.md:3: .*"Desgin API".*did you mean "Design API"/);
    const j = plan(['bad.md', '--json']);
    assert.equal(j.status, 1);
    assert.equal(j.json().error.code, 'INVALID_INPUT');
    assert.equal(j.json().error.file, 'bad.md');
    assert.deepEqual(snapshot(dir), {});
  });

  test('usage errors exit 2; an unreadable plan or one without tasks exits 1', () => {
    const { plan } = setup({ 'notes.md': 'We should build an API and then a UI.\n' });
    assert.equal(plan([]).status, 2);
    assert.equal(plan(['notes.md', '--format', 'toml']).status, 2);
    assert.equal(plan(['notes.md', '--timeout', '5m']).status, 2);
    assert.equal(plan(['notes.md', 'extra.md']).status, 2);
    const missing = plan(['nope.md']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read the plan nope\.md: no such file/);
    const prose = plan(['notes.md']);
    assert.equal(prose.status, 1);
    assert.match(prose.stderr, /no tasks found .*tasklane plan notes\.md --agent/);
  });
});

describe('tasklane plan --agent (stand-in agents)', () => {
  const NOTES = 'We need a schema first, then an API on it, then a UI.\n';

  test('the agent gets the plan on stdin and its JSON graph is applied', () => {
    const { cwd, plan, tl } = setup({ 'notes.md': NOTES });
    const promptOut = join(cwd, 'prompt.json');
    const r = plan(['notes.md', agentFlag('good'), '--json'], { env: { PLAN_AGENT_PROMPT_OUT: promptOut } });
    assert.equal(r.status, 0, explain(r));
    assert.equal(r.json().created.length, 3);
    const seen = JSON.parse(readFileSync(promptOut, 'utf8'));
    assert.deepEqual(seen.argv, ['good']);
    assert.ok(seen.prompt.includes(NOTES), 'the plan text is in the prompt');
    assert.match(seen.prompt, /"tasks": \[/);
    const tasks = tl(['list', '--list', 'p', '--json'], { cwd }).json().tasks;
    const ui = tasks.find((t: { subject: string }) => t.subject === 'Build the UI');
    const api = tasks.find((t: { subject: string }) => t.subject === 'Build the API');
    assert.deepEqual(ui.blockedBy, [api.id]);
  });

  test('TASKLANE_AGENT names the agent; JSON in a fence inside prose is found; --dry-run writes nothing', () => {
    const { dir, plan } = setup({ 'notes.md': NOTES });
    const r = plan(['notes.md', '--agent', '--dry-run', '--json'], {
      env: { TASKLANE_AGENT: `${process.execPath} ${AGENT} prose` },
    });
    assert.equal(r.status, 0, explain(r));
    assert.deepEqual(
      r.json().plan.tasks.map((t: { key: string }) => t.key),
      ['schema', 'api', 'ui'],
    );
    assert.deepEqual(snapshot(dir), {});
  });

  test('the default agent is `claude -p --output-format json`, its result read from the JSON', () => {
    const { cwd, plan } = setup({ 'notes.md': NOTES });
    const promptOut = join(cwd, 'prompt.json');
    const r = plan(['notes.md', '--agent', '--json'], {
      env: { PATH: `${join(FIXTURES, 'bin')}${delimiter}${process.env.PATH}`, PLAN_AGENT_PROMPT_OUT: promptOut },
    });
    assert.equal(r.status, 0, explain(r));
    assert.equal(r.json().created.length, 2);
    assert.deepEqual(JSON.parse(readFileSync(promptOut, 'utf8')).argv, ['-p', '--output-format', 'json']);
  });

  test('an answer without JSON exits 1 and writes nothing', () => {
    const { dir, plan } = setup({ 'notes.md': NOTES });
    const r = plan(['notes.md', agentFlag('garbage')]);
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /notes\.md \(agent answer\): the agent's answer holds no JSON plan; nothing was written/);
    assert.deepEqual(snapshot(dir), {});
  });

  test('an answer whose graph is invalid exits 1 with the validation error and writes nothing', () => {
    const { dir, plan } = setup({ 'notes.md': NOTES });
    const r = plan(['notes.md', agentFlag('invalid')]);
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /unknown task key "shema" in tasks\[0\]\.after\[0\] \(did you mean "schema"\?\)/);
    assert.deepEqual(snapshot(dir), {});
  });

  test('an agent that fails exits 1 with its stderr and writes nothing', () => {
    const { dir, plan } = setup({ 'notes.md': NOTES });
    const r = plan(['notes.md', agentFlag('fail')]);
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /exited with status 3; nothing was written/);
    assert.match(r.stderr, /out of credits/);
    assert.deepEqual(snapshot(dir), {});
  });

  test('an agent past --timeout is ended with everything it started, and nothing is written', async () => {
    const { dir, cwd, plan } = setup({ 'notes.md': NOTES });
    const pidOut = join(cwd, 'grandchild.pid');
    const r = plan(['notes.md', agentFlag('hang'), '--timeout', '1s'], { env: { PLAN_AGENT_PID_OUT: pidOut } });
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /timed out after 1 s; nothing was written/);
    assert.deepEqual(snapshot(dir), {});
    const pid = Number(readFileSync(pidOut, 'utf8'));
    try {
      // The grandchild got SIGTERM with its process group; allow it a moment to be reaped.
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(alive(pid), false, `grandchild ${pid} outlived the agent's timeout`);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  test('an agent command that is not installed is a usage error, the default claude included', () => {
    const { plan } = setup({ 'notes.md': NOTES });
    const r = plan(['notes.md', '--agent=no-such-agent-xyz']);
    assert.equal(r.status, 2, explain(r));
    assert.match(r.stderr, /no-such-agent-xyz/);
    const none = plan(['notes.md', '--agent'], { env: { PATH: tempDir('tasklane-empty-path-') } });
    assert.equal(none.status, 2, explain(none));
    assert.match(none.stderr, /no agent to write the plan: claude is not installed/);
  });
});
