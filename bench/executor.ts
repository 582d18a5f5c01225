import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Task, tasklaneFields } from '../src/model/index.js';
import { openStore } from '../src/store/open.js';
import { type BaselineRun, runBatchPoll, runReadyQueue } from './lib/baseline-schedulers.js';
import { bounds, type Dag, type DagTask, modelMakespan, modelSchedule, randomDag } from './lib/dag.js';
import { CA_VAR, CLI, freshDir, load, median, NODE, printMachine, saveResults } from './lib/measure.js';
import { type LatencyFigures, latencyFigures, readTimeline, type Spread, spread } from './lib/run-timeline.js';

// Issue 4: the executor (`tasklane run`).
//
// a. Makespan. K seeded random DAGs of 200 tasks (bench/lib/dag.ts), durations 1..10 units, one
//    unit = UNIT_MS ms of real time standing for one minute of agent time. Each graph runs these
//    ways, side by side in the same run, each on 8 slots with the same simulated agent (the sim
//    preset's /bin/sh script sleeping the task's duration):
//      tasklane    the real `tasklane run -j 8 --preset sim --json`, cold process, its own fresh
//                  list (in a fresh git repository) written through the store API; without and
//                  with --worktree; this build and, given --old DIST, an old build, all in an
//                  order that rotates from graph to graph. Times from the store and the run's
//                  logs and result files (bench/lib/run-timeline.ts).
//      fifo        an event-driven FIFO ready queue, in this process (bench/lib/baseline-schedulers.ts)
//      cp queue    the same queue in critical-path order: an executor whose only overhead is the
//                  agents' spawns, so the floor for any executor that starts agents as processes
//      batch-poll  launch up to 8 ready tasks, poll every 5 s (scaled: 5 s of agent time) until the
//                  whole batch is done, repeat
//    Makespan = first task start to last task end. Ratio = makespan / LB, LB = max(critical path,
//    total work / 8). Targets (issue 8): tasklane median <= 1.05, and a dependent's agent spawned
//    within 50 ms (p90) of the moment it could start (its blockers' agents ended and a slot is
//    free), beyond the agent's own start. Also shown: the zero-overhead model of each policy.
// b. Overhead. N independent tasks whose agent does nothing (`--agent true`, preset stdin: the
//    prompt goes to `true`'s stdin and nothing comes back), -j 8 and -j 1, with NODE_EXTRA_CA_CERTS
//    as set and unset. Targets: under 25 ms per task, at least 50 tasks/s with -j 8 (2 cores).
//
//   npx tsc -p . && node dist/bench/executor.js [--graphs 5] [--tasks 200] [--unit-ms 60]
//       [--modes plain,worktree] [--old /tmp/old/dist] [--overhead-tasks 200] [--runs 3]
//       [--only makespan|overhead]
//   (the old build also from $BENCH_OLD_DIST; build one with `git worktree add /tmp/old COMMIT &&
//   (cd /tmp/old && npm ci && npm run build)`). Compare builds over an even number of graphs: the
//   variant that ran first on a graph was often about 10 % slower (BENCHMARKS.md, issue 8), and
//   the rotation cancels that only when each goes first equally often.

const { values: opt } = parseArgs({
  options: {
    graphs: { type: 'string', default: '5' },
    tasks: { type: 'string', default: '200' },
    'unit-ms': { type: 'string', default: '60' },
    'overhead-tasks': { type: 'string', default: '200' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    'first-seed': { type: 'string', default: '1' },
    modes: { type: 'string', default: 'plain,worktree' },
    old: { type: 'string' },
  },
});
const GRAPHS = Number(opt.graphs);
const TASKS = Number(opt.tasks);
const UNIT_MS = Number(opt['unit-ms']);
const OVERHEAD_TASKS = Number(opt['overhead-tasks']);
const RUNS = Number(opt.runs);
const FIRST_SEED = Number(opt['first-seed']);
const SLOTS = 8;
const OLD_DIST = opt.old ?? process.env.BENCH_OLD_DIST;
if (OLD_DIST !== undefined && !existsSync(join(OLD_DIST, 'bundle', 'main.js'))) {
  throw new Error(`no old build at ${OLD_DIST} (expected ${join(OLD_DIST, 'bundle', 'main.js')})`);
}
const MODES = (opt.modes as string).split(',').map((m) => {
  if (m !== 'plain' && m !== 'worktree') throw new Error(`--modes: plain or worktree, not ${m}`);
  return m === 'worktree';
});
const VARIANTS: Variant[] = MODES.flatMap((worktree) => [
  { build: 'new' as const, worktree },
  ...(OLD_DIST === undefined ? [] : [{ build: 'old' as const, worktree }]),
]);
/** One unit stands for a minute of agent time, so the 5 s poll is 5/60 of a unit. */
const UNIT_REAL_S = 60;
const POLL_MS = (5 / UNIT_REAL_S) * UNIT_MS;
const LIST = 'bench';

const now = () => performance.timeOrigin + performance.now();
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const machineInfo = printMachine();
const withoutCa = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env[CA_VAR];
  return env;
};

interface CliRun {
  wallMs: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs the CLI as a cold process and times it from spawn to exit. */
function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv, bin = CLI): Promise<CliRun> {
  const t0 = now();
  // BENCH_CPU_PROF=DIR: each run's V8 CPU profile goes to DIR (for `node --cpu-prof` readers).
  const prof = process.env.BENCH_CPU_PROF;
  const flags = prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`];
  const child = spawn(NODE, [...flags, bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ wallMs: now() - t0, stdout, stderr, code }));
  });
}

/** Claim and completion times of every task, epoch ms, from the store after the run. */
async function storeTimes(root: string): Promise<Map<string, { task: Task; start: number; end: number }>> {
  const store = openStore({ dir: root, list: LIST, cwd: root, env: {} });
  const out = new Map<string, { task: Task; start: number; end: number }>();
  for (const task of await store.list()) {
    const f = tasklaneFields(task);
    if (task.status !== 'completed' || f.startedAt === undefined || f.completedAt === undefined) {
      throw new Error(`task ${task.id} did not complete (${task.status})`);
    }
    out.set(task.id, { task, start: Date.parse(f.startedAt), end: Date.parse(f.completedAt) });
  }
  await store.close();
  return out;
}

function checkRun(r: CliRun, tasks: number): { durationMs: number; perTask: Map<string, number> } {
  if (r.code !== 0) throw new Error(`tasklane run exited ${r.code}: ${r.stderr.slice(-2000)}`);
  const json = JSON.parse(r.stdout) as {
    ok: boolean;
    durationMs: number;
    counts: { completed: number };
    tasks: { id: string; durationMs?: number }[];
  };
  if (!json.ok || json.counts.completed !== tasks) throw new Error(`run not ok: ${JSON.stringify(json.counts)}`);
  return { durationMs: json.durationMs, perTask: new Map(json.tasks.map((t) => [t.id, t.durationMs ?? 0])) };
}

// ---------------------------------------------------------------- a. makespan

/** One way of running `tasklane run`: a build (this one, or the old one given) and with or without --worktree. */
interface Variant {
  build: 'new' | 'old';
  worktree: boolean;
}
const variantName = (v: Variant) => `${v.build}${v.worktree ? '+worktree' : ''}`;

interface TasklaneRun {
  variant: string;
  makespanMs: number;
  ratio: number;
  commandWallMs: number;
  runDurationMs: number;
  latency: LatencyFigures;
}

interface GraphResult {
  seed: number;
  layers: number;
  criticalPathUnits: number;
  workUnits: number;
  lbUnits: number;
  lbMs: number;
  model: Record<'critical-path' | 'fifo' | 'batch-poll', number>;
  /** The critical-path model's claim minus its blockers' end, ms: the wait for a slot alone, with zero overhead. */
  modelClaimAfterBlockers: Spread;
  runs: TasklaneRun[];
  fifo: { makespanMs: number; ratio: number };
  /** The same queue in critical-path order: spawns are its only overhead. */
  cpQueue: { makespanMs: number; ratio: number };
  batchPoll: { makespanMs: number; ratio: number };
}

/** A fresh list of the graph in a fresh git repository (one commit, so --worktree has a HEAD to start from). */
async function graphList(dag: Dag, dir: string): Promise<string> {
  const root = freshDir(dir);
  const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { stdio: 'ignore' });
  git('init', '-q');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-q', '--allow-empty', '-m', 'start');
  const store = openStore({ dir: root, list: LIST, cwd: root, env: {} });
  const ids: string[] = [];
  for (const t of dag.tasks) {
    const created = await store.create({
      subject: `Task ${t.index + 1} (${t.units} units)`,
      blockedBy: t.blockers.map((i) => ids[i] as string),
      estimate: t.units * UNIT_REAL_S,
      metadata: { sim: { ms: t.units * UNIT_MS } },
    });
    ids.push(created.id);
  }
  await store.close();
  return root;
}

async function runTasklane(dag: Dag, seed: number, v: Variant, lbMs: number): Promise<TasklaneRun> {
  const root = await graphList(dag, `executor/graph-${seed}-${variantName(v)}`);
  const bin = v.build === 'new' ? CLI : join(OLD_DIST as string, 'bundle', 'main.js');
  const args = ['run', '-j', String(SLOTS), '--preset', 'sim', '--json', '--dir', root, '--list', LIST];
  if (v.worktree) args.push('--worktree');
  const r = await cli(args, root, { ...process.env }, bin);
  const json = checkRun(r, TASKS);
  const store = openStore({ dir: root, list: LIST, cwd: root, env: {} });
  const tasks = await store.list();
  const artifacts = store.artifactsDir;
  await store.close();
  const timeline = readTimeline(tasks, artifacts);
  const all = [...timeline.values()];
  const makespanMs = Math.max(...all.map((t) => t.completed)) - Math.min(...all.map((t) => t.claim));
  return {
    variant: variantName(v),
    makespanMs: Math.round(makespanMs),
    ratio: round(makespanMs / lbMs, 3),
    commandWallMs: Math.round(r.wallMs),
    runDurationMs: json.durationMs,
    latency: latencyFigures(timeline),
  };
}

async function makespanOne(seed: number, round_: number): Promise<GraphResult> {
  const dag: Dag = randomDag(TASKS, seed);
  const b = bounds(dag, SLOTS);
  const lbMs = b.lowerBound * UNIT_MS;
  const model = {
    'critical-path': modelMakespan(dag, SLOTS, 'critical-path') / b.lowerBound,
    fifo: modelMakespan(dag, SLOTS, 'fifo') / b.lowerBound,
    'batch-poll': modelMakespan(dag, SLOTS, 'batch-poll', 5 / UNIT_REAL_S) / b.lowerBound,
  };
  const { starts } = modelSchedule(dag, SLOTS, 'critical-path');
  const modelWait = dag.tasks
    .filter((t) => t.blockers.length > 0)
    .map(
      (t) =>
        ((starts[t.index] as number) -
          Math.max(...t.blockers.map((i) => (starts[i] as number) + (dag.tasks[i] as DagTask).units))) *
        UNIT_MS,
    );

  // Every variant on the same graph, in an order that rotates from graph to graph.
  const order = VARIANTS.map((_, i) => VARIANTS[(i + round_) % VARIANTS.length] as Variant);
  const runs: TasklaneRun[] = [];
  for (const v of order) runs.push(await runTasklane(dag, seed, v, lbMs));
  runs.sort(
    (x, y) =>
      VARIANTS.findIndex((v) => variantName(v) === x.variant) - VARIANTS.findIndex((v) => variantName(v) === y.variant),
  );

  const base = freshDir(`executor/graph-${seed}-baselines`);
  const fifo: BaselineRun = await runReadyQueue(dag, SLOTS, UNIT_MS, join(base, 'fifo'), 'fifo');
  const cpQueue: BaselineRun = await runReadyQueue(dag, SLOTS, UNIT_MS, join(base, 'cp'), 'critical-path');
  const batch: BaselineRun = await runBatchPoll(dag, SLOTS, UNIT_MS, POLL_MS, join(base, 'batch'));
  return {
    seed,
    layers: dag.layers,
    criticalPathUnits: b.criticalPath,
    workUnits: b.work,
    lbUnits: round(b.lowerBound, 2),
    lbMs: Math.round(lbMs),
    model: {
      'critical-path': round(model['critical-path'], 3),
      fifo: round(model.fifo, 3),
      'batch-poll': round(model['batch-poll'], 3),
    },
    modelClaimAfterBlockers: spread(modelWait),
    runs,
    fifo: { makespanMs: Math.round(fifo.makespanMs), ratio: round(fifo.makespanMs / lbMs, 3) },
    cpQueue: { makespanMs: Math.round(cpQueue.makespanMs), ratio: round(cpQueue.makespanMs / lbMs, 3) },
    batchPoll: { makespanMs: Math.round(batch.makespanMs), ratio: round(batch.makespanMs / lbMs, 3) },
  };
}

async function makespan() {
  console.log(
    `\n== a. makespan: ${GRAPHS} random DAGs of ${TASKS} tasks, -j ${SLOTS}, 1 unit = ${UNIT_MS} ms (= 1 min of agent time), batch poll every ${round(POLL_MS, 2)} ms (= 5 s); ` +
      `tasklane runs: ${VARIANTS.map(variantName).join(', ')}${OLD_DIST === undefined ? '' : ` (old = ${OLD_DIST})`}`,
  );
  const results: GraphResult[] = [];
  for (let g = 0; g < GRAPHS; g++) {
    const r = await makespanOne(FIRST_SEED + g, g);
    results.push(r);
    console.log(
      `seed ${r.seed} (load ${load()}): ${r.layers} layers, CP ${r.criticalPathUnits} u, work/8 ${round(r.workUnits / SLOTS, 1)} u, LB ${(r.lbMs / 1000).toFixed(2)} s | ` +
        `fifo ${r.fifo.ratio.toFixed(3)} | cp queue ${r.cpQueue.ratio.toFixed(3)} | batch-poll ${r.batchPoll.ratio.toFixed(3)} | ` +
        `model cp/fifo/batch ${r.model['critical-path'].toFixed(3)}/${r.model.fifo.toFixed(3)}/${r.model['batch-poll'].toFixed(3)}, ` +
        `model claim after blockers med/p90 ${r.modelClaimAfterBlockers.median}/${r.modelClaimAfterBlockers.p90} ms`,
    );
    for (const t of r.runs) {
      const l = t.latency;
      console.log(
        `  ${t.variant.padEnd(13)} ${(t.makespanMs / 1000).toFixed(2)} s = ${t.ratio.toFixed(3)} LB | ` +
          `dependent start med/p90 ${l.dependentStart.median}/${l.dependentStart.p90} ms | ` +
          `claim after blockers med/p90 ${l.claimAfterBlockers.median}/${l.claimAfterBlockers.p90} ms | ` +
          `exit->completed ${l.exitToCompleted.median}/${l.exitToCompleted.p90}, claim->spawn ${l.claimToSpawn.median}/${l.claimToSpawn.p90}, ` +
          `agent's own start ${l.agentOwnStart.median}/${l.agentOwnStart.p90} ms (med/p90)`,
      );
    }
  }
  const summary: Record<string, Record<string, number>> = {};
  const med = (xs: number[]) => round(median(xs), 3);
  for (const v of VARIANTS) {
    const name = variantName(v);
    const mine = results.map((r) => r.runs.find((t) => t.variant === name) as TasklaneRun);
    summary[name] = {
      ratioMedian: med(mine.map((t) => t.ratio)),
      ratioMax: round(Math.max(...mine.map((t) => t.ratio)), 3),
      dependentStartP90: med(mine.map((t) => t.latency.dependentStart.p90)),
      dependentStartMedian: med(mine.map((t) => t.latency.dependentStart.median)),
      claimAfterBlockersP90: med(mine.map((t) => t.latency.claimAfterBlockers.p90)),
    };
  }
  summary.fifo = {
    ratioMedian: med(results.map((r) => r.fifo.ratio)),
    ratioMax: Math.max(...results.map((r) => r.fifo.ratio)),
  };
  summary.cpQueue = {
    ratioMedian: med(results.map((r) => r.cpQueue.ratio)),
    ratioMax: Math.max(...results.map((r) => r.cpQueue.ratio)),
  };
  summary.batchPoll = {
    ratioMedian: med(results.map((r) => r.batchPoll.ratio)),
    ratioMax: Math.max(...results.map((r) => r.batchPoll.ratio)),
  };
  summary.model = {
    criticalPath: med(results.map((r) => r.model['critical-path'])),
    fifo: med(results.map((r) => r.model.fifo)),
    claimAfterBlockersP90: med(results.map((r) => r.modelClaimAfterBlockers.p90)),
  };
  console.log('\nmedians over graphs (makespan/LB; latency p90s in ms):');
  for (const [k, v] of Object.entries(summary)) console.log(`  ${k.padEnd(13)} ${JSON.stringify(v)}`);
  // New over old, within each graph, then medianed (the machine drifts between graphs).
  const ratios: Record<string, number> = {};
  if (OLD_DIST !== undefined) {
    for (const wt of MODES) {
      const pick = (r: GraphResult, build: string) =>
        r.runs.find((t) => t.variant === variantName({ build: build as 'new', worktree: wt })) as TasklaneRun;
      const suffix = wt ? '+worktree' : '';
      ratios[`makespan new/old${suffix}`] = med(results.map((r) => pick(r, 'new').ratio / pick(r, 'old').ratio));
      ratios[`dependent start p90 new/old${suffix}`] = med(
        results.map((r) => pick(r, 'new').latency.dependentStart.p90 / pick(r, 'old').latency.dependentStart.p90),
      );
    }
    console.log(`within-graph ratios, medianed: ${JSON.stringify(ratios)}`);
  }
  for (const wt of MODES) {
    const s = summary[variantName({ build: 'new', worktree: wt })] as Record<string, number>;
    console.log(
      `target (new${wt ? ' +worktree' : ''}): makespan/LB median <= 1.05: ${(s.ratioMedian as number) <= 1.05 ? 'MET' : 'NOT MET'} (${s.ratioMedian}); ` +
        `dependent start p90 <= 50 ms: ${(s.dependentStartP90 as number) <= 50 ? 'MET' : 'NOT MET'} (${s.dependentStartP90} ms)`,
    );
  }
  return { graphs: results, summary, ratios };
}

// ---------------------------------------------------------------- b. overhead

/** How long `true` takes as an agent: spawned the way the runner spawns it, prompt on stdin. */
async function agentMs(runs: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    const child = spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child.stdin.on('error', () => {});
    child.stdin.end('Task #1: nothing.\n');
    child.stdout.resume();
    child.stderr.resume();
    await new Promise((r) => child.on('close', r));
    xs.push(now() - t0);
  }
  return median(xs);
}

interface OverheadRun {
  jobs: number;
  env: string;
  commandWallMs: number;
  /** First claim to last completion. */
  windowMs: number;
  tasksPerSecondWall: number;
  tasksPerSecondWindow: number;
  /** window x jobs / tasks - agent time: slot time per task beyond the agent. */
  slotOverheadMs: number;
  /** Median of (completion - claim) - agent time. */
  claimToCompleteOverheadMs: number;
}

async function overheadOne(jobs: number, envLabel: string, env: NodeJS.ProcessEnv, tag: string, agent: number) {
  const root = freshDir(`executor/overhead-${tag}`);
  const store = openStore({ dir: root, list: LIST, cwd: root, env: {} });
  for (let i = 0; i < OVERHEAD_TASKS; i++) await store.create({ subject: `No-op ${i + 1}` });
  await store.close();
  const r = await cli(
    ['run', '-j', String(jobs), '--agent', 'true', '--json', '--dir', root, '--list', LIST],
    root,
    env,
  );
  checkRun(r, OVERHEAD_TASKS);
  const times = [...(await storeTimes(root)).values()];
  const windowMs = Math.max(...times.map((t) => t.end)) - Math.min(...times.map((t) => t.start));
  const run: OverheadRun = {
    jobs,
    env: envLabel,
    commandWallMs: Math.round(r.wallMs),
    windowMs: Math.round(windowMs),
    tasksPerSecondWall: round((OVERHEAD_TASKS / r.wallMs) * 1000),
    tasksPerSecondWindow: round((OVERHEAD_TASKS / windowMs) * 1000),
    slotOverheadMs: round((windowMs * jobs) / OVERHEAD_TASKS - agent),
    claimToCompleteOverheadMs: round(median(times.map((t) => t.end - t.start)) - agent),
  };
  return run;
}

async function overhead() {
  const agent = await agentMs(30);
  console.log(
    `\n== b. overhead: ${OVERHEAD_TASKS} independent tasks, --agent true (preset stdin), ${RUNS} runs each; \`true\` alone takes ${agent.toFixed(1)} ms (median of 30 spawns)`,
  );
  const runs: OverheadRun[] = [];
  for (const [label, env] of [
    ['as is', process.env],
    [`without ${CA_VAR}`, withoutCa()],
  ] as const) {
    for (const jobs of [SLOTS, 1]) {
      for (let i = 0; i < RUNS; i++) {
        const r = await overheadOne(jobs, label, env, `${jobs}-${i}`, agent);
        runs.push(r);
        console.log(
          `[${label}] -j ${jobs} run ${i + 1}: command ${r.commandWallMs} ms (${r.tasksPerSecondWall} tasks/s), ` +
            `first claim to last completion ${r.windowMs} ms (${r.tasksPerSecondWindow} tasks/s), ` +
            `slot time beyond the agent ${r.slotOverheadMs} ms/task, claim->complete beyond the agent ${r.claimToCompleteOverheadMs} ms (median)`,
        );
      }
    }
  }
  const summary: Record<string, Record<string, number>> = {};
  for (const r of runs) {
    const key = `${r.env} -j ${r.jobs}`;
    if (summary[key] !== undefined) continue;
    const same = runs.filter((x) => x.env === r.env && x.jobs === r.jobs);
    const med = (f: (x: OverheadRun) => number) => round(median(same.map(f)));
    summary[key] = {
      commandWallMs: med((x) => x.commandWallMs),
      tasksPerSecondWall: med((x) => x.tasksPerSecondWall),
      tasksPerSecondWindow: med((x) => x.tasksPerSecondWindow),
      slotOverheadMs: med((x) => x.slotOverheadMs),
      claimToCompleteOverheadMs: med((x) => x.claimToCompleteOverheadMs),
    };
  }
  for (const [k, v] of Object.entries(summary)) {
    console.log(
      `${k.padEnd(32)} median: ${v.tasksPerSecondWall} tasks/s (command), ${v.tasksPerSecondWindow} tasks/s (window), ` +
        `${v.slotOverheadMs} ms/task slot overhead, ${v.claimToCompleteOverheadMs} ms claim->complete overhead`,
    );
  }
  return { agentMs: round(agent, 2), runs, summary };
}

const out: Record<string, unknown> = {
  machine: machineInfo,
  params: { graphs: GRAPHS, tasks: TASKS, unitMs: UNIT_MS, unitRealS: UNIT_REAL_S, pollMs: POLL_MS, slots: SLOTS },
};
if (opt.only !== 'overhead') out.makespan = await makespan();
if (opt.only !== 'makespan') out.overhead = await overhead();
console.log(`results: ${saveResults('executor', out)}`);
