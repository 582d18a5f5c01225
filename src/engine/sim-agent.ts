#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';

// The simulated agent, for the demo, tests and benchmarks: it takes as long as the task says,
// fails as often as the task says, and reports a result like a real agent would (to
// TASKLANE_RESULT_FILE). It loads only node:fs, so starting it costs little more than Node itself.
//
// What it does comes from the task's metadata (read from the list's files):
//   metadata.sim = { ms?: number, fail?: 0..1, failAttempts?: n, output?: string }
//     ms            duration in milliseconds
//     fail          probability of failing (exit 1)
//     failAttempts  fail the first n attempts, then succeed (deterministic retries)
//     output        the result text
//   otherwise the estimate: metadata.tasklane.estimate seconds x TASKLANE_SIM_SCALE (default 1/3600,
//   an hour of estimate takes a second), and 300-800 ms when there is no estimate.
// The duration counts from TASKLANE_STARTED_AT (when the executor spawned it), so Node's own
// start-up time is part of it and simulated durations hold in wall-clock time.

interface SimSpec {
  ms?: number;
  fail?: number;
  failAttempts?: number;
  output?: string;
}

const env = process.env;
const id = env.TASKLANE_TASK_ID ?? '?';
const attempt = Number(env.TASKLANE_ATTEMPT ?? '1') || 1;
const spawnedAt = Number(env.TASKLANE_STARTED_AT ?? '') || Date.now();

function readTask(): Record<string, unknown> | undefined {
  const dir = env.TASKLANE_DIR;
  const list = env.TASKLANE_LIST;
  if (dir === undefined || list === undefined || env.TASKLANE_TASK_ID === undefined) return undefined;
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9_-]/g, '-');
  try {
    return JSON.parse(readFileSync(`${dir}/${clean(list)}/${clean(id)}.json`, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}

const task = readTask();
const metadata = record(task?.metadata);
const sim = record(metadata.sim) as SimSpec;
const subject = typeof task?.subject === 'string' ? task.subject : `task ${id}`;
const estimate = record(metadata.tasklane).estimate;
const scale = Number(env.TASKLANE_SIM_SCALE ?? '') || 1 / 3600;
let ms: number;
if (typeof sim.ms === 'number' && sim.ms >= 0) ms = sim.ms;
else if (typeof estimate === 'number' && estimate > 0) ms = estimate * 1000 * scale;
else ms = 300 + Math.round(hash(`${env.TASKLANE_LIST}/${id}`) * 500);

const prompt = readStdin();
const blockers = [...prompt.matchAll(/^### #(\S+) /gm)].map((m) => `#${m[1]}`);
const failing =
  (typeof sim.failAttempts === 'number' && attempt <= sim.failAttempts) ||
  (typeof sim.fail === 'number' && Math.random() < sim.fail);

const left = Math.max(0, ms - (Date.now() - spawnedAt));
process.stdout.write(`sim: working on #${id} ${subject}\n`);
setTimeout(() => process.stdout.write(`sim: halfway through #${id}\n`), left / 2);
setTimeout(() => {
  if (failing) {
    process.stderr.write(`sim: simulated failure of #${id} (attempt ${attempt})\n`);
    process.exit(1);
  }
  const built = blockers.length > 0 ? ` Built on ${blockers.join(', ')}.` : '';
  const output =
    typeof sim.output === 'string' ? sim.output : `Did "${subject}" (simulated, ${Math.round(ms)} ms).${built}`;
  if (env.TASKLANE_RESULT_FILE !== undefined) writeFileSync(env.TASKLANE_RESULT_FILE, `${output}\n`);
  process.stdout.write(`sim: done with #${id}\n`);
}, left);
