import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { openStore } from '../src/store/open.js';
import { startPostgres } from '../test/pg-server.js';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { freshDir, median, NODE, printMachine, REPO, saveResults, WORK } from './lib/measure.js';
import { FLOOR_VARIANTS, type FloorVariant, loadFloor } from './lib/pg-claim-floor.js';

// Issue 10: claims per second with W (default 16) worker processes, each with its own connection,
// on the PostgreSQL store, beside the file store and pg-boss's `fetch` on the same database server,
// interleaved in one run. Each run loads N (default 5,000) ready tasks (jobs, for pg-boss), starts
// W workers, waits until every one has started Node, opened its store and made its first query,
// then says go: claims per second = N / (last claim's end - first claim's start). Every run checks
// that each task was claimed exactly once. Target: at least 2,000 claims/s with 16 workers.
//
// These machines drift 2-3x between hours, so each round runs every system once, in an order that
// rotates from round to round, and the ratios (PostgreSQL over file, PostgreSQL over pg-boss) are
// taken within a round and then medianed. pg-boss 10.4.2 (the newest for Node 20) is
// installed on demand into bench/.work/pgboss; BENCH_NO_PGBOSS=1 leaves it out.
//
// With an old build's dist folder as the fourth argument, its PostgreSQL store runs beside ours.
// Also beside it, unless BENCH_NO_FLOOR=1: the floor (lib/pg-claim-floor.ts), claims as bare SQL
// with no model and no store, in three variants, to show what PostgreSQL itself gives here.
//
//   npx tsc -p . && node dist/bench/pg-claims.js [tasks] [workers] [rounds] [old-build-dist]

const PGBOSS_VERSION = '10.4.2';
const taskCount = Number(process.argv[2] ?? 5000);
const workers = Number(process.argv[3] ?? 16);
const rounds = Number(process.argv[4] ?? 3);
const oldDist = process.argv[5];
const LIST = 'bench';
const workerScript = join(REPO, 'dist', 'bench', 'lib', 'claim-race-worker.js');

type FloorSystem = `sql floor, ${FloorVariant}`;
type System = 'file' | 'postgres' | 'postgres, old build' | 'pg-boss' | FloorSystem;
const floorVariant = (s: System): FloorVariant | undefined =>
  s.startsWith('sql floor, ') ? (s.slice('sql floor, '.length) as FloorVariant) : undefined;

function pgBossModule(): string | undefined {
  if (process.env.BENCH_NO_PGBOSS === '1') return undefined;
  const prefix = join(WORK, 'pgboss');
  const marker = join(prefix, 'node_modules', 'pg-boss', 'package.json');
  if (!existsSync(marker)) {
    console.log(`installing pg-boss@${PGBOSS_VERSION} into ${prefix} ...`);
    try {
      execFileSync('npm', ['install', '--prefix', prefix, `pg-boss@${PGBOSS_VERSION}`], { stdio: 'inherit' });
    } catch {
      console.log('pg-boss could not be installed: measuring Tasklane only');
      return undefined;
    }
  }
  return createRequire(join(prefix, 'package.json')).resolve('pg-boss');
}

const boss = pgBossModule();
const oldModule = oldDist === undefined ? undefined : pathToFileURL(join(oldDist, 'src', 'store', 'open.js')).href;
const systems: System[] = [
  'file',
  'postgres',
  ...(oldModule === undefined ? [] : (['postgres, old build'] as const)),
  ...(boss === undefined ? [] : (['pg-boss'] as const)),
  ...(process.env.BENCH_NO_FLOOR === '1' ? [] : FLOOR_VARIANTS.map((v): FloorSystem => `sql floor, ${v}`)),
];
const machineInfo = printMachine();
const pgServer = await startPostgres();

interface Report {
  owner: string;
  ids: string[];
  firstStart: number;
  lastEnd: number;
}
interface RunResult {
  system: System;
  round: number;
  claims: number;
  windowMs: number;
  perSecond: number;
}

/** Loads the tasks (or jobs) and returns the worker's target argument. */
async function prepare(system: System, round: number): Promise<string> {
  const tasks = generateTasks(taskCount, 42, 0);
  if (system === 'file') {
    const dir = freshDir(`pg-claims-file-${round}`);
    writeTasklaneList(dir, LIST, tasks);
    return dir;
  }
  const url = await pgServer.createDatabase(`claims_${system.replace(/[^a-z]/g, '')}_${round}`);
  if (floorVariant(system) !== undefined) {
    await loadFloor(
      url,
      tasks.map((t) => String(t.n)),
    );
    return url;
  }
  if (system !== 'pg-boss') {
    const dir = freshDir(`pg-claims-src-${round}`);
    writeTasklaneList(dir, LIST, tasks);
    const from = openStore(dir, LIST);
    const into = openStore(url, LIST);
    await into.importList(from.exportList());
    await Promise.all([from.close(), into.close()]);
    return url;
  }
  const { default: PgBoss } = (await import(pathToFileURL(boss as string).href)) as {
    default: new (
      o: object,
    ) => {
      start(): Promise<unknown>;
      createQueue(q: string): Promise<void>;
      insert(jobs: { name: string; data: object }[]): Promise<void>;
      stop(o: object): Promise<void>;
    };
  };
  const b = new PgBoss({ connectionString: url, supervise: false, schedule: false });
  await b.start();
  await b.createQueue(LIST);
  await b.createQueue(`${LIST}-warmup`);
  for (let i = 0; i < taskCount; i += 1000) {
    const jobs = [];
    for (let n = i + 1; n <= Math.min(taskCount, i + 1000); n++) jobs.push({ name: LIST, data: { n: String(n) } });
    await b.insert(jobs);
  }
  await b.stop({ graceful: false, wait: true });
  return url;
}

async function runOnce(system: System, round: number): Promise<RunResult> {
  const target = await prepare(system, round);
  const children: ChildProcess[] = [];
  const reports: Promise<Report>[] = [];
  const readies: Promise<void>[] = [];
  for (let w = 0; w < workers; w++) {
    const floor = floorVariant(system);
    const args =
      system === 'pg-boss'
        ? ['pgboss', target, LIST, `w${w}`, pathToFileURL(boss as string).href]
        : floor !== undefined
          ? ['sql', target, floor, `w${w}`]
          : ['tasklane', target, LIST, `w${w}`, ...(system === 'postgres, old build' ? [oldModule as string] : [])];
    const child = spawn(NODE, [workerScript, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let ready!: () => void;
    readies.push(new Promise((r) => (ready = r)));
    reports.push(
      new Promise((resolve, reject) => {
        lines.on('line', (line) => {
          if (line === 'ready') ready();
          else resolve(JSON.parse(line) as Report);
        });
        child.on('exit', (code) => code !== 0 && reject(new Error(`${system} worker w${w} exited ${code}`)));
      }),
    );
  }
  await Promise.all(readies);
  for (const c of children) c.stdin?.write('go\n');
  const got = await Promise.all(reports);
  const all = got.flatMap((r) => r.ids);
  const unique = new Set(all);
  if (all.length !== taskCount || unique.size !== taskCount) {
    throw new Error(
      `${system}: ${all.length} claims of ${unique.size} distinct tasks, expected ${taskCount} once each`,
    );
  }
  const windowMs = Math.max(...got.map((r) => r.lastEnd)) - Math.min(...got.map((r) => r.firstStart));
  const perSecond = taskCount / (windowMs / 1000);
  console.log(
    `round ${round} ${system.padEnd(26)} ${perSecond.toFixed(0).padStart(6)} claims/s (${windowMs.toFixed(0)} ms)`,
  );
  return { system, round, claims: taskCount, windowMs, perSecond };
}

const results: RunResult[] = [];
try {
  console.log(`\n${taskCount} tasks, ${workers} workers, ${rounds} rounds; systems: ${systems.join(', ')}\n`);
  for (let round = 0; round < rounds; round++) {
    const order = systems.map((_, i) => systems[(i + round) % systems.length] as System);
    for (const system of order) results.push(await runOnce(system, round));
  }
} finally {
  await pgServer.stop();
}

const rate = (system: System, round: number) =>
  results.find((r) => r.system === system && r.round === round)?.perSecond ?? Number.NaN;
const perRound = (a: System, b: System) => [...Array(rounds).keys()].map((r) => rate(a, r) / rate(b, r));
console.log('\nMedian claims per second:');
for (const s of systems)
  console.log(`  ${s.padEnd(26)} ${median(results.filter((r) => r.system === s).map((r) => r.perSecond)).toFixed(0)}`);
console.log(
  `PostgreSQL / file store, per round: ${perRound('postgres', 'file')
    .map((x) => x.toFixed(2))
    .join(', ')}`,
);
if (oldModule !== undefined) {
  console.log(
    `PostgreSQL, this build / old build, per round: ${perRound('postgres', 'postgres, old build')
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
}
if (boss !== undefined) {
  console.log(
    `PostgreSQL / pg-boss, per round: ${perRound('postgres', 'pg-boss')
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
}
for (const s of systems) {
  if (floorVariant(s) === undefined) continue;
  console.log(
    `PostgreSQL / ${s}, per round: ${perRound('postgres', s)
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
}
console.log(
  `results: ${saveResults(`pg-claims-${taskCount}-${workers}`, { machine: machineInfo, taskCount, workers, rounds, results })}`,
);
