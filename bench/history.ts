import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, freshDir, NODE, printMachine } from './lib/measure.js';

// Issue 7: `tasklane history` of a large journal (1 GB by default), time and peak memory, this
// build beside an older one (OLD_DIST or $BENCH_OLD_DIST, e.g. a build of main before issue 7,
// which read the journal whole; without one, this build only). Usage: node dist/bench/history.js [MB] [OLD_DIST]
// Each command runs under GNU time for its peak RSS, with a timeout; a failure is reported as
// what it was (exit status, signal, the first line of its error), not hidden.

const MB = Number(process.argv[2] ?? 1024);
const OLD_DIST = process.argv[3] ?? process.env.BENCH_OLD_DIST ?? '';
const TIMEOUT_S = Number(process.env.HISTORY_BENCH_TIMEOUT ?? 300);
const LIST = 'big';

/** Writes a journal of about `mb` MiB: ~1 KiB entries on 1,000 tasks, in 8 MiB writes. */
function writeJournal(root: string, mb: number): { lines: number; bytes: number } {
  const dir = join(root, '.tasklane', LIST);
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(root, LIST), { recursive: true });
  const fd = openSync(join(dir, 'journal.jsonl'), 'w');
  const target = mb * 1024 * 1024;
  const description = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(12);
  const kinds = ['updated', 'claimed', 'completed', 'dependency'] as const;
  let bytes = 0;
  let seq = 0;
  let chunk: string[] = [];
  let chunkLen = 0;
  while (bytes < target) {
    seq++;
    const id = String((seq % 1000) + 1);
    const task = {
      id,
      subject: `Task ${id}`,
      description,
      status: 'pending',
      blocks: [],
      blockedBy: [],
      metadata: { tasklane: { rev: Math.floor(seq / 1000) + 1, createdAt: '2026-01-01T00:00:00.000Z' } },
    };
    const entry = {
      seq,
      at: '2026-01-01T00:00:00.000Z',
      kind: seq <= 1000 ? 'created' : kinds[seq % kinds.length],
      taskId: id,
      pid: 1,
      task,
    };
    const line = `${JSON.stringify(entry)}\n`;
    chunk.push(line);
    chunkLen += line.length;
    bytes += line.length;
    if (chunkLen >= 8 * 1024 * 1024) {
      writeSync(fd, chunk.join(''));
      chunk = [];
      chunkLen = 0;
    }
  }
  if (chunk.length > 0) writeSync(fd, chunk.join(''));
  closeSync(fd);
  return { lines: seq, bytes };
}

interface Result {
  build: string;
  command: string;
  seconds: number;
  peakRssMiB: number | undefined;
  outcome: string;
}

function measure(build: string, cli: string, root: string, args: string[]): Result {
  const began = process.hrtime.bigint();
  const r = spawnSync(
    'timeout',
    [
      '-s',
      'KILL',
      String(TIMEOUT_S),
      '/usr/bin/time',
      '-f',
      'PEAK_RSS_KB %M',
      NODE,
      cli,
      '--dir',
      root,
      '--list',
      LIST,
      'history',
      ...args,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 },
  );
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  const peak = /PEAK_RSS_KB (\d+)/.exec(r.stderr ?? '');
  const errLine = (r.stderr ?? '')
    .split('\n')
    .find((l) => l.trim().length > 0 && !l.startsWith('PEAK_RSS_KB') && !l.startsWith('Command'));
  const outcome =
    r.status === 0
      ? 'ok'
      : r.status === 137 || r.signal === 'SIGKILL'
        ? `killed after the ${TIMEOUT_S} s timeout`
        : `exit ${r.status}${errLine === undefined ? '' : `: ${errLine.trim().slice(0, 160)}`}`;
  return {
    build,
    command: `tasklane history ${args.join(' ')}`.trim(),
    seconds,
    peakRssMiB: peak === null ? undefined : Number(peak[1]) / 1024,
    outcome,
  };
}

printMachine();
const root = freshDir('history');
const began = Date.now();
const made = writeJournal(root, MB);
console.log(
  `journal: ${(made.bytes / 1024 / 1024).toFixed(0)} MiB, ${made.lines} entries, written in ${((Date.now() - began) / 1000).toFixed(1)} s`,
);
const builds: [string, string][] = [['new', CLI]];
const oldCli = OLD_DIST === '' ? '' : join(OLD_DIST, 'bundle', 'main.js');
if (existsSync(oldCli)) builds.push(['old', oldCli]);
else console.log(`no old build at ${oldCli}: measuring the new build only`);
const commands = [[], ['--limit', '0', '--json'], ['7', '--limit', '20', '--json']];
const results: Result[] = [];
// Interleaved: new then old for each command, so drift hits both alike.
for (const args of commands) {
  for (const [build, cli] of builds) {
    const r = measure(build, cli, root, args);
    results.push(r);
    console.log(
      `${r.build.padEnd(4)} ${r.command.padEnd(44)} ${r.seconds.toFixed(2).padStart(8)} s  peak ${r.peakRssMiB === undefined ? '?' : r.peakRssMiB.toFixed(0).padStart(6)} MiB  ${r.outcome}`,
    );
  }
}
console.log(JSON.stringify({ journalBytes: statSync(join(root, '.tasklane', LIST, 'journal.jsonl')).size, results }));
