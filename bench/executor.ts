import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Task, tasklaneFields } from '../src/model/index.js';
import { openStore } from '../src/store/open.js';
import { type BaselineRun, runBatchPoll, runFifo } from './lib/baseline-schedulers.js';
import { bounds, type Dag, modelMakespan, randomDag } from './lib/dag.js';
import { CA_VAR, CLI, freshDir, median, NODE, printMachine, saveResults } from './lib/measure.js';

// Issue 4: the executor (`tasklane run`).
//
// a. Makespan. K seeded random DAGs of 200 tasks (bench/lib/dag.ts), durations 1..10 units, one
//    unit = UNIT_MS ms of real time standing for one minute of agent time. Each graph runs three
//    ways, side by side in the same run, each on 8 slots with the same simulated agent (the sim
//    preset's /bin/sh script sleeping the task's duration):
//      tasklane    the real `tasklane run -j 8 --preset sim --json`, cold process, its own fresh
//                  list written through the store API; times from the store (claim -> completion)
//      fifo        an event-driven FIFO ready queue, in this process (bench/lib/baseline-schedulers.ts)
//      batch-poll  launch up to 8 ready tasks, poll every 5 s (scaled: 5 s of agent time) until the
//                  whole batch is done, repeat
//    Makespan = first task start to last task end. Ratio = makespan / LB, LB = max(critical path,
//    total work / 8). Target: tasklane <= 1.10. Also shown: the zero-overhead model of each policy.
// b. Overhead. N independent tasks whose agent does nothing (`--agent true`, preset stdin: the
//    prompt goes to `true`'s stdin and nothing comes back), -j 8 and -j 1, with NODE_EXTRA_CA_CERTS
//    as set and unset. Targets: under 25 ms per task, at least 50 tasks/s with -j 8 (2 cores).
//
//   npx tsc -p . && node dist/bench/executor.js [--graphs 5] [--tasks 200] [--unit-ms 60]
//       [--overhead-tasks 200] [--runs 3] [--only makespan|overhead]

const { values: opt } = parseArgs({
  options: {
    graphs: { type: 'string', default: '5' },
    tasks: { type: 'string', default: '200' },
    'unit-ms': { type: 'string', default: '60' },
    'overhead-tasks': { type: 'string', default: '200' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    'first-seed': { type: 'string', default: '1' },
  },
});
const GRAPHS = Number(opt.graphs);
const TASKS = Number(opt.tasks);
const UNIT_MS = Number(opt['unit-ms']);
const OVERHEAD_TASKS = Number(opt['overhead-tasks']);
const RUNS = Number(opt.runs);
const FIRST_SEED = Number(opt['first-seed']);
const SLOTS = 8;
/** One unit stands for a minute of agent time, so the 5 s poll is 5/60 of a unit. */
const UNIT_REAL_S = 60;
const POLL_MS = (5 / UNIT_REAL_S) * UNIT_MS;
const LIST = 'bench';

const now = () => performance.timeOrigin + performance.now();
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))] as number;
};

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
function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliRun> {
  const t0 = now();
  const child = spawn(NODE, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

interface GraphResult {
  seed: number;
  layers: number;
  criticalPathUnits: number;
  workUnits: number;
  lbUnits: number;
  lbMs: number;
  model: Record<'critical-path' | 'fifo' | 'batch-poll', number>;
  tasklane: {
    makespanMs: number;
    ratio: number;
    commandWallMs: number;
    runDurationMs: number;
    /** Claim of a task minus the latest completion among its blockers, ms. */
    depLatencyMs: { min: number; median: number; p90: number };
    /** Claim to completion minus the simulated duration, ms. */
    perTaskOverheadMs: { median: number; p90: number };
  };
  fifo: { makespanMs: number; ratio: number };
  batchPoll: { makespanMs: number; ratio: number };
}

async function makespanOne(seed: number): Promise<GraphResult> {
  const dag: Dag = randomDag(TASKS, seed);
  const b = bounds(dag, SLOTS);
  const lbMs = b.lowerBound * UNIT_MS;
  const model = {
    'critical-path': modelMakespan(dag, SLOTS, 'critical-path') / b.lowerBound,
    fifo: modelMakespan(dag, SLOTS, 'fifo') / b.lowerBound,
    'batch-poll': modelMakespan(dag, SLOTS, 'batch-poll', 5 / UNIT_REAL_S) / b.lowerBound,
  };

  // Tasklane: the list through the store API, then a cold `tasklane run`.
  const root = freshDir(`executor/graph-${seed}`);
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
  const r = await cli(['run', '-j', String(SLOTS), '--preset', 'sim', '--json', '--dir', root, '--list', LIST], root, {
    ...process.env,
  });
  const json = checkRun(r, TASKS);
  const times = await storeTimes(root);
  const starts = [...times.values()].map((t) => t.start);
  const ends = [...times.values()].map((t) => t.end);
  const makespanMs = Math.max(...ends) - Math.min(...starts);
  const depLatency: number[] = [];
  const overhead: number[] = [];
  dag.tasks.forEach((t, i) => {
    const mine = times.get(ids[i] as string);
    if (mine === undefined) return;
    overhead.push(mine.end - mine.start - t.units * UNIT_MS);
    if (t.blockers.length === 0) return;
    const ready = Math.max(...t.blockers.map((bi) => times.get(ids[bi] as string)?.end ?? 0));
    depLatency.push(mine.start - ready);
  });

  const fifo: BaselineRun = await runFifo(dag, SLOTS, UNIT_MS, join(root, 'fifo'));
  const batch: BaselineRun = await runBatchPoll(dag, SLOTS, UNIT_MS, POLL_MS, join(root, 'batch'));
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
    tasklane: {
      makespanMs: Math.round(makespanMs),
      ratio: round(makespanMs / lbMs, 3),
      commandWallMs: Math.round(r.wallMs),
      runDurationMs: json.durationMs,
      depLatencyMs: { min: Math.min(...depLatency), median: median(depLatency), p90: pct(depLatency, 0.9) },
      perTaskOverheadMs: { median: median(overhead), p90: pct(overhead, 0.9) },
    },
    fifo: { makespanMs: Math.round(fifo.makespanMs), ratio: round(fifo.makespanMs / lbMs, 3) },
    batchPoll: { makespanMs: Math.round(batch.makespanMs), ratio: round(batch.makespanMs / lbMs, 3) },
  };
}

async function makespan() {
  console.log(
    `\n== a. makespan: ${GRAPHS} random DAGs of ${TASKS} tasks, -j ${SLOTS}, 1 unit = ${UNIT_MS} ms (= 1 min of agent time), batch poll every ${round(POLL_MS, 2)} ms (= 5 s)`,
  );
  const results: GraphResult[] = [];
  for (let g = 0; g < GRAPHS; g++) {
    const r = await makespanOne(FIRST_SEED + g);
    results.push(r);
    const t = r.tasklane;
    console.log(
      `seed ${r.seed}: ${r.layers} layers, CP ${r.criticalPathUnits} u, work/8 ${round(r.workUnits / SLOTS, 1)} u, LB ${(r.lbMs / 1000).toFixed(2)} s | ` +
        `tasklane ${(t.makespanMs / 1000).toFixed(2)} s = ${t.ratio.toFixed(3)} LB (command ${(t.commandWallMs / 1000).toFixed(2)} s) | ` +
        `fifo ${r.fifo.ratio.toFixed(3)} | batch-poll ${r.batchPoll.ratio.toFixed(3)} | ` +
        `model cp/fifo/batch ${r.model['critical-path'].toFixed(3)}/${r.model.fifo.toFixed(3)}/${r.model['batch-poll'].toFixed(3)} | ` +
        `tasklane dep latency min/med/p90 ${t.depLatencyMs.min}/${t.depLatencyMs.median}/${t.depLatencyMs.p90} ms, claim->complete minus sleep med/p90 ${t.perTaskOverheadMs.median}/${t.perTaskOverheadMs.p90} ms`,
    );
  }
  const summary = (pick: (r: GraphResult) => number) => {
    const xs = results.map(pick);
    return { median: round(median(xs), 3), max: round(Math.max(...xs), 3) };
  };
  const s = {
    tasklane: summary((r) => r.tasklane.ratio),
    fifo: summary((r) => r.fifo.ratio),
    batchPoll: summary((r) => r.batchPoll.ratio),
    modelCriticalPath: summary((r) => r.model['critical-path']),
    modelFifo: summary((r) => r.model.fifo),
    modelBatchPoll: summary((r) => r.model['batch-poll']),
  };
  for (const [k, v] of Object.entries(s)) console.log(`${k.padEnd(18)} makespan/LB median ${v.median}  max ${v.max}`);
  console.log(`target tasklane <= 1.10 (max over graphs): ${s.tasklane.max <= 1.1 ? 'MET' : 'NOT MET'}`);
  return { graphs: results, summary: s };
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
