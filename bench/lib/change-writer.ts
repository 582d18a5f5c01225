import { revisionOf } from '../../src/model/index.js';
import { openStore } from '../../src/store/open.js';
import { rng } from './data.js';

// One writer for bench/propagation: updates its own tasks COUNT times (round robin), waiting a
// random gap (uniform 0 to 2 x MEAN_GAP ms; 0 = as fast as it can) between updates. Each update
// tags the task (metadata.bench) so the watcher can match the event to it. Prints one JSON line:
// for each update its tag, task, revision, and epoch ms when the call started and returned.
//
//   node dist/bench/lib/change-writer.js STORE LIST NAME COUNT IDS(comma) MEAN_GAP_MS SEED

const [dir, list, name, count, ids, gap, seed] = process.argv.slice(2) as string[];
const taskIds = (ids as string).split(',');
const meanGap = Number(gap);
const rand = rng(Number(seed));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const store = openStore(dir as string, list as string);
const writes: { tag: string; id: string; rev: number; start: number; ack: number }[] = [];
for (let k = 0; k < Number(count); k++) {
  if (meanGap > 0) await sleep(rand() * 2 * meanGap);
  const id = taskIds[k % taskIds.length] as string;
  const tag = `${name}-${k}`;
  const start = now();
  const task = await store.update(id, { metadata: { bench: tag } });
  const ack = now();
  const rev = revisionOf(task);
  writes.push({ tag, id, rev, start, ack });
}
process.stdout.write(`${JSON.stringify(writes)}\n`);
