import { type ChildProcess, spawn } from 'node:child_process';
import { NODE } from './measure.js';

// Child processes that print lines, and latency percentiles: shared by the propagation benchmarks.

export interface LineChild {
  proc: ChildProcess;
  /** Every complete stdout line so far. */
  lines: string[];
  done: Promise<number | null>;
}

/** Starts `node ARGS` and collects its stdout lines. */
export function child(args: string[]): LineChild {
  const proc = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  const done = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { proc, lines, done };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentiles(xs: number[]): Record<string, number> {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1] ?? Number.NaN };
}

export const fmtPercentiles = (p: Record<string, number>): string =>
  `n=${p.n} p50 ${p.p50?.toFixed(1)} ms, p90 ${p.p90?.toFixed(1)} ms, p99 ${p.p99?.toFixed(1)} ms, max ${p.max?.toFixed(1)} ms`;
