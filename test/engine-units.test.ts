import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  agentForTask,
  invocation,
  parseClaudeOutput,
  parseGeminiOutput,
  resolveAgent,
  splitCommand,
} from '../src/engine/agents.js';
import { checkTemplate, DEFAULT_TEMPLATE, formatBlockers, renderPrompt } from '../src/engine/prompt.js';
import { backoffMs } from '../src/engine/retries.js';
import { retryWhileIo } from '../src/engine/retry-io.js';
import { runAgent } from '../src/engine/runner.js';
import { blockedByFailure, nextTasks } from '../src/engine/scheduler.js';
import { indexTasks, type Task, TasklaneError, withTasklaneFields } from '../src/model/index.js';
import { alive } from './engine-helpers.js';
import { tempDir } from './helpers.js';

// The executor's pieces on their own: agent presets, prompt, backoff, scheduling order, and one
// agent process (real processes for the runner).

function task(
  id: string,
  opts: { blockedBy?: string[]; priority?: number; estimate?: number; done?: boolean } = {},
): Task {
  return withTasklaneFields(
    {
      id,
      subject: `Task ${id}`,
      description: '',
      status: opts.done === true ? 'completed' : 'pending',
      blocks: [],
      blockedBy: opts.blockedBy ?? [],
    },
    {
      ...(opts.priority === undefined ? {} : { priority: opts.priority }),
      ...(opts.estimate === undefined ? {} : { estimate: opts.estimate }),
    },
  );
}

function graph(tasks: Task[]): Map<string, Task> {
  const byId = indexTasks(tasks);
  for (const t of tasks) for (const b of t.blockedBy) byId.get(b)?.blocks.push(t.id);
  return byId;
}

describe('agent commands and presets', () => {
  it('splits a command like a shell, without expanding anything', () => {
    assert.deepEqual(splitCommand(`node "my agent.js" --name 'a b' x\\ y $HOME`), [
      'node',
      'my agent.js',
      '--name',
      'a b',
      'x y',
      '$HOME',
    ]);
    assert.throws(() => splitCommand('node "unclosed'), /unclosed " quote/);
  });

  it('gives each preset its exact argument vector, the prompt always on stdin', () => {
    const claude = invocation({ command: ['claude'], preset: 'claude', source: 'default' }, 'P', {
      dangerouslySkipPermissions: false,
      stream: true,
    });
    assert.deepEqual(claude.argv, ['claude', '-p', '--output-format', 'stream-json', '--verbose']);
    assert.equal(claude.stdin, 'P');
    const once = invocation({ command: ['claude'], preset: 'claude', source: 'default' }, 'P', {
      dangerouslySkipPermissions: false,
    });
    assert.deepEqual(once.argv, ['claude', '-p', '--output-format', 'json'], 'a one-shot call (plan --agent)');
    assert.equal(once.stream, undefined);
    const skip = { dangerouslySkipPermissions: true, stream: true };
    assert.deepEqual(invocation({ command: ['claude'], preset: 'claude', source: 'flag' }, 'P', skip).argv, [
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--dangerously-skip-permissions',
    ]);
    const mode = { dangerouslySkipPermissions: false, permissionMode: 'acceptEdits' as const, stream: true };
    assert.deepEqual(invocation({ command: ['claude'], preset: 'claude', source: 'flag' }, 'P', mode).argv, [
      'claude',
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--permission-mode',
      'acceptEdits',
    ]);
    assert.deepEqual(invocation({ command: ['codex'], preset: 'codex', source: 'flag' }, 'P', skip).argv, [
      'codex',
      'exec',
      '--dangerously-bypass-approvals-and-sandbox',
      '-',
    ]);
    assert.deepEqual(
      invocation({ command: ['gemini'], preset: 'gemini', source: 'flag' }, 'P', { dangerouslySkipPermissions: false })
        .argv,
      ['gemini', '--output-format', 'json', '-p', 'Carry out the task described above.'],
    );
    assert.deepEqual(invocation({ command: ['my-agent', '-v'], preset: 'stdin', source: 'flag' }, 'P', skip).argv, [
      'my-agent',
      '-v',
    ]);
  });

  it('resolves --agent, then TASKLANE_AGENT, then CLAUDE_CODE, and infers the preset from the program name', () => {
    const env = { PATH: '/usr/bin:/bin', TASKLANE_AGENT: 'sh -c x', CLAUDE_CODE: 'true' };
    assert.deepEqual(resolveAgent({ agent: 'env A=1', env, cwd: '/' }).choice, {
      command: ['env', 'A=1'],
      preset: 'stdin',
      source: 'flag',
    });
    assert.equal(resolveAgent({ env, cwd: '/' }).choice.source, 'TASKLANE_AGENT');
    assert.equal(resolveAgent({ env: { ...env, TASKLANE_AGENT: '' }, cwd: '/' }).choice.source, 'CLAUDE_CODE');
    assert.throws(() => resolveAgent({ env: { PATH: '/nonexistent' }, cwd: '/' }), /"claude" .* is not installed/);
    const fallback = resolveAgent({ env: { PATH: '/nonexistent' }, cwd: '/', simIfMissing: true });
    assert.equal(fallback.choice.preset, 'sim');
    assert.match(fallback.notice ?? '', /claude is not installed/);
  });

  it("honours a task's metadata.agent preset, except in a simulated run", () => {
    const run = { command: ['claude'], preset: 'claude' as const, source: 'default' as const };
    assert.deepEqual(agentForTask(run, 'codex'), { command: ['codex'], preset: 'codex', source: 'task' });
    assert.equal(agentForTask(run, undefined), run);
    assert.equal(agentForTask(run, 'reviewer'), undefined);
    const sim = { command: ['node', 'sim.js'], preset: 'sim' as const, source: 'preset' as const };
    assert.equal(agentForTask(sim, 'codex'), sim);
  });

  it("reads Claude Code's and Gemini's JSON output", () => {
    assert.deepEqual(
      parseClaudeOutput(
        'warming up\n{"type":"result","subtype":"success","is_error":false,"result":"Done.","total_cost_usd":0.25,"usage":{"input_tokens":100,"cache_read_input_tokens":40,"output_tokens":7},"session_id":"s1"}\n',
      ),
      { result: 'Done.', costUsd: 0.25, sessionId: 's1', inputTokens: 100, outputTokens: 7, cacheTokens: 40 },
    );
    assert.equal(parseClaudeOutput('{"type":"result","subtype":"error_max_turns","is_error":true}').isError, true);
    assert.deepEqual(parseClaudeOutput('not json at all'), { result: 'not json at all' });
    assert.deepEqual(
      parseGeminiOutput('{"response":"Hi","stats":{"models":{"m":{"tokens":{"prompt":3,"candidates":4}}}}}'),
      { result: 'Hi', inputTokens: 3, outputTokens: 4 },
    );
  });
});

describe('prompt', () => {
  it('fills the placeholders in one pass, so text in a task is never expanded', () => {
    const out = renderPrompt('{{subject}}: {{description}} ({{ id }})', {
      id: '7',
      subject: 'S',
      description: 'see {{blockers}}',
      check: '',
      blockers: 'X',
      list: 'l',
      resultFile: 'r',
      listTools: 't',
    });
    assert.equal(out, 'S: see {{blockers}} (7)');
  });

  it('lists each blocker with its result, and says so when there is none', () => {
    assert.equal(
      formatBlockers([
        { id: '1', subject: 'Write', result: 'the draft' },
        { id: '2', subject: 'Check' },
      ]),
      '### #1 Write\n\nthe draft\n\n### #2 Check\n\n(no result recorded)',
    );
    assert.doesNotThrow(() => checkTemplate(DEFAULT_TEMPLATE));
    assert.throws(() => checkTemplate('{{nope}}', 'x.txt'), /x\.txt: unknown placeholder \{\{nope\}\}/);
  });
});

describe('backoff', () => {
  it('doubles from the base, is capped, and keeps at least half of each step', () => {
    const opts = (r: number) => ({ baseMs: 100, capMs: 1000, random: () => r });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, opts(0))),
      [50, 100, 200, 400, 500, 500],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, opts(1))),
      [100, 200, 400, 800, 1000, 1000],
    );
  });
});

describe('scheduling order', () => {
  it('orders ready tasks by priority, then the longest remaining critical path, then id', () => {
    const byId = graph([
      task('1', { estimate: 1 }),
      task('2', { estimate: 1 }),
      task('3', { estimate: 10, blockedBy: ['2'] }),
      task('4', { priority: 1 }),
      task('5', { blockedBy: ['1'] }),
    ]);
    assert.deepEqual(
      nextTasks(byId, new Set(), Date.now()).map((t) => t.id),
      ['4', '2', '1'],
    );
    assert.deepEqual(
      nextTasks(byId, new Set(['4']), Date.now()).map((t) => t.id),
      ['2', '1'],
    );
  });

  it('knows which tasks wait on a failure, however far up', () => {
    const failed = withTasklaneFields(task('1'), { failure: { reason: 'x', at: '', attempt: 1 } });
    const byId = graph([
      { ...failed, status: 'in_progress' },
      task('2', { blockedBy: ['1'] }),
      task('3', { blockedBy: ['2'] }),
      task('4'),
    ]);
    assert.deepEqual(
      ['2', '3', '4'].map((id) => blockedByFailure(byId.get(id) as Task, byId)),
      [true, true, false],
    );
  });
});

describe('runner', () => {
  const node = process.execPath;

  it('logs the output, hands stdout back and reports the exit status as a value', async () => {
    const dir = tempDir('tasklane-runner-');
    const log = join(dir, 'logs', 'a.log');
    const r = await runAgent({
      argv: [node, '-e', 'process.stdin.pipe(process.stdout); process.stderr.write("warn\\n"); process.exitCode = 3'],
      cwd: dir,
      env: process.env,
      stdin: 'hello',
      logPath: log,
      logHeader: '--- header\n',
      graceMs: 500,
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.reason, 'exit');
    if (r.error.reason !== 'exit') return;
    assert.equal(r.error.exitCode, 3);
    assert.equal(r.error.stdout, 'hello');
    assert.equal(r.error.stderrTail, 'warn\n');
    const text = readFileSync(log, 'utf8');
    assert.ok(text.startsWith('--- header\n'));
    assert.match(text, /hello/);
    assert.match(text, /warn/);
  });

  it('reports a program that cannot start as reason spawn', async () => {
    const dir = tempDir('tasklane-runner-');
    const r = await runAgent({
      argv: ['/no/such/agent'],
      cwd: dir,
      env: process.env,
      stdin: '',
      logPath: join(dir, 'x.log'),
      graceMs: 100,
    });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.reason, 'spawn');
      if (r.error.reason === 'spawn') assert.match(r.error.message, /ENOENT/);
    }
  });

  it('on timeout kills the whole process group, SIGKILLing what ignores SIGTERM', async () => {
    const dir = tempDir('tasklane-runner-');
    const script = `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['-e', 'process.on("SIGTERM",()=>{}); setInterval(()=>{},1e6)'], { stdio: 'ignore' });
      console.log(c.pid);
      process.on('SIGTERM', () => {});
      setInterval(() => {}, 1e6);`;
    let pid = 0;
    const r = await runAgent({
      argv: [node, '-e', script],
      cwd: dir,
      env: process.env,
      stdin: '',
      logPath: join(dir, 'x.log'),
      // Long enough for node to start and print under load (300 ms failed on a busy machine).
      timeoutMs: 2000,
      graceMs: 200,
      onSpawn: (p) => {
        pid = p;
      },
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.reason, 'timeout');
    if (r.error.reason !== 'timeout') return;
    const grandchild = Number(r.error.stdout.trim());
    assert.ok(grandchild > 0);
    assert.equal(alive(pid), false, 'the agent is gone');
    assert.equal(alive(grandchild), false, 'its child is gone');
  });

  it('cancels on abort', async () => {
    const dir = tempDir('tasklane-runner-');
    const ac = new AbortController();
    const pending = runAgent({
      argv: [node, '-e', 'setInterval(()=>{},1e6)'],
      cwd: dir,
      env: process.env,
      stdin: '',
      logPath: join(dir, 'x.log'),
      graceMs: 200,
      signal: ac.signal,
      onSpawn: () => ac.abort(),
    });
    const r = await pending;
    assert.equal(!r.ok && r.error.reason, 'cancelled');
  });
});

describe('retryWhileIo (recording an outcome while the store is out of reach)', () => {
  const io = () => new TasklaneError('IO', 'out of reach', { transient: true });
  const fast = { firstDelayMs: 1, maxDelayMs: 4 };

  it('tries an IO failure again until the write is made, telling of each retry', async () => {
    let calls = 0;
    const told: number[] = [];
    const value = await retryWhileIo(
      async () => {
        if (++calls < 4) throw io();
        return 'made';
      },
      { ...fast, deadline: Date.now() + 60_000, onRetry: (_e, n) => told.push(n) },
    );
    assert.equal(value, 'made');
    assert.equal(calls, 4);
    assert.deepEqual(told, [1, 2, 3]);
  });

  it('tries a full disk again (ENOSPC, raw or as the cause), never a permanent IO failure', async () => {
    for (const failure of [
      Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }),
      new TasklaneError('IO', 'cannot write', { cause: Object.assign(new Error('quota'), { code: 'EDQUOT' }) }),
    ]) {
      let calls = 0;
      const value = await retryWhileIo(
        async () => {
          if (++calls < 3) throw failure;
          return 'made';
        },
        { ...fast, deadline: Date.now() + 60_000 },
      );
      assert.equal(value, 'made');
      assert.equal(calls, 3);
    }
    let calls = 0;
    await assert.rejects(
      retryWhileIo(
        async () => {
          calls++;
          throw new TasklaneError('IO', 'invalid input syntax for type json (SQLSTATE 22P02)');
        },
        { ...fast, deadline: Date.now() + 60_000 },
      ),
      /22P02/,
    );
    assert.equal(calls, 1, 'a permanent failure is an answer');
  });

  it('never retries a refusal: it is an answer', async () => {
    let calls = 0;
    await assert.rejects(
      retryWhileIo(
        async () => {
          calls++;
          throw new TasklaneError('NOT_OWNER', 'taken over');
        },
        { ...fast, deadline: Date.now() + 60_000 },
      ),
      /taken over/,
    );
    assert.equal(calls, 1);
  });

  it('gives up with the last error at the deadline, and at once when stopped', async () => {
    let calls = 0;
    await assert.rejects(
      retryWhileIo(
        async () => {
          calls++;
          throw io();
        },
        { firstDelayMs: 20, maxDelayMs: 20, deadline: Date.now() + 100 },
      ),
      /out of reach/,
    );
    assert.ok(calls >= 1 && calls <= 6, `${calls} calls within the deadline`);
    const stop = new AbortController();
    let stopped = 0;
    const pending = retryWhileIo(
      async () => {
        stopped++;
        if (stopped === 2) stop.abort();
        throw io();
      },
      { firstDelayMs: 1, maxDelayMs: 1, deadline: Date.now() + 60_000, stop: stop.signal },
    );
    await assert.rejects(pending, /out of reach/);
    assert.equal(stopped, 2, 'no attempt after the stop');
  });
});
