import { scanList } from '../../src/store/file/task-files.js';
import { rng } from './data.js';

// A polling reader for bench/propagation, standing in for the baselines: Claude Code's periodic
// re-read of the task directory (every 5 s) and the coordinator pattern (an agent that re-reads
// the list every 3 to 10 s). Reads the whole list every MIN..MAX ms (uniform) from a random phase
// and prints one JSON line a poll: epoch ms when the read finished and each task's revision.
//
//   node dist/bench/lib/change-poller.js LISTDIR MIN_MS MAX_MS DURATION_MS SEED

const [listDir, min, max, duration, seed] = process.argv.slice(2) as string[];
const rand = rng(Number(seed));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const interval = () => Number(min) + rand() * (Number(max) - Number(min));
const end = now() + Number(duration);
await sleep(rand() * interval());
while (now() < end) {
  const { tasks } = scanList(listDir as string);
  const revs: Record<string, number> = {};
  for (const [id, t] of tasks) revs[id] = (t.metadata?.tasklane as { rev?: number } | undefined)?.rev ?? 0;
  process.stdout.write(`${JSON.stringify({ at: now(), revs })}\n`);
  await sleep(interval());
}
