import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { generateTasks } from './lib/data.js';
import {
  BACKLOG_BIN,
  BACKLOG_VERSION,
  BACKLOG_WRAPPER,
  CA_VAR,
  CLI,
  ensureBacklog,
  freshDir,
  hyperfine,
  ms,
  NODE,
  printMachine,
  printTimings,
  saveResults,
  type Timing,
} from './lib/measure.js';
import { backlogListCount, writeBothTools } from './lib/side-by-side.js';

// Issue 2: `tasklane list --json` on 1,000 tasks under 0.1 s wall and at least 8x faster than
// `backlog task list --plain` on the same 1,000 tasks, cold process each run, side by side in one
// hyperfine run. Every command runs twice: with the environment as is and without
// NODE_EXTRA_CA_CERTS (which this machine sets and which costs every Node start ~50 ms).
//
//   npx tsc -p . && node dist/bench/list-vs-backlog.js [count]

const count = Number(process.argv[2] ?? 1000);
const runs = Number(process.env.BENCH_RUNS ?? 20);
const LIST = 'bench';

const machineInfo = printMachine();
ensureBacklog();
const base = freshDir(`list-${count}`);
const { tasklaneRoot, backlogRepo } = writeBothTools(base, LIST, generateTasks(count));

// Both tools must really list all tasks before their times mean anything.
const tl = JSON.parse(
  execFileSync(NODE, [CLI, 'list', '--json', '--dir', tasklaneRoot, '--list', LIST], { encoding: 'utf8' }),
) as { tasks: { id: string }[] };
const blCount = backlogListCount(backlogRepo, join(base, 'backlog-list.txt'));
console.log(`\ntasklane list --json printed ${tl.tasks.length} tasks; backlog task list --plain printed ${blCount}`);
if (tl.tasks.length !== count || blCount !== count) throw new Error('a tool did not list every task');

const tasklane = `${NODE} ${CLI} list --json --dir ${tasklaneRoot} --list ${LIST}`;
const variants = [
  { suffix: '', env: 'env' },
  { suffix: ` -${CA_VAR}`, env: `env -u ${CA_VAR}` },
];
const commands: { name: string; command: string }[] = [];
for (const v of variants) {
  commands.push(
    { name: `node -e 0${v.suffix}`, command: `${v.env} ${NODE} -e 0` },
    { name: `tasklane list --json${v.suffix}`, command: `${v.env} ${tasklane}` },
    { name: `backlog (bun binary) task list --plain${v.suffix}`, command: `${v.env} ${BACKLOG_BIN} task list --plain` },
    {
      name: `backlog (npm wrapper) task list --plain${v.suffix}`,
      command: `${v.env} ${NODE} ${BACKLOG_WRAPPER} task list --plain`,
    },
  );
}
console.log(`\n${count} tasks, ${runs} runs each, 3 warmups, backlog.md ${BACKLOG_VERSION}, cwd ${backlogRepo}\n`);
const timings = hyperfine(commands, { cwd: backlogRepo, runs, warmup: 3 });

console.log('\nSummary (mean of the runs; ratio = backlog mean / tasklane mean):');
printTimings(timings);
const by = (name: string): Timing => timings.find((t) => t.name === name) as Timing;
const verdicts: Record<string, unknown>[] = [];
for (const v of variants) {
  const t = by(`tasklane list --json${v.suffix}`);
  for (const peer of [`backlog (bun binary) task list --plain`, `backlog (npm wrapper) task list --plain`]) {
    const b = by(`${peer}${v.suffix}`);
    const ratio = b.mean / t.mean;
    verdicts.push({ env: v.env, tasklane: t.mean, peer, peerMean: b.mean, ratio });
    console.log(
      `[${v.env}] tasklane ${ms(t.mean)} (< 100 ms: ${t.mean < 0.1 ? 'MET' : 'NOT MET'}) vs ${peer} ${ms(b.mean)}: ` +
        `${ratio.toFixed(2)}x (>= 8x: ${ratio >= 8 ? 'MET' : 'NOT MET'})`,
    );
  }
}
console.log(
  `results: ${saveResults(`list-vs-backlog-${count}`, { machine: machineInfo, count, runs, timings, verdicts })}`,
);
