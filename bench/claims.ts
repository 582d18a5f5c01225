import { spawn } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listDirName } from '../src/model/index.js';
import { scanList } from '../src/store/file/task-files.js';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { CA_VAR, freshDir, median, NODE, printMachine, REPO, saveResults } from './lib/measure.js';

// Issue 2: 8 processes claiming at once sustain at least 500 claims per second in total.
// Each run copies a fresh list of independent (all ready) tasks, starts the processes together,
// and each claims the best ready task until none is left. Claims per second = tasks / wall time
// from the first spawn to the last exit (Node start-up included). Also shown: the claim window
// (first claim started to last claim ended). Every run checks that no task was claimed twice and
// that the files say the same. One single-process run per environment is the baseline.
//
//   npx tsc -p . && node dist/bench/claims.js [procs] [tasks] [runs]

const procs = Number(process.argv[2] ?? 8);
const taskCount = Number(process.argv[3] ?? 4000);
const runs = Number(process.argv[4] ?? 3);
const LIST = 'bench';
const worker = join(REPO, 'dist', 'bench', 'lib', 'claim-worker.js');
const now = () => performance.timeOrigin + performance.now();

interface Report {
  owner: string;
  ids: string[];
  firstStart: number;
  lastEnd: number;
  loaded: number;
}

interface RunResult {
  procs: number;
  claims: number;
  wallMs: number;
  perSecond: number;
  windowMs: number;
  perSecondInWindow: number;
  perProcess: number[];
  startupMs: number[];
}

const machineInfo = printMachine();
const base = freshDir(`claims-${taskCount}`);
const template = join(base, 'template');
writeTasklaneList(template, LIST, generateTasks(taskCount, 7, 0));

/** Runs `n` claimers on a fresh copy of the list and checks the outcome. */
async function run(n: number, env: NodeJS.ProcessEnv, tag: string): Promise<RunResult> {
  const root = join(base, `run-${tag}`);
  rmSync(root, { recursive: true, force: true });
  cpSync(template, root, { recursive: true });
  const t0 = now();
  const children = Array.from({ length: n }, (_, i) =>
    spawn(NODE, [worker, root, LIST, `w${i}`], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const reports = await Promise.all(
    children.map(
      (child) =>
        new Promise<Report & { exitedAt: number }>((resolve, reject) => {
          let out = '';
          let err = '';
          child.stdout.on('data', (c: Buffer) => (out += c));
          child.stderr.on('data', (c: Buffer) => (err += c));
          child.on('close', (code) => {
            const exitedAt = now();
            if (code !== 0) reject(new Error(`claimer exited ${code}: ${err}`));
            else resolve({ ...(JSON.parse(out) as Report), exitedAt });
          });
        }),
    ),
  );
  const wallMs = Math.max(...reports.map((r) => r.exitedAt)) - t0;

  const owners = new Map<string, string>();
  for (const r of reports) {
    for (const id of r.ids) {
      if (owners.has(id)) throw new Error(`task ${id} claimed twice: ${owners.get(id)} and ${r.owner}`);
      owners.set(id, r.owner);
    }
  }
  if (owners.size !== taskCount) throw new Error(`${owners.size} claims for ${taskCount} ready tasks`);
  const { tasks } = scanList(join(root, listDirName(LIST)));
  for (const [id, owner] of owners) {
    const t = tasks.get(id);
    if (t?.status !== 'in_progress' || t.owner !== owner) throw new Error(`task ${id} on disk is not held by ${owner}`);
  }
  rmSync(root, { recursive: true, force: true });

  const windowMs = Math.max(...reports.map((r) => r.lastEnd)) - Math.min(...reports.map((r) => r.firstStart));
  return {
    procs: n,
    claims: owners.size,
    wallMs,
    perSecond: (owners.size / wallMs) * 1000,
    windowMs,
    perSecondInWindow: (owners.size / windowMs) * 1000,
    perProcess: reports.map((r) => r.ids.length),
    startupMs: reports.map((r) => Math.round(r.loaded)),
  };
}

const show = (r: RunResult): string =>
  `${r.procs} proc: ${r.claims} claims in ${(r.wallMs / 1000).toFixed(2)} s = ${r.perSecond.toFixed(0)} claims/s ` +
  `(claim window ${(r.windowMs / 1000).toFixed(2)} s = ${r.perSecondInWindow.toFixed(0)}/s; ` +
  `per process ${r.perProcess.join(',')}; start-up ms ${r.startupMs.join(',')})`;

const all: Record<string, { runs: RunResult[]; medianPerSecond: number; single: RunResult }> = {};
console.log(`\n${taskCount} ready tasks, ${procs} processes, ${runs} runs per environment`);
for (const [label, env] of [
  ['environment as is', process.env],
  [`without ${CA_VAR}`, { ...process.env, [CA_VAR]: undefined }],
] as const) {
  console.log(`\n[${label}]`);
  const results: RunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await run(procs, env, `${i}`);
    results.push(r);
    console.log(`run ${i + 1}: ${show(r)}`);
  }
  const med = median(results.map((r) => r.perSecond));
  console.log(`median: ${med.toFixed(0)} claims/s (>= 500: ${med >= 500 ? 'MET' : 'NOT MET'})`);
  const single = await run(1, env, 'single');
  console.log(`baseline, one process: ${show(single)}`);
  all[label] = { runs: results, medianPerSecond: med, single };
}
console.log(`results: ${saveResults(`claims-${procs}x${taskCount}`, { machine: machineInfo, taskCount, procs, all })}`);
