import { join } from 'node:path';
import { listDirName } from '../src/model/index.js';
import { child, fmtPercentiles, type LineChild, percentiles, sleep } from './lib/children.js';
import { generateTasks, writeTasklaneList } from './lib/data.js';
import { freshDir, printMachine, REPO, saveResults } from './lib/measure.js';

// Issue 3: change propagation from a write in one process to the event in another, p50 and p99
// over 1,000 changes with 8 writers; target p99 under 50 ms. One watcher process iterates
// `store.watch()`; 8 writer processes each make 125 updates to their own 8 tasks. Latency = when
// the watcher got the change minus when the writer's `update` returned (and, second figure, minus
// when it was called). Both stamps are epoch ms (performance.timeOrigin + now) on one machine.
//
// Two runs: "paced" (each writer waits a random 0-480 ms between updates, ~33 changes/s in all)
// with two polling readers beside it in the same run, standing in for the baselines: Claude
// Code's 5 s re-read and the coordinator pattern's 3-10 s polling (a change counts as seen at the
// first poll that reads its revision or a later one); and "burst" (no waits, as fast as 8
// processes on 2 cores can write), Tasklane only.
//
//   npx tsc -p . && node dist/bench/propagation.js [writers] [changes]

const writers = Number(process.argv[2] ?? 8);
const changes = Number(process.argv[3] ?? 1000);
const TASKS_PER_WRITER = 8;
const LIST = 'bench';
const lib = (name: string) => join(REPO, 'dist', 'bench', 'lib', `${name}.js`);
const now = () => performance.timeOrigin + performance.now();

interface Write {
  tag: string;
  id: string;
  rev: number;
  start: number;
  ack: number;
}
interface Seen {
  tag: string;
  at: number;
}
interface Poll {
  at: number;
  revs: Record<string, number>;
}

const fmt = fmtPercentiles;

async function run(mode: 'paced' | 'burst'): Promise<Record<string, unknown>> {
  const root = join(freshDir(`propagation-${mode}`), 'tasklane');
  writeTasklaneList(root, LIST, generateTasks(writers * TASKS_PER_WRITER, 3, 0));
  const listDir = join(root, listDirName(LIST));
  const meanGap = mode === 'paced' ? 240 : 0;

  const watcher = child([lib('change-watcher'), root, LIST, String(changes)]);
  while (!watcher.lines.includes('ready')) await sleep(5);
  const pollers: Record<string, LineChild> =
    mode === 'paced'
      ? {
          'Claude Code re-read (every 5 s)': child([lib('change-poller'), listDir, '5000', '5000', '3600000', '11']),
          'coordinator polling (every 3-10 s)': child([
            lib('change-poller'),
            listDir,
            '3000',
            '10000',
            '3600000',
            '12',
          ]),
        }
      : {};
  const each = Math.ceil(changes / writers);
  const started = now();
  const ws = Array.from({ length: writers }, (_, w) => {
    const ids = Array.from({ length: TASKS_PER_WRITER }, (_, k) => String(w * TASKS_PER_WRITER + k + 1)).join(',');
    return child([lib('change-writer'), root, LIST, `w${w}`, String(each), ids, String(meanGap), String(100 + w)]);
  });
  const codes = await Promise.all(ws.map((w) => w.done));
  if (codes.some((c) => c !== 0)) throw new Error(`a writer failed: exit codes ${codes.join(',')}`);
  const writesDone = now();
  const writes: Write[] = ws.flatMap((w) => JSON.parse(w.lines[0] as string) as Write[]);

  // Give the watcher up to 5 s, and the pollers 11 s (longer than their longest interval), to catch up.
  const watcherExit = await Promise.race([watcher.done, sleep(5000).then(() => 'timeout' as const)]);
  if (watcherExit === 'timeout') watcher.proc.kill();
  if (Object.keys(pollers).length > 0) await sleep(11_000);
  for (const p of Object.values(pollers)) p.proc.kill();
  await Promise.all(Object.values(pollers).map((p) => p.done));

  const seen = new Map<string, number>();
  let duplicates = 0;
  for (const line of watcher.lines) {
    if (line === 'ready' || line === '') continue;
    const s = JSON.parse(line) as Seen;
    if (seen.has(s.tag)) duplicates++;
    else seen.set(s.tag, s.at);
  }
  const fromAck: number[] = [];
  const fromStart: number[] = [];
  let missing = 0;
  for (const w of writes) {
    const at = seen.get(w.tag);
    if (at === undefined) {
      missing++;
      continue;
    }
    fromAck.push(at - w.ack);
    fromStart.push(at - w.start);
  }
  const spanS = (writesDone - started) / 1000;
  console.log(
    `\n[${mode}] ${writes.length} updates by ${writers} processes in ${spanS.toFixed(1)} s (${(writes.length / spanS).toFixed(0)}/s)`,
  );
  const result: Record<string, unknown> = {
    mode,
    writers,
    updates: writes.length,
    spanS,
    missing,
    duplicates,
    watchFromAck: percentiles(fromAck),
    watchFromStart: percentiles(fromStart),
    writeDuration: percentiles(writes.map((w) => w.ack - w.start)),
  };
  console.log(`tasklane store.watch(), from update returned: ${fmt(result.watchFromAck as Record<string, number>)}`);
  console.log(`tasklane store.watch(), from update called:   ${fmt(result.watchFromStart as Record<string, number>)}`);
  console.log(`  (the update call itself:                    ${fmt(result.writeDuration as Record<string, number>)})`);
  console.log(`  missing events: ${missing}, duplicates: ${duplicates}`);
  const p99 = (result.watchFromAck as Record<string, number>).p99 as number;
  console.log(`  p99 < 50 ms: ${missing === 0 && p99 < 50 ? 'MET' : 'NOT MET'}`);

  for (const [name, p] of Object.entries(pollers)) {
    const polls = p.lines.filter((l) => l !== '').map((l) => JSON.parse(l) as Poll);
    const lat: number[] = [];
    let unseen = 0;
    for (const w of writes) {
      const poll = polls.find((q) => (q.revs[w.id] ?? 0) >= w.rev);
      if (poll === undefined) unseen++;
      else lat.push(poll.at - w.ack);
    }
    const pc = percentiles(lat);
    result[name] = { ...pc, polls: polls.length, unseen };
    console.log(`${name}: ${fmt(pc)} (${polls.length} polls; ${unseen} changes not yet seen when stopped)`);
  }
  return result;
}

const machineInfo = printMachine();
const results = [await run('paced'), await run('burst')];
console.log(`results: ${saveResults(`propagation-${writers}x${changes}`, { machine: machineInfo, results })}`);
