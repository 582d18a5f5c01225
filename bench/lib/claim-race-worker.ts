import { createInterface } from 'node:readline';

// One claiming process for bench/pg-claims: opens its system and warms its connection up, prints
// `ready`, waits for `go` on stdin (so every worker starts claiming together, Node's start-up and
// the first connection left out of the window), then claims until nothing is left and prints one
// JSON line: the ids it got and wall-clock ms (epoch) of its first claim's start and last claim's end.
//
//   node dist/bench/lib/claim-race-worker.js tasklane DESCRIPTOR LIST OWNER [STORE_MODULE]
//   node dist/bench/lib/claim-race-worker.js pgboss URL QUEUE OWNER PGBOSS_MODULE
//
// tasklane: the store's claim (the file store for a directory, PostgreSQL for postgres://), of this
// build or of the build whose store/open.js is STORE_MODULE; pgboss:
// pg-boss's fetch of one job (marks it active), the peer's equivalent of a claim.
//
//   node dist/bench/lib/claim-race-worker.js sql URL VARIANT OWNER
//
// sql: the floor, what PostgreSQL itself gives on this machine (see pg-claim-floor.ts): one
// prepared statement per claim in its own transaction, no model, no store.

const [kind, target, list, owner, module] = process.argv.slice(2) as [string, string, string, string, string?];
const now = () => performance.timeOrigin + performance.now();

async function goSignal(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'go') return;
  throw new Error('stdin closed before go');
}

const ids: string[] = [];
let firstStart = 0;
let lastEnd = 0;

if (kind === 'tasklane') {
  const { openStore } = (await import(module ?? '../../src/store/open.js')) as typeof import('../../src/store/open.js');
  const store = openStore(target, list);
  await store.stats(); // connect (and migrate) before the window
  process.stdout.write('ready\n');
  await goSignal();
  firstStart = now();
  for (;;) {
    const claim = await store.claim({ owner });
    if (claim === null) break;
    ids.push(claim.task.id);
  }
  lastEnd = now();
  await store.close();
} else if (kind === 'pgboss') {
  const { default: PgBoss } = (await import(module as string)) as {
    default: new (
      o: object,
    ) => {
      start(): Promise<unknown>;
      fetch(q: string): Promise<{ id: string; data: { n: string } }[] | null>;
      stop(o: object): Promise<void>;
    };
  };
  const boss = new PgBoss({ connectionString: target, max: 1, supervise: false, schedule: false, migrate: false });
  await boss.start();
  await boss.fetch(`${list}-warmup`).catch(() => null);
  process.stdout.write('ready\n');
  await goSignal();
  firstStart = now();
  for (;;) {
    const jobs = await boss.fetch(list);
    const job = jobs?.[0];
    if (job === undefined) break;
    ids.push(job.data.n);
  }
  lastEnd = now();
  await boss.stop({ graceful: false, wait: true });
} else if (kind === 'sql') {
  const { connectFloor } = await import('./pg-claim-floor.js');
  const claimOne = await connectFloor(target, list, owner);
  process.stdout.write('ready\n');
  await goSignal();
  firstStart = now();
  for (;;) {
    const id = await claimOne();
    if (id === undefined) break;
    ids.push(id);
  }
  lastEnd = now();
} else {
  throw new Error(`unknown kind ${kind}`);
}
process.stdout.write(`${JSON.stringify({ owner, ids, firstStart, lastEnd })}\n`);
process.exit(0);
