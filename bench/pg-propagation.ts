import { join } from 'node:path';
import { openStore } from '../src/store/open.js';
import { startPostgres } from '../test/pg-server.js';
import { child, fmtPercentiles, percentiles, sleep } from './lib/children.js';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { freshDir, median, printMachine, REPO, saveResults } from './lib/measure.js';

// Issue 10: change propagation between two processes, p50/p99, on the PostgreSQL store beside the
// file store, interleaved in one run. One writer process updates 8 tasks COUNT times with random
// gaps (uniform 0-40 ms); one watcher process iterates `store.watch()`. Latency = when the watcher
// got the change minus when the writer's `update` returned (epoch ms on one machine). PostgreSQL
// is measured twice: as shipped (LISTEN/NOTIFY), and with NOTIFY left out (TASKLANE_PG_NO_NOTIFY=1
// in the writer), which leaves the watcher its polling floor. Target: p99 under 50 ms.
//
//   npx tsc -p . && node dist/bench/pg-propagation.js [changes] [rounds]

const changes = Number(process.argv[2] ?? 300);
const rounds = Number(process.argv[3] ?? 3);
const LIST = 'bench';
const TASKS = 8;
const lib = (name: string) => join(REPO, 'dist', 'bench', 'lib', `${name}.js`);
type System = 'file' | 'postgres' | 'postgres, NOTIFY left out';
const systems: System[] = ['file', 'postgres', 'postgres, NOTIFY left out'];

const machineInfo = printMachine();
const pgServer = await startPostgres();

async function target(system: System, round: number): Promise<string> {
  const dir = freshDir(`pg-propagation-${round}-${system === 'file' ? 'file' : 'src'}`);
  writeTasklaneList(dir, LIST, generateTasks(TASKS, 3, 0));
  if (system === 'file') return dir;
  const url = await pgServer.createDatabase(`propagation_${round}_${system === 'postgres' ? 'notify' : 'poll'}`);
  const from = openStore(dir, LIST);
  const into = openStore(url, LIST);
  await into.importList(from.exportList());
  await Promise.all([from.close(), into.close()]);
  return url;
}

interface Row {
  system: System;
  round: number;
  p50: number;
  p99: number;
  missing: number;
}
const rows: Row[] = [];
try {
  console.log(`\n${changes} changes by one writer to one watcher, ${rounds} rounds\n`);
  for (let round = 0; round < rounds; round++) {
    for (const system of systems.map((_, i) => systems[(i + round) % systems.length] as System)) {
      const store = await target(system, round);
      const watcher = child([lib('change-watcher'), store, LIST, String(changes)]);
      while (!watcher.lines.includes('ready')) await sleep(5);
      await sleep(300); // the watcher's LISTEN (or first scan) is set up after `ready`
      if (system === 'postgres, NOTIFY left out') process.env.TASKLANE_PG_NO_NOTIFY = '1';
      const ids = Array.from({ length: TASKS }, (_, k) => String(k + 1)).join(',');
      const writer = child([lib('change-writer'), store, LIST, 'w', String(changes), ids, '20', String(round)]);
      delete process.env.TASKLANE_PG_NO_NOTIFY;
      if ((await writer.done) !== 0) throw new Error(`${system}: the writer failed`);
      const exit = await Promise.race([watcher.done, sleep(5000).then(() => 'timeout' as const)]);
      if (exit === 'timeout') watcher.proc.kill();
      const seen = new Map<string, number>();
      for (const line of watcher.lines) {
        if (line === 'ready' || line === '') continue;
        const s = JSON.parse(line) as { tag: string; at: number };
        if (!seen.has(s.tag)) seen.set(s.tag, s.at);
      }
      const writes = JSON.parse(writer.lines[0] as string) as { tag: string; ack: number }[];
      const lat = writes.flatMap((w) => (seen.has(w.tag) ? [(seen.get(w.tag) as number) - w.ack] : []));
      const p = percentiles(lat);
      const missing = writes.length - lat.length;
      rows.push({ system, round, p50: p.p50 as number, p99: p.p99 as number, missing });
      console.log(`round ${round} ${system.padEnd(26)} ${fmtPercentiles(p)}, missing ${missing}`);
    }
  }
} finally {
  await pgServer.stop();
}
console.log('\nMedian over rounds:');
for (const s of systems) {
  const mine = rows.filter((r) => r.system === s);
  const p99 = median(mine.map((r) => r.p99));
  console.log(
    `  ${s.padEnd(26)} p50 ${median(mine.map((r) => r.p50)).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, missing ${mine.reduce((a, r) => a + r.missing, 0)}${s === 'postgres' ? ` (p99 < 50 ms: ${p99 < 50 ? 'MET' : 'NOT MET'})` : ''}`,
  );
}
console.log(`results: ${saveResults(`pg-propagation-${changes}`, { machine: machineInfo, changes, rounds, rows })}`);
