import { openStore } from '../../src/store/open.js';

// The receiving side of bench/propagation: `store.watch()` on the list, one JSON line per change
// that carries a bench tag, stamped with epoch ms when it arrived. Prints `ready` once the feed's
// starting point is taken; exits after EXPECTED tagged changes (the parent kills it otherwise).
//
//   node dist/bench/lib/change-watcher.js STORE LIST EXPECTED

const [dir, list, expected] = process.argv.slice(2) as string[];
const now = () => performance.timeOrigin + performance.now();
const store = openStore(dir as string, list as string);
const feed = store.watch();
process.stdout.write('ready\n');
let seen = 0;
for await (const change of feed) {
  const at = now();
  const tag = change.task.metadata?.bench;
  if (typeof tag !== 'string') continue;
  process.stdout.write(`${JSON.stringify({ tag, at, kind: change.kind, id: change.taskId, rev: change.rev })}\n`);
  if (++seen >= Number(expected)) break;
}
