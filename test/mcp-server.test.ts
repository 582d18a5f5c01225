import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { tasklaneFields } from '../src/model/task.js';
import { openStore } from '../src/store/open.js';
import { cliPath, tempDir } from './helpers.js';

// `tasklane mcp` as a real stdio subprocess, driven by the SDK's own Client.

const clients: Client[] = [];
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
});

async function connect(dir: string, list = 'm', env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cliPath, 'mcp', '--dir', dir, '--list', list],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'tasklane-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

interface Answer {
  text: string;
  isError: boolean;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Answer> {
  const r = (await client.callTool({ name, arguments: args })) as {
    content: { type: string; text: string }[];
    isError?: boolean;
  };
  return { text: r.content.map((c) => c.text).join('\n'), isError: r.isError === true };
}

/** Calls a tool that must succeed; fails the test with the tool's message if it did not. */
async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const r = await call(client, name, args);
  assert.equal(r.isError, false, `${name} ${JSON.stringify(args)} failed: ${r.text}`);
  return r.text;
}

test('tools/list: Claude Code four tools with their input schemas, the extras, all under 6 KB', async () => {
  const client = await connect(tempDir());
  const result = await client.listTools();
  const bytes = Buffer.byteLength(JSON.stringify(result));
  console.log(`tools/list answer: ${bytes} bytes, ${result.tools.length} tools`);
  assert.ok(bytes < 6 * 1024, `tools/list is ${bytes} bytes; the budget is 6144`);
  const byName = new Map(result.tools.map((t) => [t.name, t]));
  assert.deepEqual([...byName.keys()].sort(), [
    'TaskClaim',
    'TaskComplete',
    'TaskCreate',
    'TaskFail',
    'TaskGet',
    'TaskList',
    'TaskReady',
    'TaskUpdate',
    'TaskWait',
  ]);
  const props = (name: string) => Object.keys(byName.get(name)?.inputSchema.properties ?? {}).sort();
  const required = (name: string) => [...(byName.get(name)?.inputSchema.required ?? [])].sort();
  assert.deepEqual(props('TaskCreate'), ['activeForm', 'description', 'metadata', 'subject']);
  assert.deepEqual(required('TaskCreate'), ['description', 'subject']);
  assert.deepEqual(props('TaskGet'), ['taskId']);
  assert.deepEqual(required('TaskGet'), ['taskId']);
  assert.deepEqual(props('TaskList'), []);
  assert.deepEqual(props('TaskUpdate'), [
    'activeForm',
    'addBlockedBy',
    'addBlocks',
    'description',
    'metadata',
    'owner',
    'status',
    'subject',
    'taskId',
  ]);
  assert.deepEqual(required('TaskUpdate'), ['taskId']);
  const status = byName.get('TaskUpdate')?.inputSchema.properties?.status as { enum?: string[] };
  assert.deepEqual(status.enum, ['pending', 'in_progress', 'completed', 'deleted']);
  for (const tool of result.tools) assert.ok((tool.description ?? '').length > 20, `${tool.name} has a description`);
});

test('Claude Code tools: create with dependencies, list, get, update with metadata merge, delete', async () => {
  const dir = tempDir();
  const client = await connect(dir);
  assert.equal(await ok(client, 'TaskList'), 'No tasks found');
  assert.equal(
    await ok(client, 'TaskCreate', { subject: 'Design', description: 'the schema' }),
    'Task #1 created successfully: Design',
  );
  await ok(client, 'TaskCreate', {
    subject: 'Build',
    description: 'the API',
    activeForm: 'Building',
    metadata: { team: 'a' },
  });
  await ok(client, 'TaskCreate', { subject: 'Ship', description: 'it' });
  await ok(client, 'TaskUpdate', { taskId: '2', addBlockedBy: ['1'] });
  await ok(client, 'TaskUpdate', { taskId: '2', addBlocks: ['3'], owner: 'ann', metadata: { team: null, size: 'L' } });
  assert.equal(
    await ok(client, 'TaskList'),
    ['#1 [pending] Design', '#2 [pending] Build (ann) [blocked by #1]', '#3 [pending] Ship [blocked by #2]'].join('\n'),
  );
  const store = openStore({ dir, list: 'm' });
  const build = await store.get('2');
  assert.deepEqual(build.blockedBy, ['1']);
  assert.deepEqual(build.blocks, ['3']);
  assert.deepEqual((await store.get('1')).blocks, ['2'], 'dependencies are kept on both sides');
  assert.equal(build.metadata?.team, undefined, 'null deletes a metadata key');
  assert.equal(build.metadata?.size, 'L');
  assert.equal(build.activeForm, 'Building');
  assert.match(
    await ok(client, 'TaskGet', { taskId: '2' }),
    /^Task #2: Build\nStatus: pending \(blocked\)\nOwner: ann\n/,
  );
  await ok(client, 'TaskUpdate', { taskId: '1', status: 'completed' });
  assert.match(await ok(client, 'TaskList'), /#2 \[pending\] Build \(ann\)\n/, 'completed blockers are left out');
  assert.equal(await ok(client, 'TaskUpdate', { taskId: '3', status: 'deleted' }), 'Task #3 deleted');
  assert.deepEqual((await store.get('2')).blocks, [], 'a delete removes every reference to the task');
});

test('two clients claiming at once never get the same task, and never a blocked one', async () => {
  const dir = tempDir();
  const store = openStore({ dir, list: 'm' });
  const gate = await store.create({ subject: 'gate' });
  await store.claim({ owner: 'someone-else', taskId: gate.id });
  const ready: string[] = [];
  for (let i = 0; i < 12; i++) ready.push((await store.create({ subject: `ready ${i}` })).id);
  const blocked: string[] = [];
  for (let i = 0; i < 4; i++) blocked.push((await store.create({ subject: `blocked ${i}`, blockedBy: [gate.id] })).id);

  const [a, b] = await Promise.all([connect(dir), connect(dir)]);
  const claimAll = async (client: Client, owner: string): Promise<string[]> => {
    const mine: string[] = [];
    for (;;) {
      const text = await ok(client, 'TaskClaim', { owner });
      if (text.startsWith('Nothing to claim')) return mine;
      const id = /^Claimed task #(\S+):/.exec(text)?.[1];
      assert.ok(id !== undefined, `a claim names its task: ${text}`);
      mine.push(id);
    }
  };
  const [byA, byB] = await Promise.all([claimAll(a, 'agent-a'), claimAll(b, 'agent-b')]);
  const both = byA.filter((id) => byB.includes(id));
  assert.deepEqual(both, [], `no task claimed twice (a: ${byA}, b: ${byB})`);
  assert.deepEqual([...byA, ...byB].sort(), [...ready].sort(), 'every ready task claimed, and nothing else');
  for (const id of blocked) assert.equal((await store.get(id)).status, 'pending', `blocked task ${id} never claimed`);
  const named = await call(a, 'TaskClaim', { owner: 'agent-a', taskId: blocked[0] });
  assert.equal(named.isError, true);
  assert.match(named.text, /blocked by #1/);
});

test('complete records the result and passes it on; fail records the reason', async () => {
  const dir = tempDir();
  const client = await connect(dir, 'm', { TASKLANE_OWNER: 'bot' });
  await ok(client, 'TaskCreate', { subject: 'Research', description: 'find the bug' });
  await ok(client, 'TaskCreate', { subject: 'Fix', description: 'fix it' });
  await ok(client, 'TaskUpdate', { taskId: '2', addBlockedBy: ['1'] });
  assert.match(await ok(client, 'TaskReady'), /^#1 Research$/);
  assert.match(await ok(client, 'TaskClaim'), /^Claimed task #1: Research\nOwner: bot;/);
  const done = await ok(client, 'TaskComplete', { taskId: '1', result: 'off-by-one in parse()' });
  assert.equal(done, 'Completed task #1: Research\nNow ready: #2 Fix');
  const claimed = await ok(client, 'TaskClaim', { owner: 'bot' });
  assert.match(claimed, /Results of its blockers:\n#1 Research: off-by-one in parse\(\)/);
  assert.equal(
    await ok(client, 'TaskFail', { taskId: '2', reason: 'tests time out' }),
    'Task #2 marked failed: tests time out',
  );

  const store = openStore({ dir, list: 'm' });
  assert.equal(tasklaneFields(await store.get('1')).result, 'off-by-one in parse()');
  assert.equal(tasklaneFields(await store.get('2')).failure?.reason, 'tests time out');
  assert.match(await ok(client, 'TaskList'), /#2 \[in_progress\] Fix \(bot\) \[failed\]/);
});

test('TaskUpdate status completed on a failed task completes it as TaskComplete does: reopened, it is not failed', async () => {
  const dir = tempDir();
  const client = await connect(dir, 'm', { TASKLANE_OWNER: 'bot' });
  await ok(client, 'TaskCreate', { subject: 'Build', description: 'it' });
  await ok(client, 'TaskClaim');
  await ok(client, 'TaskFail', { taskId: '1', reason: 'flaky' });
  await ok(client, 'TaskUpdate', { taskId: '1', status: 'completed' });
  const store = openStore({ dir, list: 'm' });
  const completed = tasklaneFields(await store.get('1'));
  assert.equal(completed.failure, undefined);
  assert.deepEqual(
    completed.failures?.map((f) => f.reason),
    ['flaky'],
  );
  await ok(client, 'TaskUpdate', { taskId: '1', status: 'pending' });
  assert.equal(await ok(client, 'TaskList'), '#1 [pending] Build (bot)');
  assert.match(await ok(client, 'TaskClaim', { owner: 'bot' }), /^Claimed task #1: Build/);
});

test('bad arguments and refused operations come back as isError with a message; the server keeps serving', async () => {
  const dir = tempDir();
  const client = await connect(dir);
  await ok(client, 'TaskCreate', { subject: 'A', description: '' });
  await ok(client, 'TaskCreate', { subject: 'B', description: '' });
  await ok(client, 'TaskUpdate', { taskId: '2', addBlockedBy: ['1'] });
  await ok(client, 'TaskClaim', { owner: 'x', taskId: '1' });
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['TaskCreate', { subject: 'no description' }, /description/],
    ['TaskCreate', { subject: 7, description: 'd' }, /subject/],
    ['TaskCreate', { subject: '   ', description: 'd' }, /subject must be a non-empty string/],
    ['TaskGet', {}, /taskId/],
    ['TaskGet', { taskId: '99' }, /no task 99/],
    ['TaskUpdate', { taskId: '1', status: 'done' }, /status/],
    ['TaskUpdate', { taskId: '1', addBlockedBy: ['2'] }, /cycle/],
    ['TaskUpdate', { taskId: '1', metadata: { tasklane: {} } }, /reserved/],
    ['TaskComplete', { taskId: '1', owner: 'y' }, /held by "x", not "y"/],
    ['TaskClaim', { owner: 'y', taskId: '1' }, /held by "x"/],
    ['TaskFail', { taskId: '1', owner: 'x' }, /reason/],
    ['TaskWait', { taskIds: [] }, /taskIds/],
    ['TaskWait', { taskIds: ['42'] }, /no task 42/],
    ['NoSuchTool', {}, /NoSuchTool/],
  ];
  for (const [name, args, message] of cases) {
    const r = await call(client, name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} is an error result: ${r.text}`);
    assert.match(r.text, message, `${name} ${JSON.stringify(args)}`);
  }
  assert.match(await ok(client, 'TaskList'), /^#1 \[in_progress\] A \(x\)/, 'still serving, nothing changed');
});

test('TaskWait returns when another agent completes the task; the list resource notifies subscribers', async () => {
  const dir = tempDir();
  const [waiter, worker] = await Promise.all([connect(dir), connect(dir)]);
  await ok(worker, 'TaskCreate', { subject: 'Slow', description: '' });

  const uri = 'tasklane://list/m';
  const resources = await waiter.listResources();
  assert.deepEqual(
    resources.resources.map((r) => r.uri),
    [uri],
  );
  let notified = 0;
  let onNotify = (): void => {};
  waiter.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    if (n.params.uri === uri) notified++;
    onNotify();
  });
  await waiter.subscribeResource({ uri });

  const waiting = ok(waiter, 'TaskWait', { taskIds: ['1'], timeoutSeconds: 30 });
  await new Promise((r) => setTimeout(r, 300));
  await ok(worker, 'TaskClaim', { owner: 'w', taskId: '1' });
  await ok(worker, 'TaskComplete', { taskId: '1', owner: 'w', result: 'ok' });
  assert.equal(await waiting, 'Reached: completed.\n#1 [completed] Slow');

  if (notified === 0) await new Promise<void>((resolve) => (onNotify = resolve));
  assert.ok(notified > 0, 'a subscriber is told the list changed');
  const read = await waiter.readResource({ uri });
  const body = JSON.parse((read.contents[0] as { text: string }).text) as { tasks: { id: string; state: string }[] };
  assert.deepEqual(
    body.tasks.map((t) => `${t.id}:${t.state}`),
    ['1:completed'],
  );

  const timedOut = await ok(waiter, 'TaskWait', { taskIds: ['1'], until: 'ready', timeoutSeconds: 0.2 });
  assert.match(timedOut, /^Reached: ready/, 'a completed task counts as no longer blocked');
});

test('the server exits by itself when its client goes away (stdin closed)', async () => {
  const child = spawn(process.execPath, [cliPath, 'mcp', '--dir', tempDir(), '--list', 'm'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await new Promise((r) => child.stderr.once('data', r)); // it is serving
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  assert.equal(code, 0);
});

test('Claude Code tools refuse unknown keys with an isError result naming the key; nothing changes', async () => {
  const dir = tempDir();
  const client = await connect(dir);
  await ok(client, 'TaskCreate', { subject: 'A', description: '' });
  const cases: [string, Record<string, unknown>][] = [
    ['TaskCreate', { subject: 'B', description: '', blockedBy: ['1'] }],
    ['TaskGet', { taskId: '1', verbose: true }],
    ['TaskUpdate', { taskId: '1', subject: 'renamed', addBlockedby: ['2'] }],
    ['TaskList', { status: 'pending' }],
    ['TaskClaim', { owner: 'x', lease: 60 }],
  ];
  for (const [name, args] of cases) {
    const unknown = Object.keys(args).at(-1) as string;
    const r = await call(client, name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} is refused: ${r.text}`);
    assert.match(r.text, new RegExp(`Unrecognized key.*"${unknown}"`), `${name} names ${unknown}`);
  }
  assert.equal(await ok(client, 'TaskList'), '#1 [pending] A', 'nothing was created, renamed or claimed');
});

/** `tasklane mcp` driven line by line, to send what no well-behaved client would. */
function rawServer(dir: string): {
  send: (line: string | Buffer) => Promise<void>;
  answer: (id: number | null) => Promise<Record<string, unknown>>;
  exited: () => boolean;
  stop: () => void;
} {
  const child = spawn(process.execPath, [cliPath, 'mcp', '--dir', dir, '--list', 'm'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const answers: Record<string, unknown>[] = [];
  let buffered = '';
  let wake = (): void => {};
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const l of lines) if (l.trim() !== '') answers.push(JSON.parse(l));
    wake();
  });
  child.on('exit', () => wake());
  return {
    send: (line) =>
      new Promise((resolve, reject) =>
        child.stdin.write(typeof line === 'string' ? `${line}\n` : Buffer.concat([line, Buffer.from('\n')]), (e) =>
          e ? reject(e) : resolve(),
        ),
      ),
    answer: (id) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = answers.find((a) => a.id === id);
          if (found !== undefined) resolve(found);
          else if (exited) reject(new Error(`the server exited before answering ${id}`));
        };
        wake = check;
        check();
      }),
    exited: () => exited,
    stop: () => child.kill('SIGKILL'),
  };
}

const rpc = (id: number, method: string, params: Record<string, unknown>): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });

test('a request line over the limit, or not UTF-8, is answered with an error; the server keeps serving', async () => {
  const dir = tempDir();
  const s = rawServer(dir);
  try {
    await s.send(
      rpc(1, 'initialize', {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      }),
    );
    await s.answer(1);
    await s.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    // 20 MB, with the id last as the SDK's client writes it.
    const huge = `{"method":"tools/call","params":{"name":"TaskCreate","arguments":{"subject":"big","description":"${'x'.repeat(20 * 1024 * 1024)}"}},"jsonrpc":"2.0","id":2}`;
    await s.send(huge);
    const tooLong = (await s.answer(2)) as { error?: { code: number; message: string } };
    assert.equal(tooLong.error?.code, -32600);
    assert.match(tooLong.error?.message ?? '', /over the 8\.0 MiB limit/);
    // Bytes that are not UTF-8 inside the subject: refused, not stored as U+FFFD.
    const bad = Buffer.concat([
      Buffer.from(
        `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"TaskCreate","arguments":{"subject":"caf`,
      ),
      Buffer.from([0xe9]),
      Buffer.from(`","description":""}}}`),
    ]);
    await s.send(bad);
    const notUtf8 = (await s.answer(3)) as { error?: { code: number; message: string } };
    assert.equal(notUtf8.error?.code, -32700);
    assert.match(notUtf8.error?.message ?? '', /not valid UTF-8/);
    await s.send(rpc(4, 'tools/call', { name: 'TaskList', arguments: {} }));
    const list = (await s.answer(4)) as { result?: { content: { text: string }[] } };
    assert.equal(list.result?.content[0]?.text, 'No tasks found', 'still serving; nothing was created');
    assert.equal(s.exited(), false);
  } finally {
    s.stop();
  }
});
