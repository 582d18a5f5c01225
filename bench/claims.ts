import { spawn } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listDirName } from '../src/model/index.js';
import { scanList } from '../src/store/file/task-files.js';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { freshDir, load, median, NODE, printMachine, REPO, saveResults } from './lib/measure.js';

// Claims per second with 1 and with N (default 8) claiming processes, for an old build and this
// one side by side. Each run copies a fresh list of independent (all ready) tasks, starts the
// processes together, and each claims the best ready task until none is left. Claims per second
// = tasks / wall time from the first spawn to the last exit (Node start-up included); also shown,
// the claim window (first claim started to last claim ended). Every run checks that no task was
// claimed twice and that the files say the same.
//
// These machines drift 2-3x between hours, so runs are interleaved: each round runs every
// (build, processes) pair once, in an order that rotates from round to round, and the ratios
// that matter (N processes over 1, new over old) are taken within a round and then medianed.
// Target (issue 7): N=8 processes claim at least 1.5x what one process claims.
//
//   npx tsc -p . && node dist/bench/claims.js [tasks] [rounds] [procs] [old-build-dist]
//   (defaults: 2000 tasks, 3 rounds, 8 processes, the old build from $BENCH_OLD_DIST; without one,
//   only this build is measured: build an older commit with `git worktree add /tmp/old COMMIT &&
//   (cd /tmp/old && npm ci && npm run build)` and pass /tmp/old/dist)

const taskCount = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const procs = Number(process.argv[4] ?? 8);
const oldDist = process.argv[5] ?? process.env.BENCH_OLD_DIST;
const LIST = 'bench';
const worker = join(REPO, 'dist', 'bench', 'lib', 'claim-worker.js');
const now = () => performance.timeOrigin + performance.now();

/** A build's store entry point: its store/open.js (what the claim worker always loaded), else its index. */
function storeModule(dist: string): string {
  const open = join(dist, 'src', 'store', 'open.js');
  return existsSync(open) ? open : join(dist, 'src', 'index.js');
}
type BuildName = 'old' | 'new';
const hasOld = oldDist !== undefined && existsSync(join(oldDist, 'src'));
if (!hasOld)
  console.log(`no old build${oldDist === undefined ? ' given' : ` at ${oldDist}`}: measuring this build only`);
const builds: { name: BuildName; module: string }[] = [
  ...(hasOld ? [{ name: 'old' as const, module: storeModule(oldDist as string) }] : []),
  { name: 'new', module: storeModule(join(REPO, 'dist')) },
];

interface Report {
  owner: string;
  ids: string[];
  firstStart: number;
  lastEnd: number;
  loaded: number;
}

interface RunResult {
  build: BuildName;
  procs: number;
  claims: number;
  wallMs: number;
  perSecond: number;
  windowMs: number;
  perSecondInWindow: number;
  perProcess: number[];
  startupMs: number[];
  load: string;
}

const machineInfo = printMachine();
const base = freshDir(`claims-${taskCount}`);
const template = join(base, 'template');
writeTasklaneList(template, LIST, generateTasks(taskCount, 7, 0));

/** Runs `n` claimers on a fresh copy of the list and checks the outcome. */
async function run(build: (typeof builds)[number], n: number, tag: string): Promise<RunResult> {
  const root = join(base, `run-${tag}`);
  rmSync(root, { recursive: true, force: true });
  cpSync(template, root, { recursive: true });
  const t0 = now();
  const children = Array.from({ length: n }, (_, i) =>
    spawn(NODE, [worker, root, LIST, `w${i}`, build.module], { stdio: ['ignore', 'pipe', 'pipe'] }),
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
    build: build.name,
    procs: n,
    claims: owners.size,
    wallMs,
    perSecond: (owners.size / wallMs) * 1000,
    windowMs,
    perSecondInWindow: (owners.size / windowMs) * 1000,
    perProcess: reports.map((r) => r.ids.length),
    startupMs: reports.map((r) => Math.round(r.loaded)),
    load: load(),
  };
}

const show = (r: RunResult): string =>
  `${r.build} ${r.procs} proc: ${r.claims} claims in ${(r.wallMs / 1000).toFixed(2)} s = ${r.perSecond.toFixed(0)} claims/s ` +
  `(claim window ${(r.windowMs / 1000).toFixed(2)} s = ${r.perSecondInWindow.toFixed(0)}/s; ` +
  `per process ${r.perProcess.join(',')}; start-up ms ${r.startupMs.join(',')}; load ${r.load})`;

console.log(
  `\n${taskCount} ready tasks; 1 and ${procs} processes; old build ${hasOld ? oldDist : '(none)'}; ${rounds} rounds`,
);
const pairs = builds.flatMap((build) => [1, procs].map((n) => ({ build, n })));
const results: RunResult[][] = [];
for (let round = 0; round < rounds; round++) {
  // Rotate the order so no pair always runs first (a cold cache) or last (a warmer, busier machine).
  const order = pairs.map((_, i) => pairs[(i + round) % pairs.length] as (typeof pairs)[number]);
  const got: RunResult[] = [];
  console.log(`\nround ${round + 1}`);
  for (const { build, n } of order) {
    const r = await run(build, n, `${round}-${build.name}-${n}`);
    got.push(r);
    console.log(`  ${show(r)}`);
  }
  results.push(got);
}

const pick = (rs: RunResult[], build: BuildName, n: number, key: 'perSecond' | 'perSecondInWindow'): number =>
  (rs.find((r) => r.build === build && r.procs === n) as RunResult)[key];
const summary: Record<string, number> = {};
for (const key of ['perSecond', 'perSecondInWindow'] as const) {
  const label = key === 'perSecond' ? 'wall (with start-up)' : 'claim window';
  console.log(`\nmedians over ${rounds} rounds, ${label}:`);
  for (const b of builds) {
    for (const n of [1, procs]) {
      const m = median(results.map((rs) => pick(rs, b.name, n, key)));
      summary[`${key}.${b.name}.${n}`] = m;
      console.log(`  ${b.name} ${n} proc: ${m.toFixed(0)} claims/s`);
    }
    const scale = median(results.map((rs) => pick(rs, b.name, procs, key) / pick(rs, b.name, 1, key)));
    summary[`${key}.${b.name}.scale`] = scale;
    console.log(`  ${b.name}: ${procs} proc / 1 proc = ${scale.toFixed(2)}x (median of per-round ratios)`);
  }
  for (const n of hasOld ? [1, procs] : []) {
    const ratio = median(results.map((rs) => pick(rs, 'new', n, key) / pick(rs, 'old', n, key)));
    summary[`${key}.newOverOld.${n}`] = ratio;
    console.log(`  new / old, ${n} proc: ${ratio.toFixed(2)}x`);
  }
}
const met = (summary['perSecond.new.scale'] as number) >= 1.5;
console.log(`\ntarget: ${procs} processes >= 1.5x one process (new build, wall): ${met ? 'MET' : 'NOT MET'}`);
console.log(
  `results: ${saveResults(`claims-${procs}x${taskCount}`, { machine: machineInfo, taskCount, procs, rounds, oldDist, summary, results })}`,
);
