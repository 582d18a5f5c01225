import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, load, NODE, printMachine, REPO, saveResults } from './lib/measure.js';

// Issue 7, what the claims target could reach on this machine at all: a claim's system calls
// alone (lock symlink, temp file, fdatasync, rename, directory fsync, unlock, journal append and
// fdatasync), in 1, 2 and N processes started together over one directory, timed after start-up.
// Two variants: the journal appended without a lock (O_APPEND), and under a lock taken by
// retrying symlink() at once. Rounds alternate the variants and process counts.
//
//   npx tsc -p . && node dist/bench/claim-syscalls.js [tasks] [rounds] [procs]
//   (defaults 2000 tasks, 4 rounds, 8 processes)

const total = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 4);
const procs = Number(process.argv[4] ?? 8);
const worker = join(REPO, 'dist', 'bench', 'lib', 'syscall-claimer.js');
const base = freshDir('claim-syscalls');
type Mode = 'unlocked' | 'locked';

async function run(mode: Mode, n: number): Promise<number> {
  const dir = join(base, `${mode}-${n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (let i = 0; i < total; i++) writeFileSync(join(dir, `${i}.json`), 'y'.repeat(600));
  const startAt = Date.now() + 600; // after every process has started
  const times = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<number>((resolve, reject) => {
          const child = spawn(NODE, [
            worker,
            dir,
            String(i),
            String(Math.floor(total / n)),
            String(n),
            String(startAt),
            mode,
          ]);
          let out = '';
          child.stdout.on('data', (c: Buffer) => (out += c));
          child.on('close', (code) =>
            code === 0 ? resolve((JSON.parse(out) as { ms: number }).ms) : reject(new Error(`exit ${code}`)),
          );
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  return ((Math.floor(total / n) * n) / Math.max(...times)) * 1000;
}

const machine = printMachine();
const results: { round: number; mode: Mode; perSecond: Record<number, number>; load: string }[] = [];
for (let round = 0; round < rounds; round++) {
  for (const mode of (round % 2 === 0 ? ['unlocked', 'locked'] : ['locked', 'unlocked']) as Mode[]) {
    const perSecond: Record<number, number> = {};
    for (const n of round % 2 === 0 ? [1, procs, 2] : [2, procs, 1]) perSecond[n] = await run(mode, n);
    const one = perSecond[1] as number;
    results.push({ round, mode, perSecond, load: load() });
    console.log(
      `round ${round + 1} ${mode.padEnd(8)} 1: ${one.toFixed(0)}/s  2: ${(perSecond[2] as number).toFixed(0)}/s  ${procs}: ${(perSecond[procs] as number).toFixed(0)}/s  ` +
        `${procs}/1 ${((perSecond[procs] as number) / one).toFixed(2)}x  2/1 ${((perSecond[2] as number) / one).toFixed(2)}x  (load ${load()})`,
    );
  }
}
console.log(`results: ${saveResults(`claim-syscalls-${procs}x${total}`, { machine, total, procs, rounds, results })}`);
