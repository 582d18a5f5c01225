import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SIM_SCRIPT } from '../../src/engine/agents.js';
import { bottomLevels, type Dag, type DagTask, dependents, takeNext } from './dag.js';

// The two schedulers the executor benchmark compares Tasklane with, run for real in this process:
// each task is the same simulated agent Tasklane's sim preset spawns (/bin/sh running SIM_SCRIPT,
// which sleeps, writes a result file and prints two lines), spawned the same way (own process
// group, prompt on stdin, output read), so both pay the same spawn costs. They keep no store:
// whatever Tasklane spends on claims, files and its change feed is overhead these do not have.
//
//   fifo        a ready queue with `slots` slots, event-driven: a task's end starts the next ready
//               task at once; ready tasks start in the order they became ready, ties by id.
//   critical-path  the same queue, ready tasks by longest remaining path then id (Tasklane's order,
//               the model's best): an executor that pays only the agents' spawns, the floor for
//               any executor that starts its agents as processes.
//   batch-poll  the coordinator pattern used today: take up to `slots` ready tasks (by id), launch
//               them all, poll every `pollMs` until the whole batch is done, repeat.

export interface TaskTimes {
  index: number;
  /** Epoch ms (fractional) at spawn and at exit. */
  start: number;
  end: number;
}

export interface BaselineRun {
  times: TaskTimes[];
  /** First spawn to last exit, ms. */
  makespanMs: number;
}

const now = () => performance.timeOrigin + performance.now();

/** Spawns one simulated agent for `ms` milliseconds; resolves at its exit with its times. */
function runSim(task: DagTask, ms: number, dir: string): Promise<TaskTimes> {
  const start = now();
  const id = String(task.index + 1);
  const child = spawn(
    '/bin/sh',
    ['-c', SIM_SCRIPT, 'tasklane-sim', (ms / 1000).toFixed(3), '0', `Did task ${id} (simulated).`, id],
    {
      env: { ...process.env, TASKLANE_RESULT_FILE: join(dir, `${id}.md`), TASKLANE_TASK_ID: id },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    },
  );
  child.stdin.on('error', () => {}); // the script does not read its prompt: it may be gone before it is written
  child.stdin.end(`Task #${id}: simulated work.\n`);
  child.stdout.resume();
  child.stderr.resume();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`simulated agent for task ${id} exited ${code}`));
      else resolve({ index: task.index, start, end: now() });
    });
  });
}

function finish(times: TaskTimes[]): BaselineRun {
  const first = Math.min(...times.map((t) => t.start));
  const last = Math.max(...times.map((t) => t.end));
  return { times, makespanMs: last - first };
}

export async function runReadyQueue(
  dag: Dag,
  slots: number,
  unitMs: number,
  workDir: string,
  order: 'fifo' | 'critical-path',
): Promise<BaselineRun> {
  mkdirSync(workDir, { recursive: true });
  const deps = dependents(dag);
  const levels = bottomLevels(dag);
  const open = dag.tasks.map((t) => t.blockers.length);
  const ready = dag.tasks.filter((t) => t.blockers.length === 0).map((t) => t.index);
  const times: TaskTimes[] = [];
  let running = 0;
  return new Promise((resolve, reject) => {
    const fill = () => {
      while (running < slots && ready.length > 0) {
        const task = dag.tasks[takeNext(ready, levels, order)] as DagTask;
        running++;
        runSim(task, task.units * unitMs, workDir).then((t) => {
          running--;
          times.push(t);
          for (const d of deps[t.index] as number[]) if (--(open[d] as number) === 0) ready.push(d);
          if (times.length === dag.tasks.length) resolve(finish(times));
          else fill();
        }, reject);
      }
    };
    fill();
  });
}

export async function runBatchPoll(
  dag: Dag,
  slots: number,
  unitMs: number,
  pollMs: number,
  workDir: string,
): Promise<BaselineRun> {
  mkdirSync(workDir, { recursive: true });
  const deps = dependents(dag);
  const open = dag.tasks.map((t) => t.blockers.length);
  let ready = dag.tasks.filter((t) => t.blockers.length === 0).map((t) => t.index);
  const times: TaskTimes[] = [];
  while (times.length < dag.tasks.length) {
    ready.sort((a, b) => a - b);
    const batch = ready.slice(0, slots);
    ready = ready.slice(slots);
    const exited: TaskTimes[] = [];
    let error: unknown;
    for (const i of batch) {
      const task = dag.tasks[i] as DagTask;
      runSim(task, task.units * unitMs, workDir).then(
        (t) => exited.push(t),
        (e: unknown) => (error = e),
      );
    }
    // Poll: is the whole batch done?
    while (exited.length < batch.length) {
      await new Promise((r) => setTimeout(r, pollMs));
      if (error !== undefined) throw error;
    }
    for (const t of exited) {
      times.push(t);
      for (const d of deps[t.index] as number[]) if (--(open[d] as number) === 0) ready.push(d);
    }
  }
  return finish(times);
}
