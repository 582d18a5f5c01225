import { spawnSync } from 'node:child_process';
import { openStore } from '../src/store/open.js';
import { startPostgres } from '../test/pg-server.js';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { CA_VAR, CLI, freshDir, mb, median, NODE, peakMemoryKb, printMachine, saveResults } from './lib/measure.js';

// Issue 10: a 100,000-task list (half the tasks wait on earlier ones), `ready` and `list` (tables
// and --json), cold process each run, on the PostgreSQL store beside the file store: wall time
// and peak memory (GNU time's maximum resident set size). Runs are interleaved (each round runs
// every command once, in rotating order) and medianed; Node's start-up is part of every figure,
// measured without NODE_EXTRA_CA_CERTS (this machine sets it for every process and it slows every
// start; `--with-ca` keeps it).
//
//   npx tsc -p . && node dist/bench/pg-scale.js [count] [runs] [--with-ca]

const count = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 5);
const withCa = process.argv.includes('--with-ca');
const LIST = 'bench';

const machineInfo = printMachine();
const env = { ...process.env };
if (!withCa) delete env[CA_VAR];
const pgServer = await startPostgres();
try {
  const dir = freshDir(`pg-scale-${count}`);
  let t = performance.now();
  writeTasklaneList(dir, LIST, generateTasks(count));
  console.log(`wrote ${count} task files in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const url = await pgServer.createDatabase('scale');
  t = performance.now();
  const from = openStore(dir, LIST);
  const into = openStore(url, LIST);
  const report = await into.importList(from.exportList());
  await Promise.all([from.close(), into.close()]);
  console.log(`imported ${report.tasks} tasks into PostgreSQL in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const stores = { file: dir, postgres: url };
  const commands: { name: string; argv: string[] }[] = [];
  for (const [store, where] of Object.entries(stores)) {
    for (const cmd of [['ready'], ['ready', '--json'], ['list'], ['list', '--json']]) {
      commands.push({
        name: `${store.padEnd(8)} ${cmd.join(' ')}`,
        argv: [NODE, CLI, ...cmd, '--store', where, '--list', LIST],
      });
    }
  }
  const times = new Map<string, number[]>(commands.map((c) => [c.name, []]));
  const lines = new Map<string, number>();
  for (let round = 0; round < runs + 1; round++) {
    for (let i = 0; i < commands.length; i++) {
      const c = commands[(i + round) % commands.length] as (typeof commands)[number];
      const start = performance.now();
      const r = spawnSync(c.argv[0] as string, c.argv.slice(1), { env, encoding: 'utf8', maxBuffer: 1 << 30 });
      const ms = performance.now() - start;
      if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
      lines.set(c.name, r.stdout.split('\n').length);
      if (round > 0) times.get(c.name)?.push(ms); // round 0 warms the page cache and the database
    }
  }
  const results = commands.map((c) => {
    const memory = median(peakMemoryKb(c.argv, 3));
    return {
      name: c.name,
      medianMs: median(times.get(c.name) ?? []),
      memoryKb: memory,
      outputLines: lines.get(c.name),
    };
  });
  console.log(`\n${count} tasks, ${runs} runs each (interleaved), ${withCa ? 'with' : 'without'} ${CA_VAR}\n`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(24)} ${r.medianMs.toFixed(0).padStart(6)} ms  ${mb(r.memoryKb).padStart(9)}  (${r.outputLines} lines)`,
    );
  }
  console.log('\nPostgreSQL / file store (time, memory):');
  for (const r of results.filter((x) => x.name.startsWith('postgres'))) {
    const f = results.find((x) => x.name === r.name.replace('postgres', 'file    '));
    if (f !== undefined) {
      console.log(
        `  ${r.name.slice(9).padEnd(14)} ${(r.medianMs / f.medianMs).toFixed(2)}x  ${(r.memoryKb / f.memoryKb).toFixed(2)}x`,
      );
    }
  }
  console.log(`results: ${saveResults(`pg-scale-${count}`, { machine: machineInfo, count, runs, withCa, results })}`);
} finally {
  await pgServer.stop();
}
