import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { FileStore } from '../src/store/file/file-store.js';
import { openStore } from '../src/store/open.js';
import { freshDir, NODE, printMachine, REPO } from './lib/measure.js';

// Issue 7, Build 7 (one shared feed per list in a process): the CPU time one process spends
// following a 2,000-task list with 1 and with 20 subscribers (store.watch()), over a fixed window
// while another writer changes a task every 200 ms. This build beside an older one (OLD_DIST, e.g.
// a build of main before the shared feed, where every subscriber rescanned the list on its own);
// old and new interleaved in every round, the order rotating from round to round.
//
//   node dist/bench/feed-subscribers.js [SECONDS=10] [ROUNDS=3] [OLD_DIST]

const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 3);
const OLD_DIST = process.argv[4] ?? process.env.BENCH_OLD_DIST ?? '';
const TASKS = 2000;
const LIST = 'feed';
const WRITE_EVERY_MS = 200;
const WARMUP_MS = 1500;

interface Sample {
  build: string;
  subscribers: number;
  cpuMs: number;
  /** Changes each subscriber received in the window (min and max over subscribers). */
  changes: [number, number];
  rssMiB: number;
}

/** One child: `n` subscribers on the list, CPU time (user + system) over the window after a warm-up. */
function child(dist: string, root: string, n: number): Promise<Omit<Sample, 'build'>> {
  const script = `
    import { openStore } from ${JSON.stringify(join(dist, 'src/store/open.js'))};
    const store = openStore({ dir: ${JSON.stringify(root)}, list: ${JSON.stringify(LIST)} });
    const counts = new Array(${n}).fill(0);
    let counting = false;
    const controllers = counts.map(() => new AbortController());
    for (let i = 0; i < ${n}; i++) {
      (async () => {
        for await (const _ of store.watch({ signal: controllers[i].signal })) if (counting) counts[i]++;
      })();
    }
    await new Promise((r) => setTimeout(r, ${WARMUP_MS}));
    counting = true;
    const before = process.cpuUsage();
    await new Promise((r) => setTimeout(r, ${SECONDS * 1000}));
    const used = process.cpuUsage(before);
    counting = false;
    console.log(JSON.stringify({
      subscribers: ${n},
      cpuMs: (used.user + used.system) / 1000,
      changes: [Math.min(...counts), Math.max(...counts)],
      rssMiB: process.memoryUsage().rss / 1048576,
    }));
    for (const c of controllers) c.abort();
    process.exit(0);
  `;
  const proc = spawn(NODE, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`the measuring child failed (code ${code}): ${out}`));
    });
  });
}

/** Runs `fn` while changing one task every WRITE_EVERY_MS. */
async function withWriter<T>(store: FileStore, fn: () => Promise<T>): Promise<T> {
  let stop = false;
  let i = 0;
  const writer = (async () => {
    while (!stop) {
      i++;
      await store.update(String((i % TASKS) + 1), { subject: `task ${(i % TASKS) + 1}, edit ${i}` });
      await new Promise((r) => setTimeout(r, WRITE_EVERY_MS));
    }
  })();
  try {
    return await fn();
  } finally {
    stop = true;
    await writer;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  printMachine();
  const root = freshDir('feed-subscribers');
  const store = openStore({ dir: root, list: LIST }) as FileStore;
  process.stdout.write(`creating ${TASKS} tasks... `);
  for (let i = 1; i <= TASKS; i++) {
    await store.create({ subject: `task ${i}`, description: `The ${i}th task of the feed benchmark.` });
  }
  console.log('done');
  const builds: { name: string; dist: string }[] = [{ name: 'new', dist: join(REPO, 'dist') }];
  if (OLD_DIST !== '') builds.unshift({ name: 'old', dist: OLD_DIST });
  const runs: { build: string; dist: string; n: number }[] = [];
  for (const b of builds) for (const n of [1, 20]) runs.push({ build: b.name, dist: b.dist, n });
  const samples: (Sample & { round: number })[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = runs.map((_, i) => runs[(i + round) % runs.length] as (typeof runs)[number]);
    for (const r of order) {
      const s = await withWriter(store, () => child(r.dist, root, r.n));
      samples.push({ ...s, build: r.build, round });
      console.log(
        `round ${round + 1}: ${r.build} build, ${String(r.n).padStart(2)} subscribers: ${s.cpuMs.toFixed(0)} ms CPU in ${SECONDS} s, ` +
          `${s.changes[0]}-${s.changes[1]} changes each, rss ${s.rssMiB.toFixed(0)} MiB`,
      );
    }
  }
  console.log(`\nmedian CPU ms over ${SECONDS} s (${ROUNDS} rounds), and ratios taken within a round then medianed:`);
  const cpu = (build: string, n: number, round: number) =>
    samples.find((s) => s.build === build && s.subscribers === n && s.round === round)?.cpuMs ?? Number.NaN;
  const rounds = Array.from({ length: ROUNDS }, (_, i) => i);
  for (const b of builds) {
    const one = median(rounds.map((r) => cpu(b.name, 1, r)));
    const twenty = median(rounds.map((r) => cpu(b.name, 20, r)));
    const ratio = median(rounds.map((r) => cpu(b.name, 20, r) / cpu(b.name, 1, r)));
    console.log(
      `${b.name}: 1 subscriber ${one.toFixed(0)} ms, 20 subscribers ${twenty.toFixed(0)} ms, 20/1 ${ratio.toFixed(2)}x`,
    );
  }
  if (builds.length === 2) {
    for (const n of [1, 20]) {
      const ratio = median(rounds.map((r) => cpu('new', n, r) / cpu('old', n, r)));
      console.log(`new / old, ${n} subscriber(s): ${ratio.toFixed(2)}x`);
    }
  }
}

await main();
