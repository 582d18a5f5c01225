// What a simulated agent does with a task: how long it takes, whether it fails, what it reports.
// Pure (it imports only the duration format), shared by the executor's sim preset and the standalone sim-agent program.
//
// From the task's metadata:
//   metadata.sim = { ms?: number, fail?: 0..1, failAttempts?: n, output?: string }
//     ms            duration in milliseconds
//     fail          probability of failing (exit 1)
//     failAttempts  fail attempts 1..n, then succeed (deterministic retries)
//     output        the result text
//   otherwise the estimate: metadata.tasklane.estimate seconds x scale (TASKLANE_SIM_SCALE,
//   default 1/3600: an hour of estimate takes a second), and 300-800 ms without an estimate.

import { formatDuration } from '../model/duration.js';

export interface SimTask {
  id: string;
  subject: string;
  metadata?: Record<string, unknown>;
}

export interface SimPlan {
  ms: number;
  fail: boolean;
  output: string;
}

export const DEFAULT_SIM_SCALE = 1 / 3600;

export function simPlan(task: SimTask, attempt: number, opts: { scale?: number; blockers?: string[] } = {}): SimPlan {
  const metadata = record(task.metadata);
  const sim = record(metadata.sim);
  const estimate = record(metadata.tasklane).estimate;
  const scale = opts.scale !== undefined && opts.scale > 0 ? opts.scale : DEFAULT_SIM_SCALE;
  let ms: number;
  if (typeof sim.ms === 'number' && sim.ms >= 0) ms = sim.ms;
  else if (typeof estimate === 'number' && estimate > 0) ms = estimate * 1000 * scale;
  else ms = 300 + Math.round(hash(task.id + task.subject) * 500);
  const fail =
    (typeof sim.failAttempts === 'number' && attempt <= sim.failAttempts) ||
    (typeof sim.fail === 'number' && Math.random() < sim.fail);
  const built =
    opts.blockers !== undefined && opts.blockers.length > 0
      ? ` Built on ${opts.blockers.map((b) => `#${b}`).join(', ')}.`
      : '';
  const output =
    typeof sim.output === 'string' ? sim.output : `Did "${task.subject}" (simulated, ${formatDuration(ms)}).${built}`;
  return { ms: Math.round(ms), fail, output };
}

/** TASKLANE_SIM_SCALE from an environment, if it is a positive number. */
export function simScale(env: NodeJS.ProcessEnv): number | undefined {
  const n = Number(env.TASKLANE_SIM_SCALE ?? '');
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}
