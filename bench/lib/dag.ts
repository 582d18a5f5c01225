import { rng } from './data.js';

// Seeded random task graphs for the executor benchmark, their lower bound, and what three
// scheduling policies would make of them with no overhead at all (a discrete-event model), so
// the measured runs can be split into "the policy" and "the cost of running it for real".

export interface DagTask {
  /** 0-based position; tasks are created in this order (a topological order), so it is also id order. */
  index: number;
  /** Duration in time units (1..10). */
  units: number;
  /** Indexes of earlier tasks this one waits on. */
  blockers: number[];
}

export interface Dag {
  seed: number;
  layers: number;
  tasks: DagTask[];
}

/**
 * A layered random DAG: `n` tasks spread over 12..30 layers (each layer at least one task), every
 * task after the first layer waits on 1..3 tasks, each from the layer just before with
 * probability 0.7, else from any earlier layer. Durations uniform in 1..10 units.
 */
export function randomDag(n: number, seed: number): Dag {
  const r = rng(seed);
  const layers = 12 + Math.floor(r() * 19);
  const layerOf: number[] = [];
  for (let l = 0; l < layers && l < n; l++) layerOf.push(l);
  while (layerOf.length < n) layerOf.push(Math.floor(r() * layers));
  layerOf.sort((a, b) => a - b);
  const byLayer: number[][] = Array.from({ length: layers }, () => []);
  for (const [i, l] of layerOf.entries()) byLayer[l]?.push(i);
  const tasks: DagTask[] = layerOf.map((layer, index) => {
    const units = 1 + Math.floor(r() * 10);
    const blockers = new Set<number>();
    if (layer > 0) {
      const k = 1 + Math.floor(r() * 3);
      for (let j = 0; j < k; j++) {
        const from = r() < 0.7 ? layer - 1 : Math.floor(r() * layer);
        const pool = byLayer[from] as number[];
        blockers.add(pool[Math.floor(r() * pool.length)] as number);
      }
    }
    return { index, units, blockers: [...blockers].sort((a, b) => a - b) };
  });
  return { seed, layers, tasks };
}

/** Dependents of each task, in index order. */
export function dependents(dag: Dag): number[][] {
  const out: number[][] = dag.tasks.map(() => []);
  for (const t of dag.tasks) for (const b of t.blockers) out[b]?.push(t.index);
  return out;
}

/** For each task, its duration plus the longest chain after it (what Tasklane's critical-path order uses). */
export function bottomLevels(dag: Dag): number[] {
  const deps = dependents(dag);
  const level: number[] = new Array(dag.tasks.length).fill(0);
  for (let i = dag.tasks.length - 1; i >= 0; i--) {
    const after = Math.max(0, ...(deps[i] as number[]).map((d) => level[d] as number));
    level[i] = (dag.tasks[i] as DagTask).units + after;
  }
  return level;
}

export interface Bounds {
  criticalPath: number;
  work: number;
  /** max(critical path, work / slots), in units. */
  lowerBound: number;
}

export function bounds(dag: Dag, slots: number): Bounds {
  const criticalPath = Math.max(...bottomLevels(dag));
  const work = dag.tasks.reduce((s, t) => s + t.units, 0);
  return { criticalPath, work, lowerBound: Math.max(criticalPath, work / slots) };
}

export type Policy = 'critical-path' | 'fifo' | 'batch-poll';

/**
 * Removes and returns the task to start next from a non-empty ready queue: critical-path, the
 * longest remaining path (`levels`, from bottomLevels) then the lowest index; otherwise the first.
 */
export function takeNext(ready: number[], levels: number[], order: Policy): number {
  let best = 0;
  if (order === 'critical-path') {
    for (let k = 1; k < ready.length; k++) {
      const a = ready[k] as number;
      const b = ready[best] as number;
      if ((levels[a] as number) > (levels[b] as number) || (levels[a] === levels[b] && a < b)) best = k;
    }
  }
  return ready.splice(best, 1)[0] as number;
}

/**
 * The makespan a policy reaches with zero overhead, in units. critical-path: list scheduling,
 * ready tasks by longest remaining path then id (Tasklane's order). fifo: ready tasks in the
 * order they became ready, ties by id. batch-poll: up to `slots` ready tasks by id, the next
 * batch only once the whole batch is done and a poll (every `pollUnits`) has seen it.
 */
export function modelMakespan(dag: Dag, slots: number, policy: Policy, pollUnits = 0): number {
  return modelSchedule(dag, slots, policy, pollUnits).makespan;
}

/** The same model, with each task's start (units; batch-poll leaves them out). */
export function modelSchedule(
  dag: Dag,
  slots: number,
  policy: Policy,
  pollUnits = 0,
): { makespan: number; starts: number[] } {
  const n = dag.tasks.length;
  const deps = dependents(dag);
  const levels = bottomLevels(dag);
  const open = dag.tasks.map((t) => t.blockers.length);
  let ready = dag.tasks.filter((t) => t.blockers.length === 0).map((t) => t.index);
  let now = 0;
  let done = 0;
  if (policy === 'batch-poll') {
    while (done < n) {
      ready.sort((a, b) => a - b);
      const batch = ready.slice(0, slots);
      ready = ready.slice(slots);
      const longest = Math.max(...batch.map((i) => (dag.tasks[i] as DagTask).units));
      const end = now + longest;
      // Polls at now + pollUnits, now + 2 pollUnits... the first one at or after the batch ends.
      const seen = pollUnits > 0 ? now + Math.ceil(longest / pollUnits) * pollUnits : end;
      for (const i of batch) {
        done++;
        for (const d of deps[i] as number[]) if (--(open[d] as number) === 0) ready.push(d);
      }
      now = done === n ? end : seen;
    }
    return { makespan: now, starts: [] };
  }
  // Event-driven list scheduling.
  const running: { index: number; end: number }[] = [];
  const starts: number[] = new Array(n).fill(0);
  const pick = (): number | undefined => (ready.length === 0 ? undefined : takeNext(ready, levels, policy));
  while (done < n) {
    while (running.length < slots) {
      const i = pick();
      if (i === undefined) break;
      starts[i] = now;
      running.push({ index: i, end: now + (dag.tasks[i] as DagTask).units });
    }
    running.sort((a, b) => a.end - b.end || a.index - b.index);
    const first = running[0] as { end: number };
    now = first.end;
    const finished = running.filter((r) => r.end === now).sort((a, b) => a.index - b.index);
    running.splice(0, finished.length);
    for (const f of finished) {
      done++;
      for (const d of deps[f.index] as number[]) if (--(open[d] as number) === 0) ready.push(d);
    }
  }
  return { makespan: now, starts };
}
