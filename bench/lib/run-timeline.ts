import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Task, tasklaneFields } from '../../src/model/index.js';
import { median } from './measure.js';

// What happened to each task of a finished `tasklane run --preset sim`, read from what the run
// left behind (so any build can be measured the same way, with nothing added to the engine):
//   claim       metadata.tasklane.startedAt (the claim's write)
//   spawn       the time in the log's last header line, written just before the agent is spawned
//   agentEnd    the mtime of the task's result file: the sim agent writes it as its last act
//   completed   metadata.tasklane.completedAt (the completion's write)
//   slot        the slot in the owner named by the header (run:HOST:PID:SLOT)
// From these, the delays the engine adds between one agent's end and the next agent's start.

export interface TaskTimeline {
  id: string;
  blockedBy: string[];
  claim: number;
  spawn: number;
  agentEnd: number;
  completed: number;
  slot: string;
  simMs: number;
}

const HEADER = /^--- tasklane: task \S+ attempt \d+ by (\S+) at (\S+)$/gm;

/** Every task's times; `artifactsDir` is where the run kept logs/ and results/. */
export function readTimeline(tasks: Task[], artifactsDir: string): Map<string, TaskTimeline> {
  const out = new Map<string, TaskTimeline>();
  for (const task of tasks) {
    const f = tasklaneFields(task);
    const log = readFileSync(join(artifactsDir, 'logs', `${task.id}.log`), 'utf8');
    const header = [...log.matchAll(HEADER)].pop();
    if (header === undefined || f.startedAt === undefined || f.completedAt === undefined) {
      throw new Error(`task ${task.id}: no log header or no claim/completion time`);
    }
    const owner = header[1] as string;
    const sim = (task.metadata?.sim ?? {}) as { ms?: number };
    out.set(task.id, {
      id: task.id,
      blockedBy: task.blockedBy,
      claim: Date.parse(f.startedAt),
      spawn: Date.parse(header[2] as string),
      agentEnd: statSync(join(artifactsDir, 'results', `${task.id}.md`)).mtimeMs,
      completed: Date.parse(f.completedAt),
      slot: owner.slice(owner.lastIndexOf(':') + 1),
      simMs: sim.ms ?? 0,
    });
  }
  return out;
}

export interface Spread {
  median: number;
  p90: number;
  max: number;
}

export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))] as number;
  return { median: Math.round(median(s)), p90: Math.round(at(0.9)), max: Math.round(s[s.length - 1] ?? 0) };
}

export interface LatencyFigures {
  /** Claim minus the latest completion among the blockers (the figure issue 8 quotes: includes waiting for a slot). */
  claimAfterBlockers: Spread;
  /**
   * The dependent's spawn minus the moment it could have started on the slot it got: the later of
   * its last blocker's agent ending and the agent before it on that slot ending. What the engine
   * adds between one agent's exit and the next agent's spawn, without any wait for a slot.
   */
  dependentStart: Spread;
  /** Per task: agent exit to the completion's write. */
  exitToCompleted: Spread;
  /** Per task: claim to spawn (reading blockers, worktree, prompt). */
  claimToSpawn: Spread;
  /** Per task: spawn to the agent's end beyond its simulated duration (the agent's own start: fork, exec, sh, sleep). */
  agentOwnStart: Spread;
}

export function latencyFigures(timeline: Map<string, TaskTimeline>): LatencyFigures {
  const previousOnSlot = new Map<string, TaskTimeline | undefined>();
  const bySlot = new Map<string, TaskTimeline[]>();
  for (const t of timeline.values()) bySlot.set(t.slot, [...(bySlot.get(t.slot) ?? []), t]);
  for (const list of bySlot.values()) {
    list.sort((a, b) => a.spawn - b.spawn);
    for (const [i, t] of list.entries()) previousOnSlot.set(t.id, list[i - 1]);
  }
  const claimAfter: number[] = [];
  const depStart: number[] = [];
  for (const t of timeline.values()) {
    const blockers = t.blockedBy.map((b) => timeline.get(b)).filter((b) => b !== undefined);
    if (blockers.length === 0) continue;
    claimAfter.push(t.claim - Math.max(...blockers.map((b) => b.completed)));
    const ready = Math.max(...blockers.map((b) => b.agentEnd));
    depStart.push(t.spawn - Math.max(ready, previousOnSlot.get(t.id)?.agentEnd ?? 0));
  }
  const all = [...timeline.values()];
  return {
    claimAfterBlockers: spread(claimAfter),
    dependentStart: spread(depStart),
    exitToCompleted: spread(all.map((t) => t.completed - t.agentEnd)),
    claimToSpawn: spread(all.map((t) => t.spawn - t.claim)),
    agentOwnStart: spread(all.map((t) => t.agentEnd - t.spawn - t.simMs)),
  };
}
