import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { CA_VAR, freshDir, median, NODE, printMachine, REPO, saveResults } from './lib/measure.js';

// Not a target: a breakdown of where `tasklane list --json` spends its time (Node start-up,
// module loading, reading files, parsing, validating, deriving states, formatting, writing),
// as medians over cold processes, with the environment as is and without NODE_EXTRA_CA_CERTS.
//
//   npx tsc -p . && node dist/bench/profile-list.js [count] [runs]

const count = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 20);
const LIST = 'bench';
const machineInfo = printMachine();
const root = join(freshDir(`profile-${count}`), 'tasklane');
writeTasklaneList(root, LIST, generateTasks(count));
const probe = join(REPO, 'dist', 'bench', 'lib', 'list-phases.js');

const results: Record<string, Record<string, number>> = {};
for (const [label, env] of [
  ['environment as is', process.env],
  [`without ${CA_VAR}`, { ...process.env, [CA_VAR]: undefined }],
] as const) {
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < runs + 2; i++) {
    const start = performance.now();
    const r = spawnSync(NODE, [probe, root, LIST], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    const wall = performance.now() - start;
    if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
    if (i < 2) continue; // warm-up
    const phases = JSON.parse(r.stderr.trim().split('\n').pop() as string) as Record<string, number>;
    phases['wall (spawn to exit, seen by the parent)'] = wall;
    for (const [k, v] of Object.entries(phases)) samples[k] = [...(samples[k] ?? []), v];
  }
  const medians: Record<string, number> = {};
  console.log(`\n${count} tasks, ${label}: median ms over ${runs} cold processes`);
  for (const [k, v] of Object.entries(samples)) {
    medians[k] = median(v);
    console.log(`${median(v).toFixed(1).padStart(8)}  ${k}`);
  }
  results[label] = medians;
}
console.log(`results: ${saveResults(`profile-list-${count}`, { machine: machineInfo, count, runs, results })}`);
