import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  BACKLOG_BIN,
  CA_VAR,
  CLI,
  ensureBacklog,
  freshDir,
  initBacklogRepo,
  median,
  NODE,
  printMachine,
  saveResults,
} from './lib/measure.js';

// Issue 3: `tasklane mcp` start to the initialize answer under 0.3 s, beside Backlog.md's MCP
// server (`backlog mcp start`) in the same run; and the size of the `tools/list` answer.
// Each run spawns the server cold, writes the initialize request at once, and stops the clock
// when the first byte of the answer arrives on stdout. Runs alternate between the servers so a
// change in machine load falls on both. Tasklane runs with NODE_EXTRA_CA_CERTS as set here and
// without it (it costs every Node start ~50 ms on this machine).
//
//   npm run build && node dist/bench/mcp-startup.js [runs]

const runs = Number(process.argv[2] ?? 20);
const now = () => performance.now();

const initialize = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
})}\n`;
const initialized = `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`;
const toolsList = `${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} })}\n`;

interface Server {
  name: string;
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Milliseconds from spawn to the first byte of the initialize answer; and, if asked, the tools/list answer's bytes. */
function once(server: Server, wantTools: boolean): Promise<{ ms: number; toolsBytes?: number; toolCount?: number }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(server.argv[0] as string, server.argv.slice(1), {
      cwd: server.cwd,
      env: server.env,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let ms: number | undefined;
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${server.name}: no answer in 20 s`));
    }, 20_000);
    const finish = (extra: { toolsBytes?: number; toolCount?: number } = {}) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ ms: ms as number, ...extra });
    };
    child.on('error', reject);
    child.stdout.on('data', (chunk: Buffer) => {
      if (ms === undefined) ms = now() - t0;
      buf += chunk.toString('utf8');
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        const msg = JSON.parse(line) as { id?: number; result?: { tools?: unknown[] } };
        if (msg.id === 1) {
          if (!wantTools) return finish();
          child.stdin.write(initialized + toolsList);
        } else if (msg.id === 2) {
          return finish({ toolsBytes: Buffer.byteLength(line, 'utf8'), toolCount: msg.result?.tools?.length ?? 0 });
        }
      }
    });
    child.stdin.write(initialize);
  });
}

const machineInfo = printMachine();
const base = freshDir('mcp-startup');
const tasklaneDir = join(base, 'tasklane');
mkdirSync(tasklaneDir, { recursive: true });
ensureBacklog();
const backlogProject = join(base, 'backlog');
mkdirSync(backlogProject, { recursive: true });
initBacklogRepo(backlogProject);

const withCa = { ...process.env };
const withoutCa = { ...process.env };
delete withoutCa[CA_VAR];
const servers: Server[] = [
  { name: 'tasklane mcp', argv: [NODE, CLI, 'mcp', '--dir', tasklaneDir], cwd: base, env: withCa },
  { name: `tasklane mcp (no ${CA_VAR})`, argv: [NODE, CLI, 'mcp', '--dir', tasklaneDir], cwd: base, env: withoutCa },
  {
    name: 'backlog mcp start (Backlog.md 1.52.0)',
    argv: [BACKLOG_BIN, 'mcp', 'start'],
    cwd: backlogProject,
    env: withCa,
  },
];

// Warm the file cache, then measure, alternating servers.
for (const s of servers) await once(s, false);
const times = new Map<string, number[]>(servers.map((s) => [s.name, []]));
for (let i = 0; i < runs; i++) {
  for (const s of servers) times.get(s.name)?.push((await once(s, false)).ms);
}
const tools = new Map<string, { toolsBytes?: number; toolCount?: number }>();
for (const s of servers) tools.set(s.name, await once(s, true));

const rows = servers.map((s) => {
  const xs = (times.get(s.name) ?? []).slice().sort((a, b) => a - b);
  const t = tools.get(s.name) ?? {};
  return {
    server: s.name,
    medianMs: Math.round(median(xs)),
    minMs: Math.round(xs[0] ?? 0),
    maxMs: Math.round(xs[xs.length - 1] ?? 0),
    toolsListBytes: t.toolsBytes,
    tools: t.toolCount,
  };
});
console.log(`\nstart to initialize answer, ${runs} cold runs each (median, min-max); tools/list answer size`);
for (const r of rows) {
  console.log(
    `  ${r.server.padEnd(42)} ${`${r.medianMs} ms`.padStart(7)}  (${r.minMs}-${r.maxMs} ms)   tools/list ${r.toolsListBytes} B, ${r.tools} tools`,
  );
}
const ours = rows[0];
if (ours !== undefined)
  console.log(`target: under 300 ms -> ${ours.medianMs < 300 ? 'met' : 'NOT met'} (${ours.medianMs} ms)`);
console.log(`results: ${saveResults('mcp-startup', { machine: machineInfo, runs, rows })}`);
