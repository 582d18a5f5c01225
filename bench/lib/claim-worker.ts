import { pathToFileURL } from 'node:url';
import type { openStore as OpenStore } from '../../src/store/open.js';

// One claiming process for bench/claims: claims the best ready task until none is left, then
// prints one JSON line: the ids it got and wall-clock ms (epoch) of its first claim's start and
// its last claim's end, so the parent can time the claim window apart from Node's start-up.
// STORE_MODULE is the built store to measure (a file exporting openStore); default this build's.
//
//   node dist/bench/lib/claim-worker.js DIR LIST OWNER [STORE_MODULE]

const [dir, list, owner, storeModule] = process.argv.slice(2) as [string, string, string, string | undefined];
const now = () => performance.timeOrigin + performance.now();
const { openStore } = (await import(
  storeModule === undefined ? '../../src/store/open.js' : pathToFileURL(storeModule).href
)) as { openStore: typeof OpenStore };
const store = openStore({ dir, list });
const ids: string[] = [];
const firstStart = now();
for (;;) {
  const claim = await store.claim({ owner });
  if (claim === null) break;
  ids.push(claim.task.id);
}
const lastEnd = now();
await store.close();
process.stdout.write(
  `${JSON.stringify({ owner, ids, firstStart, lastEnd, loaded: firstStart - performance.timeOrigin })}\n`,
);
