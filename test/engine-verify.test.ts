import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CheckRecord } from '../src/engine/check.js';
import { formatCheck, renderPrompt } from '../src/engine/prompt.js';
import { checkVerify, LIMITS, tasklaneFields } from '../src/model/index.js';
import { type AgentRecord, alive, cli, makeList, readRecords, runArgs } from './engine-helpers.js';
import { repoRoot, tempDir } from './helpers.js';

// Checked completion (issue 8, build 2): a task's check runs after its agent exits 0, in the
// task's working directory; a failing check fails the attempt, feeds the next attempt's prompt,
// and holds the dependents back. Real stand-in agents, real checks through /bin/sh.

const checkOf = (task: { metadata?: Record<string, unknown> }): CheckRecord | undefined =>
  (task.metadata?.agentRun as { check?: CheckRecord } | undefined)?.check;

describe('checked completion', () => {
  it('fails an attempt whose check fails, shows its output to the next attempt, and holds the dependent until it passes', async () => {
    const verify = 'test -f done.txt || { echo "done.txt is missing from $(pwd)"; exit 3; }';
    const f = await makeList([
      { subject: 'Write done.txt', verify, standin: { work: { file: 'done.txt', fromAttempt: 2 } } },
      { subject: 'Use done.txt', after: [0], standin: { recordBlockers: true } },
    ]);
    const work = tempDir('tasklane-verify-work-');
    const r = await cli(runArgs(f, ['--retries', '1', '--retry-delay', '0.05', '--json']), f.env, work);
    assert.equal(r.code, 0, `run failed: ${r.stderr}`);
    const [a, b] = f.ids as [string, string];
    const records = readRecords(f.records);
    const first = records.find((x) => x.id === a && x.attempt === 1) as AgentRecord;
    const second = records.find((x) => x.id === a && x.attempt === 2) as AgentRecord;
    const dependent = records.filter((x) => x.id === b);
    assert.ok(first !== undefined && second !== undefined, 'the checked task ran twice');

    // Attempt 1 exited 0 without the work: its check failed, and said why in the task.
    const task = await f.store.get(a);
    const failures = tasklaneFields(task).failures ?? [];
    assert.equal(failures.length, 1, 'one failed attempt is on record');
    assert.match(failures[0]?.reason ?? '', /^the check `test -f done\.txt .*` failed: exit 3: done\.txt is missing/);
    // Attempt 2's prompt held the command and the end of the check's output.
    assert.doesNotMatch(first.prompt, /previous attempt's check failed/);
    assert.match(first.prompt, /## How your work is checked[\s\S]*test -f done\.txt/);
    assert.match(second.prompt, /## The previous attempt's check failed[\s\S]*exited 3/);
    assert.ok(second.prompt.includes(`done.txt is missing from ${work}`), 'the check output is in the prompt');

    // Attempt 2 did the work; the check passed in the run's working directory and is recorded.
    assert.equal(task.status, 'completed');
    assert.ok(existsSync(join(work, 'done.txt')));
    const check = checkOf(task) as CheckRecord;
    assert.equal(check.command, verify);
    assert.equal(check.source, 'task');
    assert.equal(check.passed, true);
    assert.equal(check.exitCode, 0);
    assert.equal(typeof check.durationMs, 'number');

    // The dependent ran once, after its blocker completed (it saw it completed when it started).
    assert.equal(dependent.length, 1, 'the dependent ran once');
    assert.deepEqual(dependent[0]?.blockers, { [a]: 'completed' });
    assert.ok((dependent[0]?.start ?? 0) >= (second.end ?? Number.POSITIVE_INFINITY));

    // The aggregate (JSON) carries the check.
    const agg = JSON.parse(r.stdout) as { tasks: { id: string; attempts: number; check?: CheckRecord }[] };
    const row = agg.tasks.find((t) => t.id === a);
    assert.equal(row?.attempts, 2);
    assert.equal(row?.check?.passed, true);
    assert.equal(row?.check?.command, verify);
    assert.equal(
      agg.tasks.find((t) => t.id === b)?.check,
      undefined,
      'a task without a check has none in the aggregate',
    );
  });

  it("run --verify checks the tasks without their own; a task's own check wins", async () => {
    const f = await makeList([
      { subject: 'No check of its own', standin: {} },
      { subject: 'Own check', verify: 'echo own >> own.txt' },
    ]);
    const work = tempDir('tasklane-verify-work-');
    const runCheck = 'echo "run check for $TASKLANE_TASK_ID" >> run-checks.txt';
    const r = await cli(runArgs(f, ['--verify', runCheck]), f.env, work);
    assert.equal(r.code, 0, r.stderr);
    const [plain, own] = f.ids as [string, string];
    assert.equal(readFileSync(join(work, 'run-checks.txt'), 'utf8'), `run check for ${plain}\n`);
    assert.equal(readFileSync(join(work, 'own.txt'), 'utf8'), 'own\n');
    const plainCheck = checkOf(await f.store.get(plain)) as CheckRecord;
    const ownCheck = checkOf(await f.store.get(own)) as CheckRecord;
    assert.deepEqual([plainCheck.source, plainCheck.command], ['run', runCheck]);
    assert.deepEqual([ownCheck.source, ownCheck.command], ['task', 'echo own >> own.txt']);
    // The markdown aggregate names each check and how it went.
    assert.match(
      r.stdout,
      /check `echo "run check for \$TASKLANE_TASK_ID" >> run-checks\.txt` \(the run's --verify\) passed/,
    );
    assert.match(r.stdout, /check `echo own >> own\.txt` passed/);
  });

  it('without retries, a failed check fails the task, its dependent is not run, and the aggregate shows the output', async () => {
    const f = await makeList([
      { subject: 'Claims success', verify: 'echo "3 tests failed" >&2; exit 1' },
      { subject: 'After it', after: [0] },
    ]);
    const r = await cli(runArgs(f), f.env, tempDir('tasklane-verify-work-'));
    assert.equal(r.code, 1, r.stderr);
    const [a, b] = f.ids as [string, string];
    assert.deepEqual(
      readRecords(f.records).map((x) => x.id),
      [a],
      'only the checked task ran',
    );
    const task = await f.store.get(a);
    assert.notEqual(task.status, 'completed');
    assert.match(tasklaneFields(task).failure?.reason ?? '', /the check `echo .*` failed: exit 1: 3 tests failed/);
    assert.equal(checkOf(task)?.passed, false);
    assert.equal(checkOf(task)?.exitCode, 1);
    assert.equal((await f.store.get(b)).status, 'pending');
    assert.match(r.stdout, /The end of the check output:\n\n```\n3 tests failed\n```/);
    assert.match(r.stdout, /blocked by failed #1/);
  });

  it('create --verify stores the check, update --verify / --no-verify change it, and the model bounds it', async () => {
    const f = await makeList([]);
    const env = { ...f.env };
    const created = await cli(['create', 'Checked', '--verify', 'npm test', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as { task: { id: string } }).task.id;
    assert.equal(tasklaneFields(await f.store.get(id)).verify, 'npm test');
    const changed = await cli(['update', id, '--verify', 'make check'], env);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(tasklaneFields(await f.store.get(id)).verify, 'make check');
    const removed = await cli(['update', id, '--no-verify'], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(tasklaneFields(await f.store.get(id)).verify, undefined);

    const long = await cli(['create', 'Too long', '--verify', 'x'.repeat(LIMITS.verifyBytes + 1)], env);
    assert.equal(long.code, 1, long.stdout);
    assert.match(long.stderr, /verify is 4097 bytes; the limit is 4096 bytes \(4\.0 KiB\)/);
    assert.throws(() => checkVerify('  '), /verify must be a non-empty command/);
    assert.throws(() => checkVerify('a\0b'), /NUL/);
    const badRun = await cli(runArgs(f, ['--verify', '']), env);
    assert.equal(badRun.code, 2, badRun.stderr);
    assert.match(badRun.stderr, /--verify must be a non-empty command/);
  });

  it("a plan sets a task's check with verify (markdown and JSON); an agent's plan may not", async () => {
    const f = await makeList([]);
    const cwd = tempDir('tasklane-verify-plan-');
    writeFileSync(
      join(cwd, 'plan.md'),
      '# Release\n\n- Build it {#build}\n  verify: npm run build && test -f dist/cli.js\n- Ship it (after: build)\n',
    );
    writeFileSync(
      join(cwd, 'plan.json'),
      JSON.stringify({ tasks: [{ key: 'lint', subject: 'Lint', verify: 'npx biome ci .' }] }),
    );
    const plan = (args: string[]) => cli(['plan', '--dir', f.dir, '--list', f.list, ...args], f.env, cwd);
    const md = await plan(['plan.md']);
    assert.equal(md.code, 0, md.stderr);
    const json = await plan(['plan.json']);
    assert.equal(json.code, 0, json.stderr);
    const bySubject = new Map((await f.store.list()).map((t) => [t.subject, tasklaneFields(t).verify]));
    assert.equal(bySubject.get('Build it'), 'npm run build && test -f dist/cli.js');
    assert.equal(bySubject.get('Ship it'), undefined);
    assert.equal(bySubject.get('Lint'), 'npx biome ci .');

    writeFileSync(join(cwd, 'notes.md'), 'Some notes without a list.\n');
    const agent = join(repoRoot, 'test', 'fixtures', 'plan-agent', 'agent.mjs');
    const before = (await f.store.list()).length;
    const fromAgent = await plan(['notes.md', `--agent=${process.execPath} ${agent} verify`]);
    assert.equal(fromAgent.code, 1, fromAgent.stderr);
    assert.match(
      fromAgent.stderr,
      /task "schema" sets verify, a command the executor would run; an agent's plan may not/,
    );
    assert.equal((await f.store.list()).length, before, 'nothing was written');
  });

  it('an agent that marks its own task completed does not get past a failing check', async () => {
    const f = await makeList([
      { subject: 'Marks itself done', verify: 'echo "not built"; exit 4', standin: { editSelf: 'done' } },
      { subject: 'Waits for it', after: [0] },
    ]);
    // One slot: nothing else can start while the first task's attempt is being decided.
    const r = await cli(runArgs(f, ['-j', '1', '--json']), f.env, tempDir('tasklane-verify-work-'));
    assert.equal(r.code, 1, r.stderr);
    const [a] = f.ids as [string, string];
    const task = await f.store.get(a);
    assert.notEqual(task.status, 'completed', 'the failing check decides, not the agent');
    assert.match(
      tasklaneFields(task).failure?.reason ?? '',
      /the check `echo "not built"; exit 4` failed: exit 4: not built/,
    );
    assert.deepEqual(
      readRecords(f.records).map((x) => x.id),
      [a],
      'the dependent did not run',
    );
    const agg = JSON.parse(r.stdout) as { tasks: { id: string; status: string; note?: string }[] };
    assert.equal(agg.tasks.find((t) => t.id === a)?.status, 'failed');
    assert.match(
      agg.tasks.find((t) => t.id === a)?.note ?? '',
      /marked completed while its agent ran, but its check failed/,
    );
  });

  it("runs the check in the task's worktree with --worktree, and leaves the starting checkout alone", async () => {
    const repo = tempDir('tasklane-verify-repo-');
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
    git('init', '-q');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'start');
    const f = await makeList([
      {
        subject: 'Work in a worktree',
        verify: 'test -f done.txt && pwd > checked-in.txt',
        standin: { work: { file: 'done.txt' } },
      },
    ]);
    const r = await cli(runArgs(f, ['--worktree', '--json']), f.env, repo);
    assert.equal(r.code, 0, r.stderr);
    const path = join(repo, '.tasklane', 'worktrees', 'work', f.ids[0] as string);
    assert.equal(readFileSync(join(path, 'checked-in.txt'), 'utf8').trim(), path);
    assert.equal(existsSync(join(repo, 'done.txt')), false, 'the starting checkout is untouched');
    assert.equal(checkOf(await f.store.get(f.ids[0] as string))?.passed, true);
  });

  it('a check past --timeout is ended with what it started, and fails the attempt', async () => {
    const work = tempDir('tasklane-verify-work-');
    const f = await makeList([{ subject: 'Slow check', verify: 'echo $$ > check.pid; exec sleep 60' }]);
    const r = await cli(runArgs(f, ['--timeout', '1']), f.env, work);
    assert.equal(r.code, 1, r.stderr);
    const task = await f.store.get(f.ids[0] as string);
    assert.match(
      tasklaneFields(task).failure?.reason ?? '',
      /^the check `echo \$\$ > check\.pid; exec sleep 60` failed: timed out after 1 s/,
    );
    assert.equal(checkOf(task)?.error, 'timed out after 1 s');
    const pid = Number(readFileSync(join(work, 'check.pid'), 'utf8'));
    assert.equal(alive(pid), false, `the check ${pid} outlived the run`);
  });
});

describe('the check section of the prompt', () => {
  const failed: CheckRecord = {
    command: 'npm test',
    source: 'task',
    passed: false,
    exitCode: 1,
    durationMs: 5,
    outputTail: 'expected:\n```\n{{id}}\n```\n',
  };

  it('keeps the output inside its fence, whatever backticks it holds, and expands nothing in it', () => {
    const section = formatCheck('npm test', failed);
    assert.match(section, /````\nexpected:\n```\n\{\{id\}\}\n```\n````\n\n$/);
    const prompt = renderPrompt('#{{id}}\n{{check}}end', {
      id: '7',
      subject: 's',
      description: 'd',
      check: section,
      blockers: 'b',
      list: 'l',
      resultFile: 'r',
      listTools: 't',
    });
    assert.ok(prompt.includes('{{id}}'), 'the output is data: its {{id}} stays as it is');
    assert.ok(prompt.startsWith('#7\n## How your work is checked'));
  });

  it('is empty without a check or a failed one, and is appended to a template without {{check}}', () => {
    assert.equal(formatCheck(undefined, undefined), '');
    assert.equal(formatCheck(undefined, { ...failed, passed: true, exitCode: 0 }), '');
    const values = {
      id: '1',
      subject: 's',
      description: 'd',
      blockers: 'b',
      list: 'l',
      resultFile: 'r',
      listTools: 't',
    };
    assert.equal(renderPrompt('T {{id}}', { ...values, check: '' }), 'T 1');
    assert.match(
      renderPrompt('T {{id}}', { ...values, check: formatCheck(undefined, failed) }),
      /^T 1\n\n## The previous attempt's check failed/,
    );
  });
});
