import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { generateTasks } from './lib/data.js';
import {
  BACKLOG_BIN,
  CA_VAR,
  CLI,
  ensureBacklog,
  freshDir,
  hyperfine,
  mb,
  median,
  ms,
  NODE,
  peakMemoryKb,
  printMachine,
  printTimings,
  saveResults,
} from './lib/measure.js';
import { backlogListCount, writeBothTools } from './lib/side-by-side.js';

// Issue 2: `list` and `ready` on 10,000 tasks under 0.4 s and 150 MB peak memory. Each of
// `list`, `ready` (tables) and their --json forms, cold process each run, with the environment as
// is and without NODE_EXTRA_CA_CERTS; Backlog.md's `task list --plain` on the same tasks beside
// them. Peak memory is GNU time's maximum resident set size.
//
//   npx tsc -p . && node dist/bench/scale.js [count] [runs]

const count = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 10);
const memRuns = 5;
const LIST = 'bench';
const TIME_LIMIT = 0.4;
const MEM_LIMIT_KB = 150 * 1024;

const machineInfo = printMachine();
ensureBacklog();
const base = freshDir(`scale-${count}`);
const { tasklaneRoot: root, backlogRepo } = writeBothTools(base, LIST, generateTasks(count));

const tl = (args: string[]) => [CLI, ...args, '--dir', root, '--list', LIST];
const list = JSON.parse(execFileSync(NODE, tl(['list', '--json']), { encoding: 'utf8', maxBuffer: 1 << 30 })) as {
  tasks: unknown[];
};
const ready = JSON.parse(execFileSync(NODE, tl(['ready', '--json']), { encoding: 'utf8', maxBuffer: 1 << 30 })) as {
  tasks: unknown[];
};
const blCount = backlogListCount(backlogRepo, join(base, 'backlog-list.txt'));
console.log(`\nlist --json: ${list.tasks.length} tasks; ready --json: ${ready.tasks.length}; backlog: ${blCount}`);
if (list.tasks.length !== count || blCount !== count) throw new Error('a tool did not list every task');

const forms: [string, string[]][] = [
  ['tasklane list', ['list']],
  ['tasklane ready', ['ready']],
  ['tasklane list --json', ['list', '--json']],
  ['tasklane ready --json', ['ready', '--json']],
];
const commands: { name: string; command: string }[] = [];
for (const [suffix, env] of [
  ['', 'env'],
  [` -${CA_VAR}`, `env -u ${CA_VAR}`],
] as const) {
  commands.push({ name: `node -e 0${suffix}`, command: `${env} ${NODE} -e 0` });
  for (const [name, args] of forms)
    commands.push({ name: `${name}${suffix}`, command: `${env} ${NODE} ${tl(args).join(' ')}` });
}
console.log(`\n${count} tasks, ${runs} runs each, 2 warmups\n`);
const timings = hyperfine(commands, { cwd: backlogRepo, runs, warmup: 2 });
// Backlog.md takes seconds a run at this size: fewer runs, right after, same data.
const peerRuns = Math.min(runs, 3);
console.log(`\nBacklog.md on the same ${count} tasks, ${peerRuns} runs, 1 warmup\n`);
timings.push(
  ...hyperfine([{ name: 'backlog (bun binary) task list --plain', command: `${BACKLOG_BIN} task list --plain` }], {
    cwd: backlogRepo,
    runs: peerRuns,
    warmup: 1,
  }),
);
console.log('\nSummary:');
printTimings(timings);

console.log(`\nPeak RSS, max of ${memRuns} runs (environment as is / without ${CA_VAR}):`);
const memory: Record<string, { asIs: number[]; withoutCa: number[] }> = {};
const verdicts: string[] = [];
for (const [name, args] of forms) {
  const asIs = peakMemoryKb([NODE, ...tl(args)], memRuns);
  const withoutCa = peakMemoryKb(['env', '-u', CA_VAR, NODE, ...tl(args)], memRuns);
  memory[name] = { asIs, withoutCa };
  console.log(`${name.padEnd(24)} ${mb(Math.max(...asIs))} / ${mb(Math.max(...withoutCa))}`);
}
const blMem = peakMemoryKb([BACKLOG_BIN, 'task', 'list', '--plain'], memRuns, backlogRepo);
memory['backlog task list --plain'] = { asIs: blMem, withoutCa: [] };
console.log(`${'backlog task list --plain'.padEnd(24)} ${mb(Math.max(...blMem))}`);

console.log(`\nTargets (< ${TIME_LIMIT * 1000} ms mean, < 150 MB peak):`);
for (const [name] of forms) {
  for (const [suffix, key] of [
    ['', 'asIs'],
    [` -${CA_VAR}`, 'withoutCa'],
  ] as const) {
    const t = timings.find((x) => x.name === `${name}${suffix}`);
    if (t === undefined) continue;
    const peak = Math.max(...memory[name]![key]);
    const line =
      `${(name + suffix).padEnd(46)} ${ms(t.mean)} (median ${ms(t.median)}) ${t.mean < TIME_LIMIT ? 'MET' : 'NOT MET'}; ` +
      `peak ${mb(peak)} (median ${mb(median(memory[name]![key]))}) ${peak < MEM_LIMIT_KB ? 'MET' : 'NOT MET'}`;
    verdicts.push(line);
    console.log(line);
  }
}
console.log(
  `results: ${saveResults(`scale-${count}`, { machine: machineInfo, count, runs, timings, memory, verdicts })}`,
);
