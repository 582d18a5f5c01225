import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { claudeStreamReader, describeToolUse } from '../src/engine/agents.js';
import { Coordinator } from '../src/engine/coordinator.js';
import { EngineEvents } from '../src/engine/events.js';
import { tasklaneFields } from '../src/model/index.js';
import { CLAUDE_STANDIN, coordinatorOptions, makeList } from './engine-helpers.js';

// Claude Code's stream-json (issue 8, observations 6 and 7): what a running agent does shows as it
// happens, and its result, tokens, cost, session and own error come from its final event.

async function runClaudeStandin(extraEnv: NodeJS.ProcessEnv) {
  const f = await makeList([{ subject: 'Ask Claude' }]);
  const events = new EngineEvents();
  const activity: string[] = [];
  events.on((e) => {
    if (e.type === 'activity' && e.taskId === '1') activity.push(e.line);
  });
  const runDir = f.store.artifactsDir;
  const coordinator = new Coordinator(
    coordinatorOptions(f, {
      agent: { command: [process.execPath, CLAUDE_STANDIN], preset: 'claude', source: 'flag' },
      agentOptions: { dangerouslySkipPermissions: false, stream: true },
      env: { ...process.env, ...f.env, ...extraEnv },
      events,
      floorMs: 5000,
    }),
  );
  const report = await coordinator.run();
  return { f, report, activity, log: readFileSync(join(runDir, 'logs', '1.log'), 'utf8') };
}

describe('the Claude Code stream', () => {
  it('shows each action as it happens, and records the result, tokens, cost and session from the final event', async () => {
    const { f, report, activity, log } = await runClaudeStandin({ STANDIN_EVENT_MS: '20' });
    assert.equal(report.ok, true);
    assert.deepEqual(activity, ['started', 'Edit src/api.ts', 'Bash npm test', 'All tests pass.', 'finished']);
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
    assert.match(log, /"type":"system","subtype":"init"/, 'the log holds the stream');
    assert.match(log, /"type":"result"/);
  });

  it("fails with the agent's own error when it reports is_error on stdout with exit 1 and an empty stderr", async () => {
    const { f, report, activity } = await runClaudeStandin({ STANDIN_IS_ERROR: '1' });
    assert.equal(report.ok, false);
    assert.match(activity.at(-1) ?? '', /^error: API Error: 400 /);
    const task = await f.store.get('1');
    assert.match(tasklaneFields(task).failure?.reason ?? '', /^exit 1: API Error: 400 .*prompt is too long/);
    assert.equal(
      (task.metadata?.agentRun as { costUsd?: number } | undefined)?.costUsd,
      0.01,
      'a failed run still costs',
    );
  });

  it('names each tool by its target, on one inert line', () => {
    assert.equal(describeToolUse('Edit', { file_path: 'src/api.ts' }), 'Edit src/api.ts');
    assert.equal(describeToolUse('Bash', { command: 'npm test\nnpm run lint' }), 'Bash npm test');
    assert.equal(describeToolUse('TaskUpdate', { taskId: '3', status: 'completed' }), 'TaskUpdate #3');
    assert.equal(describeToolUse('Read', { file_path: 'a\x1b[2Jb' }), 'Read a [2Jb');
    const reader = claudeStreamReader();
    assert.equal(reader.line('plain text before the stream'), 'plain text before the stream');
    assert.equal(
      reader.line('{"type":"user","message":{"content":[{"type":"tool_result","is_error":true}]}}'),
      'a tool call failed',
    );
    assert.deepEqual(reader.output(), { result: '' }, 'no final event: no result text, not the raw stream');
  });
});
