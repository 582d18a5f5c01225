import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Shared plumbing for the benchmarks: where work files go, the machine description, hyperfine
// with JSON export, peak memory with GNU time, and Backlog.md (the peer) installed on demand.

/** The repository root, or the frozen copy made by bench/snapshot.sh (this file runs from dist/bench/lib/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** Ignored by git: generated lists, the peer's install, raw results. BENCH_WORK when run from a snapshot. */
export const WORK = process.env.BENCH_WORK ?? join(REPO, 'bench', '.work');
export const CLI = join(REPO, 'dist', 'bundle', 'main.js');
export const NODE = process.execPath;

export const BACKLOG_VERSION = '1.52.0';
const BACKLOG_PREFIX = join(WORK, 'backlog');
/** The prebuilt Bun binary that `backlog` runs. */
export const BACKLOG_BIN = join(BACKLOG_PREFIX, 'node_modules', 'backlog.md-linux-x64', 'backlog');
/** The npm `backlog` command: a Node script that spawns the binary (what `npm i -g backlog.md` puts on PATH). */
export const BACKLOG_WRAPPER = join(BACKLOG_PREFIX, 'node_modules', 'backlog.md', 'cli.js');

/** The environment variable this machine sets that slows every Node start (see BENCHMARKS.md). */
export const CA_VAR = 'NODE_EXTRA_CA_CERTS';

/** A fresh, empty directory under bench/.work. */
export function freshDir(name: string): string {
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function machine(): Record<string, string> {
  const cpu = cpus();
  const hf = spawnSync('hyperfine', ['--version'], { encoding: 'utf8' });
  return {
    cores: String(cpu.length),
    cpu: cpu[0]?.model ?? 'unknown',
    node: process.version,
    kernel: release(),
    hyperfine: hf.status === 0 ? hf.stdout.trim() : 'missing',
    [CA_VAR]: process.env[CA_VAR] ?? '(unset)',
    load: load(),
    build: build(),
  };
}

/** What was measured: the snapshot's source commit and changed files (bench/snapshot.sh), else "dist/ as is". */
function build(): string {
  try {
    return readFileSync(join(REPO, 'BUILD'), 'utf8').trim().replace(/\n/g, '; ');
  } catch {
    return 'dist/ as is (not a snapshot)';
  }
}

/** The 1, 5 and 15 minute load averages: on 2 shared cores, anything near 2 or above inflates every figure. */
export function load(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

export function printMachine(): Record<string, string> {
  const m = machine();
  console.log(
    Object.entries(m)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
  );
  return m;
}

export interface Timing {
  name: string;
  command: string;
  runs: number;
  /** Seconds. */
  mean: number;
  stddev: number;
  median: number;
  min: number;
  max: number;
}

export interface HyperfineOptions {
  cwd?: string;
  warmup?: number;
  runs?: number;
  /** Run before every timed run (e.g. copy a fresh list). Forces a shell-less run off. */
  prepare?: string;
}

/** Runs hyperfine once over all commands (side by side, same run), without a shell, and reads its JSON. */
export function hyperfine(commands: { name: string; command: string }[], opts: HyperfineOptions = {}): Timing[] {
  const out = join(WORK, `hyperfine-${process.pid}.json`);
  const args = ['-N', '--style', 'basic', '--warmup', String(opts.warmup ?? 3), '--runs', String(opts.runs ?? 20)];
  args.push('--export-json', out);
  if (opts.prepare !== undefined) args.push('--prepare', opts.prepare);
  for (const c of commands) args.push('-n', c.name, c.command);
  execFileSync('hyperfine', args, { cwd: opts.cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  const json = JSON.parse(readFileSync(out, 'utf8')) as {
    results: {
      command: string;
      mean: number;
      stddev: number;
      median: number;
      min: number;
      max: number;
      times: number[];
    }[];
  };
  rmSync(out, { force: true });
  return json.results.map((r, i) => ({
    name: commands[i]?.name ?? r.command,
    command: commands[i]?.command ?? r.command,
    runs: r.times.length,
    mean: r.mean,
    stddev: r.stddev,
    median: r.median,
    min: r.min,
    max: r.max,
  }));
}

/** Peak resident set size in KB of `argv` (GNU time's %M), once per run. */
export function peakMemoryKb(argv: string[], runs: number, cwd?: string): number[] {
  const kb: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { cwd, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    const last = r.stderr.trim().split('\n').pop() ?? '';
    kb.push(Number.parseInt(last, 10));
  }
  return kb;
}

export const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;
export const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Prints one line per timing, with the ratio to `base` when given. */
export function printTimings(timings: Timing[], base?: string): void {
  const ref = timings.find((t) => t.name === base);
  const width = Math.max(...timings.map((t) => t.name.length));
  for (const t of timings) {
    const ratio = ref === undefined ? '' : `  ${(t.mean / ref.mean).toFixed(2)}x ${ref.name}`;
    console.log(
      `${t.name.padEnd(width)}  mean ${ms(t.mean)} ± ${ms(t.stddev)}  median ${ms(t.median)}  min ${ms(t.min)}  max ${ms(t.max)}  (${t.runs} runs)${ratio}`,
    );
  }
}

/** Saves a benchmark's figures as bench/.work/results/<name>.json for BENCHMARKS.md. */
export function saveResults(name: string, data: unknown): string {
  const dir = join(WORK, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const at = new Date().toISOString();
  console.log(`load average at the end (1/5/15 min): ${load()}`);
  writeFileSync(file, `${JSON.stringify({ at, loadAtEnd: load(), ...(data as object) }, null, 2)}\n`);
  return file;
}

/** Installs Backlog.md into bench/.work/backlog with npm if it is not there yet. */
export function ensureBacklog(): void {
  if (existsSync(BACKLOG_BIN)) return;
  console.log(`installing backlog.md@${BACKLOG_VERSION} into ${BACKLOG_PREFIX} ...`);
  execFileSync('npm', ['install', '--prefix', BACKLOG_PREFIX, `backlog.md@${BACKLOG_VERSION}`], { stdio: 'inherit' });
}

/** A git repository with an initialized Backlog.md project that never touches the network or other branches. */
export function initBacklogRepo(dir: string): void {
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: 'ignore' });
  run('git', ['init', '-q']);
  run(BACKLOG_BIN, ['init', 'bench', '--defaults']);
  run(BACKLOG_BIN, ['config', 'set', 'remoteOperations', 'false']);
  run(BACKLOG_BIN, ['config', 'set', 'checkActiveBranches', 'false']);
}

/** Commits everything in a repo, as a project keeping its backlog in git would have it. */
export function commitAll(dir: string): void {
  const git = (args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], {
      cwd: dir,
      stdio: 'ignore',
    });
  git(['add', '-A']);
  git(['commit', '-q', '-m', 'tasks']);
}
