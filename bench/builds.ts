import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { CA_VAR, CLI, freshDir, median, NODE, printMachine, saveResults } from './lib/measure.js';

// `tasklane list --all --json` of 1,000 tasks, this build beside an older one, interleaved run by
// run (old, new, old, new, ...) so that the machine's drift between hours hits both alike; the
// figure to quote is the ratio of medians. Run with and without NODE_EXTRA_CA_CERTS.
//
//   git worktree add /tmp/old <commit> && (cd /tmp/old && npm ci && npm run build)
//   node dist/bench/builds.js --old /tmp/old/dist/bundle/main.js [--runs 30] [--tasks 1000]
//   (or BENCH_OLD=/tmp/old/dist/bundle/main.js npm run bench; without either it is skipped)

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const old = arg('old', process.env.BENCH_OLD);
if (old === undefined) {
  console.log('builds: skipped; give --old PATH/TO/OLD/dist/bundle/main.js (or BENCH_OLD) to compare two builds');
  process.exit(0);
}
if (!existsSync(old)) {
  console.error(`builds: no file ${old}; build the older commit first (see the comment at the top of bench/builds.ts)`);
  process.exit(2);
}
const runs = Number(arg('runs', '30'));
const count = Number(arg('tasks', '1000'));

const machine = printMachine();
const dir = freshDir('builds');
writeTasklaneList(dir, 'bench', generateTasks(count));
const builds = { old, new: CLI };

function timeOnce(bin: string, env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(NODE, [bin, 'list', '--all', '--json', '--dir', dir, '--list', 'bench'], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${bin} exited ${r.status}: ${r.stderr}`);
  const n = JSON.parse(r.stdout) as { tasks?: unknown[] } | unknown[] as unknown;
  const got = Array.isArray(n) ? n.length : ((n as { tasks?: unknown[] }).tasks?.length ?? -1);
  if (got !== count) throw new Error(`${bin} listed ${got} tasks, expected ${count}`);
  return s;
}

const results: Record<string, Record<string, number[]>> = {};
for (const [caName, env] of [
  ['as is', process.env],
  [`without ${CA_VAR}`, Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== CA_VAR))],
] as const) {
  const times: Record<string, number[]> = { old: [], new: [] };
  for (const name of Object.keys(builds) as (keyof typeof builds)[]) timeOnce(builds[name], env); // warm-up
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
    for (const name of order) times[name]?.push(timeOnce(builds[name], env));
  }
  results[caName] = times;
  const mo = median(times.old ?? []);
  const mn = median(times.new ?? []);
  console.log(
    `list --all --json, ${count} tasks, ${caName}: old median ${(mo * 1000).toFixed(1)} ms, new median ${(mn * 1000).toFixed(1)} ms, new/old ${(mn / mo).toFixed(2)} (${runs} interleaved runs each)`,
  );
}
console.log(`results: ${saveResults('builds', { machine, old, tasks: count, runs, results, dir: join(dir) })}`);
