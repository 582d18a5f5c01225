import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tasklaneFields } from '../src/model/index.js';
import { type AgentRecord, CLAUDE_STANDIN, cli, makeList, readRecords, runArgs } from './engine-helpers.js';
import { tempDir } from './helpers.js';

// Agent presets, tmux and worktrees, against stand-in programs that check what they are given.

interface ClaudeCall {
  argv: string[];
  prompt: string;
  problems: string[];
}

function claudeCall(records: string, id: string): ClaudeCall {
  return JSON.parse(readFileSync(join(records, `claude.${id}.json`), 'utf8')) as ClaudeCall;
}

describe('the Claude Code preset', () => {
  it('passes -p --output-format stream-json --verbose, the prompt on stdin, the list in the environment, and records tokens and cost', async () => {
    const f = await makeList([{ subject: 'Ask Claude' }]);
    const r = await cli(
      [
        'run',
        '--dir',
        f.dir,
        '--list',
        f.list,
        '--agent',
        `"${process.execPath}" "${CLAUDE_STANDIN}"`,
        '--preset',
        'claude',
        '--json',
      ],
      { ...f.env, CLAUDECODE: '1' },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(claudeCall(f.records, '1').problems, []);
    const task = await f.store.get('1');
    assert.equal(tasklaneFields(task).result, 'Claude did task 1');
    assert.deepEqual(task.metadata?.agentRun, {
      preset: 'claude',
      log: join(f.dir, '.tasklane', f.list, 'logs', '1.log'),
      exitCode: 0,
      inputTokens: 10,
      outputTokens: 5,
      costUsd: 0.01,
      sessionId: 'standin-session',
    });
    const out = JSON.parse(r.stdout);
    assert.equal(out.tasks[0].inputTokens, 10);
    assert.equal(out.tasks[0].outputTokens, 5);
    assert.equal(out.tasks[0].costUsd, 0.01);
    assert.deepEqual(out.totals, { inputTokens: 10, outputTokens: 5, costUsd: 0.01 });
  });

  it('adds --dangerously-skip-permissions only when asked', async () => {
    const f = await makeList([{ subject: 'Unattended' }]);
    const agent = `"${process.execPath}" "${CLAUDE_STANDIN}"`;
    const base = ['run', '--dir', f.dir, '--list', f.list, '--agent', agent, '--preset', 'claude'];
    const r = await cli([...base, '--dangerously-skip-permissions'], { ...f.env, EXPECT_SKIP: '1' });
    assert.equal(r.code, 0, r.stderr);
    // Then the run's list as an MCP server (test/engine-claude-mcp.test.ts).
    assert.deepEqual(claudeCall(f.records, '1').argv.slice(0, 5), [
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--dangerously-skip-permissions',
    ]);
  });

  it('is chosen for the default agent `claude` found on PATH, and is_error fails the task', async () => {
    const f = await makeList([{ subject: 'Found on PATH' }]);
    const bin = join(f.dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'claude'), `#!/bin/sh\nexec "${process.execPath}" "${CLAUDE_STANDIN}" "$@"\n`);
    chmodSync(join(bin, 'claude'), 0o755);
    const env = { ...f.env, PATH: `${bin}${delimiter}${dirname(process.execPath)}${delimiter}/usr/bin:/bin` };
    const ok = await cli(['run', '--dir', f.dir, '--list', f.list, '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /with up to 4 agents at once \(claude \(claude preset\)\)/);
    assert.equal(JSON.parse(ok.stdout).tasks[0].result, 'Claude did task 1');

    const g = await makeList([{ subject: 'Claude gives up' }]);
    const bad = await cli(['run', '--dir', g.dir, '--list', g.list, '--json'], {
      ...env,
      ...g.env,
      PATH: env.PATH,
      STANDIN_IS_ERROR: '1',
    });
    assert.equal(bad.code, 1);
    const out = JSON.parse(bad.stdout);
    assert.equal(out.tasks[0].status, 'failed');
    // The agent's own error (is_error on stdout, exit 1, nothing on stderr), not just "exit 1".
    assert.match(out.tasks[0].failure, /^exit 1: API Error: 400 \{"type":"error".*prompt is too long/);
  });

  it('passes --permission-mode on, and refuses bypassPermissions under any name but --dangerously-skip-permissions', async () => {
    const f = await makeList([{ subject: 'Edit files' }]);
    const agent = `"${process.execPath}" "${CLAUDE_STANDIN}"`;
    const base = ['run', '--dir', f.dir, '--list', f.list, '--agent', agent, '--preset', 'claude'];
    const r = await cli([...base, '--permission-mode', 'acceptEdits'], { ...f.env, EXPECT_MODE: 'acceptEdits' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(claudeCall(f.records, '1').problems, []);
    const g = await makeList([{ subject: 'Anything goes' }]);
    const bypass = await cli(
      [
        'run',
        '--dir',
        g.dir,
        '--list',
        g.list,
        '--agent',
        agent,
        '--preset',
        'claude',
        '--permission-mode',
        'bypassPermissions',
      ],
      g.env,
    );
    assert.equal(bypass.code, 2);
    assert.match(bypass.stderr, /--dangerously-skip-permissions/);
    assert.equal((await g.store.get('1')).status, 'pending');
  });

  it('sums costs exactly and rounds the total once', async () => {
    const f = await makeList(Array.from({ length: 5 }, (_, i) => ({ subject: `Costs ${i}` })));
    const agent = `"${process.execPath}" "${CLAUDE_STANDIN}"`;
    const r = await cli(['run', '--dir', f.dir, '--list', f.list, '--agent', agent, '--preset', 'claude', '--json'], {
      ...f.env,
      STANDIN_COST: '0.0044186',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).totals.costUsd, 0.022093, 'not 0.022095 (rounded at each task)');
  });

  it('refuses an --agent that is not installed, naming it', async () => {
    const f = await makeList([{ subject: 'x' }]);
    const r = await cli(['run', '--dir', f.dir, '--list', f.list, '--agent', 'no-such-agent-xyz --fast'], f.env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /the agent command "no-such-agent-xyz" \(from --agent\) is not installed/);
    assert.equal((await f.store.get('1')).status, 'pending');
  });
});

// A tmux server of our own (its socket under TMUX_TMPDIR), killed before its directory is removed.
const tmuxDir = mkdtempSync(join(tmpdir(), 'tasklane-tmux-'));
const tmuxEnv = { TMUX_TMPDIR: tmuxDir, TMUX: '' };
after(() => {
  spawnSync('tmux', ['kill-server'], { env: { ...process.env, ...tmuxEnv }, stdio: 'ignore' });
  rmSync(tmuxDir, { recursive: true, force: true });
});

describe('--tmux and --worktree', () => {
  it('--tmux runs each agent in a window of the session named for the list, output still logged', async () => {
    const f = await makeList([
      { subject: 'In tmux', standin: { result: 'from the pane' } },
      { subject: 'Also in tmux', after: [0] },
    ]);
    const r = await cli(runArgs(f, ['--tmux', '--json']), { ...f.env, ...tmuxEnv });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.tasks.map((t: { status: string }) => t.status),
      ['completed', 'completed'],
    );
    assert.equal(out.tasks[0].result, 'from the pane');
    const has = spawnSync('tmux', ['has-session', '-t', '=tasklane-work'], { env: { ...process.env, ...tmuxEnv } });
    assert.equal(has.status, 0, 'the session tasklane-work exists');
    const log = readFileSync(join(f.dir, '.tasklane', 'work', 'logs', '1.log'), 'utf8');
    assert.match(log, /agent 1 attempt 1 started/);
    const rec = readRecords(f.records).find((x) => x.id === '2') as AgentRecord;
    assert.match(rec.prompt, /from the pane/);
  });

  it('says once that agents share the checkout in a git repository with -j above 1 and no --worktree', async () => {
    const repo = tempDir('tasklane-repo-');
    execFileSync('git', ['-C', repo, 'init', '-q']);
    const warning = /agents will work in the same checkout \(.*\) at once.*--worktree/g;
    const f = await makeList([{ subject: 'One' }, { subject: 'Two' }]);
    const shared = await cli(runArgs(f, ['-j', '2']), f.env, repo);
    assert.equal(shared.code, 0, shared.stderr);
    assert.equal(shared.stderr.match(warning)?.length, 1, shared.stderr);
    for (const extra of [
      ['-j', '1'],
      ['-j', '2', '--worktree'],
      ['-j', '2', '--preset', 'sim'],
    ]) {
      const g = await makeList([{ subject: 'One' }]);
      if (extra.includes('--worktree')) {
        execFileSync('git', [
          '-C',
          repo,
          '-c',
          'user.email=t@example.com',
          '-c',
          'user.name=t',
          'commit',
          '-q',
          '--allow-empty',
          '-m',
          'start',
        ]);
      }
      const r = await cli(runArgs(g, extra), g.env, repo);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, warning, extra.join(' '));
    }
    const outside = await makeList([{ subject: 'Not in a repository' }]);
    const r = await cli(runArgs(outside, ['-j', '2']), outside.env, tempDir('tasklane-plain-'));
    assert.doesNotMatch(r.stderr, warning);
  });

  it('--worktree runs each task in its own git worktree and branch, recorded in its result', async () => {
    const repo = tempDir('tasklane-repo-');
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
    git('init', '-q');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'start');
    const f = await makeList([{ subject: 'Branch one' }, { subject: 'Branch two' }]);
    // The run's working directory is in the repository.
    const inRepo = await cli(runArgs(f, ['--worktree', '--json']), f.env, repo);
    assert.equal(inRepo.code, 0, inRepo.stderr);
    const out = JSON.parse(inRepo.stdout);
    for (const [i, t] of out.tasks.entries()) {
      const id = String(i + 1);
      const path = join(repo, '.tasklane', 'worktrees', 'work', id);
      assert.deepEqual(t.worktree, {
        path,
        branch: `tasklane/work/${id}`,
        commit: git('rev-parse', `tasklane/work/${id}`).trim(),
      });
      assert.match(t.result, new RegExp(`Worktree: ${path} \\(branch tasklane/work/${id}\\)$`));
      const rec = readRecords(f.records).find((x) => x.id === id) as AgentRecord;
      assert.equal(rec.cwd, path);
      assert.ok(existsSync(join(path, '.git')));
    }
    assert.match(git('branch', '--list', 'tasklane/*'), /tasklane\/work\/1[\s\S]*tasklane\/work\/2/);
    assert.equal(git('status', '--porcelain'), '', 'the worktrees do not show up as changes');
  });
});
