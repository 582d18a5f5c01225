import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import { CLAUDE_STANDIN, cli, makeList, readRecords, runArgs } from './engine-helpers.js';
import { type ClaudeCode, claudeCode } from './fixtures/claude-code/install.js';
import {
  type Answer,
  callInTurn,
  type FakeMessagesApi,
  type MessagesRequest,
  promptOf,
  startMessagesApi,
  toolResults,
} from './fixtures/claude-code/messages-api.js';
import { cliPath, tempDir } from './helpers.js';

// Issue 8, observation 5 and Build 4: agents of `tasklane run` with the Claude Code preset work
// on the run's list whatever the store. They get Tasklane's own MCP server for the run's store
// and list (--mcp-config, its tools allowed), and CLAUDE_CODE_TASK_LIST_ID only when the list
// lives in Claude Code's own root, where its built-in task tools can reach it.
// The first tests drive the REAL Claude Code (installed from npm when missing) against a fake
// Messages API on 127.0.0.1 whose scripted model calls the tools.

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI with only the environment given: no key, token or setting of this machine's own reaches Claude Code. */
function tasklane(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Exit> {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const safety = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(safety);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A home of its own for Claude Code: its config dir, the fake API, the task tools on. */
function claudeEnv(home: string, api: FakeMessagesApi): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    NO_COLOR: '1',
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    ANTHROPIC_BASE_URL: api.url,
    ANTHROPIC_API_KEY: 'x',
    CLAUDE_CODE_ENABLE_TASKS: '1',
    CLAUDE_CODE_ENABLE_TODO_TOOLS: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
}

/**
 * The user's own MCP servers in Claude Code's user config: one also named "tasklane", serving a
 * decoy list elsewhere (it must not get the agent's calls), and one named "decoy-probe" to show
 * from the agent's init event that this config was read at all.
 */
function userServers(home: string, decoyStore: string): void {
  const server = {
    type: 'stdio',
    command: process.execPath,
    args: [cliPath, 'mcp', '--store', decoyStore, '--list', 'decoy'],
  };
  mkdirSync(join(home, '.claude'), { recursive: true });
  writeFileSync(
    join(home, '.claude', '.claude.json'),
    JSON.stringify({ mcpServers: { tasklane: server, 'decoy-probe': server } }),
  );
}

const mcpCreate = (subject: string): Answer => ({
  type: 'tool_use',
  name: 'mcp__tasklane__TaskCreate',
  input: { subject, description: 'Split off by the agent of #1 through the tasklane MCP server.' },
});
const builtinCreate = (subject: string): Answer => ({
  type: 'tool_use',
  name: 'TaskCreate',
  input: { subject, description: "Made with Claude Code's own task tool." },
});

/**
 * The model: the first task's agent (#1, or `first.id` once known: a project list's ids are
 * random) makes the calls given, one a turn; every other agent just answers.
 */
function model(calls: Answer[], first: { id: string }): (request: MessagesRequest) => Answer[] {
  return (request) =>
    promptOf(request).includes(`Your task is #${first.id}.`)
      ? callInTurn(request, calls, 'Split the work into subtasks.')
      : [{ type: 'text', text: 'Done.' }];
}

function taskFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

describe('the real Claude Code, run by tasklane run, on the run’s list', () => {
  let claude: ClaudeCode;
  before(() => {
    claude = claudeCode();
    if (!claude.ok) process.stdout.write(`# skipping the real Claude Code tests: ${claude.skip}\n`);
    else process.stdout.write(`# Claude Code ${claude.version} (${claude.path})\n`);
  });
  const apis: FakeMessagesApi[] = [];
  after(() => Promise.all(apis.map((a) => a.close())));
  const fakeApi = async (calls: Answer[], first = { id: '1' }): Promise<FakeMessagesApi> => {
    const api = await startMessagesApi(model(calls, first));
    apis.push(api);
    return api;
  };

  it('creates its subtask in a `tasklane init` project list through the MCP tools, not in ~/.claude/tasks', async (t) => {
    if (!claude.ok) return t.skip(claude.skip);
    const home = tempDir('tasklane-cc-home-');
    const project = tempDir('tasklane-cc-project-');
    const decoy = tempDir('tasklane-cc-decoy-');
    userServers(home, decoy);
    const first = { id: '' };
    const api = await fakeApi([mcpCreate('Subtask through MCP'), builtinCreate('Private note')], first);
    const env = claudeEnv(home, api);
    assert.equal((await tasklane(['init', '--list', 'proj'], project, env)).code, 0);
    const made = await tasklane(['create', 'Plan the work', '--list', 'proj', '--json'], project, env);
    assert.equal(made.code, 0);
    // A project list's ids are random (docs/git.md).
    first.id = JSON.parse(made.stdout).task.id;

    const run = await tasklane(
      ['run', '--list', 'proj', '--agent', claude.path, '--preset', 'claude', '-j', '1', '--timeout', '120', '--json'],
      project,
      env,
    );
    assert.equal(run.code, 0, run.stderr);

    const listDir = join(project, '.tasklane', 'tasks', 'proj');
    const store = openStore({ dir: join(project, '.tasklane', 'tasks'), list: 'proj' });
    const tasks = await store.list();
    assert.deepEqual(
      tasks.map((x) => [x.subject, x.status]),
      [
        ['Plan the work', 'completed'],
        ['Subtask through MCP', 'completed'], // made by the agent, then run by the same run
      ],
    );
    assert.equal(tasks[0]?.id, first.id);
    const second = tasks[1]?.id as string;
    assert.match(second, /^[a-z][0-9a-z]{7}$/, 'the MCP server gave the subtask a project id');
    // The MCP call went to the run's list and said so to the model.
    const results = api.requests.flatMap(toolResults);
    assert.ok(
      results.some(
        (r) => r.name === 'mcp__tasklane__TaskCreate' && r.text.includes(`Task #${second} created successfully`),
      ),
      JSON.stringify(results),
    );
    // The prompt named the tools; the user's own "tasklane" server got nothing, though it was loaded.
    const prompt = api.requests.find((r) => promptOf(r).includes(`Your task is #${first.id}.`)) as MessagesRequest;
    assert.match(promptOf(prompt), /mcp__tasklane__TaskCreate/);
    assert.match(promptOf(prompt), /built-in task tools \(TaskCreate, TaskUpdate\) do not reach this list/);
    const log = readFileSync(
      join(project, '.tasklane', 'tasks', '.tasklane', 'proj', 'logs', `${first.id}.log`),
      'utf8',
    );
    assert.match(log, /"name":"decoy-probe","status":"connected"/);
    assert.deepEqual(taskFiles(join(decoy, 'decoy')), []);
    // Claude Code's built-in TaskCreate no longer writes a list of the run's name in its own root.
    assert.ok(
      results.some((r) => r.name === 'TaskCreate' && !r.isError),
      `the built-in TaskCreate was called: ${JSON.stringify(results)}`,
    );
    assert.equal(existsSync(join(home, '.claude', 'tasks', 'proj')), false);
    assert.deepEqual(taskFiles(listDir).sort(), [`${first.id}.json`, `${second}.json`].sort());
  });

  it('keeps CLAUDE_CODE_TASK_LIST_ID for a list in Claude Code’s own root: built-in and MCP tools both reach it', async (t) => {
    if (!claude.ok) return t.skip(claude.skip);
    const home = tempDir('tasklane-cc-home-');
    const work = tempDir('tasklane-cc-work-');
    const api = await fakeApi([builtinCreate('Subtask by the built-in tool'), mcpCreate('Subtask through MCP')]);
    const env = claudeEnv(home, api);
    const root = join(home, '.claude', 'tasks');
    assert.equal((await tasklane(['create', 'Plan the work', '--store', root, '--list', 'shared'], work, env)).code, 0);

    const run = await tasklane(
      ['run', '--store', root, '--list', 'shared', '--agent', claude.path, '-j', '1', '--timeout', '120', '--json'],
      work,
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    const store = openStore({ dir: root, list: 'shared' });
    assert.deepEqual(
      (await store.list()).map((x) => [x.id, x.subject, x.status]),
      [
        ['1', 'Plan the work', 'completed'],
        ['2', 'Subtask by the built-in tool', 'completed'],
        ['3', 'Subtask through MCP', 'completed'],
      ],
    );
    const first = api.requests.find((r) => promptOf(r).includes('Your task is #1.')) as MessagesRequest;
    assert.match(promptOf(first), /built-in task tools \(TaskCreate, TaskUpdate\) work on this list too/);
  });
});

describe('the Claude Code preset and the run’s list (stand-in)', () => {
  it('passes --mcp-config for the run’s store and list and allows only the list tools, with no CLAUDE_CODE_TASK_LIST_ID outside Claude Code’s root', async () => {
    const f = await makeList([{ subject: 'Ask Claude' }]);
    const agent = `"${process.execPath}" "${CLAUDE_STANDIN}"`;
    const r = await cli(['run', '--dir', f.dir, '--list', f.list, '--agent', agent, '--preset', 'claude'], {
      ...f.env,
      CLAUDE_CODE_TASK_LIST_ID: 'inherited', // the caller's own: it must not reach the agent
      EXPECT_MCP: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    const call = JSON.parse(readFileSync(join(f.records, 'claude.1.json'), 'utf8'));
    assert.deepEqual(call.problems, []);
    const config = join(f.dir, '.tasklane', f.list, 'claude-mcp.json');
    assert.deepEqual(call.argv.slice(-2), [
      `--mcp-config=${config}`,
      '--allowedTools=mcp__tasklane__TaskCreate,mcp__tasklane__TaskGet,mcp__tasklane__TaskUpdate,mcp__tasklane__TaskList,mcp__tasklane__TaskReady,mcp__tasklane__TaskWait',
    ]);
    assert.deepEqual(call.mcpConfig, {
      mcpServers: {
        tasklane: {
          type: 'stdio',
          command: process.execPath,
          args: [cliPath, 'mcp', '--store', f.dir, '--list', f.list],
        },
      },
    });
    assert.equal(call.claudeList, null);
  });

  it('gives CLAUDE_CODE_TASK_LIST_ID when the store is Claude Code’s own root, however the path is spelt', async () => {
    const f = await makeList([]);
    const config = join(f.dir, 'claude-config');
    const root = join(config, 'tasks');
    await openStore({ dir: root, list: f.list }).create({ subject: 'Ask Claude' });
    symlinkSync(config, join(f.dir, 'config-link'));
    const agent = `"${process.execPath}" "${CLAUDE_STANDIN}"`;
    const r = await cli(['run', '--dir', root, '--list', f.list, '--agent', agent, '--preset', 'claude'], {
      ...f.env,
      CLAUDE_CONFIG_DIR: join(f.dir, 'config-link'),
      EXPECT_MCP: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    const call = JSON.parse(readFileSync(join(f.records, 'claude.1.json'), 'utf8'));
    assert.deepEqual(call.problems, []);
    assert.equal(call.claudeList, f.list);
    assert.match(call.prompt, /built-in task tools \(TaskCreate, TaskUpdate\) work on this list too/);
  });

  it('tells other agents to use the tasklane command, and gives them no MCP flags and no inherited CLAUDE_CODE_TASK_LIST_ID', async () => {
    const f = await makeList([{ subject: 'Ask another agent' }]);
    const r = await cli(runArgs(f), { ...f.env, CLAUDE_CODE_TASK_LIST_ID: 'inherited' });
    assert.equal(r.code, 0, r.stderr);
    const [record] = readRecords(f.records);
    assert.ok(record !== undefined);
    assert.equal(
      record.argv.some((a) => a.startsWith('--mcp-config')),
      false,
    );
    assert.match(record.prompt, /`tasklane create "SUBJECT" --description "\.\.\."` adds a task/);
    assert.doesNotMatch(record.prompt, /mcp__tasklane__/);
    assert.equal(record.env.CLAUDE_CODE_TASK_LIST_ID, undefined);
  });
});
