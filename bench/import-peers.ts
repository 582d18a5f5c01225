import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, freshDir, NODE, printMachine, WORK } from './lib/measure.js';

// Issue 11: `tasklane import --from FORMAT` of 5,000 tasks from each peer's format into the file
// store, wall time and peak memory (GNU time), median of RUNS runs, each into a fresh directory;
// and `--dry-run` (read, map and check, no write) to show what the write itself costs. A
// Tasklane export of the same 5,000 tasks is the baseline. The inputs are generated here, in each
// peer's own shape (the fixtures in test/fixtures/peers show what the peers write), with a
// dependency or two on earlier tasks, text of a few hundred bytes, a status mix.
// Usage: node dist/bench/import-peers.js [TASKS] [RUNS]

const N = Number(process.argv[2] ?? 5000);
const RUNS = Number(process.argv[3] ?? 3);
const TIMEOUT_S = 300;
const TEXT = 'Implement the piece described here, with tests and a short note in the guide. '.repeat(4).trim();

/** Blockers of the i-th task (0-based): one or two earlier tasks, deterministic. */
function blockersOf(i: number): number[] {
  if (i === 0) return [];
  const out = new Set([i - 1 - (i % 7 === 0 ? 0 : (i * 31) % Math.min(i, 50))]);
  if (i % 3 === 0 && i > 10) out.add(i - 10);
  return [...out].filter((x) => x >= 0 && x < i);
}

function taskmaster(dir: string): string {
  // 1,000 tasks with 4 subtasks each: 5,000 tasks in all (N / 5 parents).
  const parents = Math.ceil(N / 5);
  const tasks = [];
  for (let p = 0; p < parents; p++) {
    const subtasks = [];
    for (let s = 1; s <= 4; s++) {
      subtasks.push({
        id: s,
        title: `Piece ${s} of task ${p + 1}`,
        description: TEXT,
        details: '',
        status: s === 1 && p % 2 === 0 ? 'done' : 'pending',
        dependencies: s > 1 ? [s - 1] : [],
        parentId: p + 1,
      });
    }
    tasks.push({
      id: p + 1,
      title: `Task ${p + 1}`,
      description: TEXT,
      details: TEXT,
      testStrategy: 'Unit tests.',
      status: ['pending', 'in-progress', 'done', 'review', 'deferred'][p % 5],
      dependencies: blockersOf(p).map((b) => b + 1),
      priority: ['high', 'medium', 'low'][p % 3],
      subtasks,
    });
  }
  const file = join(dir, 'tasks.json');
  writeFileSync(file, JSON.stringify({ master: { tasks, metadata: { created: new Date().toISOString() } } }, null, 2));
  return file;
}

function backlog(dir: string): string {
  const tasksDir = join(dir, 'backlog', 'tasks');
  mkdirSync(tasksDir, { recursive: true });
  writeFileSync(
    join(dir, 'backlog', 'config.yml'),
    'project_name: "bench"\nstatuses: ["To Do", "In Progress", "Done"]\ntask_prefix: "task"\n',
  );
  for (let i = 0; i < N; i++) {
    const deps = blockersOf(i).map((b) => `  - TASK-${b + 1}`);
    const text = [
      '---',
      `id: TASK-${i + 1}`,
      `title: Task ${i + 1}`,
      `status: ${['To Do', 'In Progress', 'Done'][i % 3]}`,
      'assignee:',
      `  - '@dev${i % 5}'`,
      "created_date: '2026-11-30 10:19'",
      'labels:',
      '  - bench',
      deps.length === 0 ? 'dependencies: []' : `dependencies:\n${deps.join('\n')}`,
      `priority: ${['high', 'medium', 'low'][i % 3]}`,
      `ordinal: ${(i + 1) * 1000}`,
      '---',
      '',
      '## Description',
      '',
      '<!-- SECTION:DESCRIPTION:BEGIN -->',
      TEXT,
      '<!-- SECTION:DESCRIPTION:END -->',
      '',
    ].join('\n');
    writeFileSync(join(tasksDir, `task-${i + 1} - Task-${i + 1}.md`), text);
  }
  return dir;
}

function beads(dir: string): string {
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    lines.push(
      JSON.stringify({
        id: `bd-${(i + 1).toString(36)}`,
        title: `Task ${i + 1}`,
        description: TEXT,
        status: ['open', 'in_progress', 'closed', 'blocked'][i % 4],
        priority: i % 5,
        issue_type: 'task',
        assignee: `dev${i % 5}`,
        created_at: '2026-11-20T09:00:00Z',
        updated_at: '2026-11-21T09:00:00Z',
        ...(i % 4 === 2 ? { closed_at: '2026-11-22T09:00:00Z' } : {}),
        labels: ['bench'],
        dependencies: blockersOf(i).map((b) => ({
          issue_id: `bd-${(i + 1).toString(36)}`,
          depends_on_id: `bd-${(b + 1).toString(36)}`,
          type: 'blocks',
          created_at: '2026-11-20T09:00:00Z',
          created_by: 'bench',
        })),
      }),
    );
  }
  mkdirSync(join(dir, '.beads'), { recursive: true });
  const file = join(dir, '.beads', 'issues.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Claude Code's files, edges on both sides; and the same list as a Tasklane export (the baseline). */
function claude(dir: string): { listDir: string; exportFile: string } {
  const listDir = join(dir, 'list');
  mkdirSync(listDir, { recursive: true });
  const blocks = new Map<number, number[]>();
  for (let i = 0; i < N; i++) for (const b of blockersOf(i)) blocks.set(b, [...(blocks.get(b) ?? []), i]);
  const records = [
    JSON.stringify({ type: 'list', list: 'bench', version: 1, highestId: N, exportedAt: '2026-11-30T00:00:00.000Z' }),
  ];
  for (let i = 0; i < N; i++) {
    const task = {
      id: String(i + 1),
      subject: `Task ${i + 1}`,
      description: TEXT,
      status: ['pending', 'in_progress', 'completed'][i % 3],
      blocks: (blocks.get(i) ?? []).map((x) => String(x + 1)),
      blockedBy: blockersOf(i).map((x) => String(x + 1)),
    };
    writeFileSync(join(listDir, `${i + 1}.json`), JSON.stringify(task, null, 2));
    records.push(JSON.stringify({ type: 'task', task }));
  }
  const exportFile = join(dir, 'export.jsonl');
  writeFileSync(exportFile, `${records.join('\n')}\n`);
  return { listDir, exportFile };
}

interface Result {
  format: string;
  mode: 'import' | 'dry-run';
  seconds: number[];
  peakRssMiB: number[];
  tasks: number;
  outcome: string;
}

function once(
  format: string,
  input: string,
  dryRun: boolean,
  runDir: string,
): { seconds: number; peak: number; tasks: number; outcome: string } {
  const target = freshDir(runDir);
  const args = [CLI, '--dir', target, 'import', ...(format === 'tasklane' ? [] : ['--from', format]), input, '--json'];
  if (dryRun) args.push('--dry-run');
  const began = process.hrtime.bigint();
  const r = spawnSync(
    'timeout',
    ['-s', 'KILL', String(TIMEOUT_S), '/usr/bin/time', '-f', 'PEAK_RSS_KB %M', NODE, ...args],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  const peak = Number(/PEAK_RSS_KB (\d+)/.exec(r.stderr ?? '')?.[1] ?? Number.NaN) / 1024;
  let tasks = 0;
  try {
    tasks = JSON.parse(r.stdout).tasks;
  } catch {}
  const outcome = r.status === 0 ? 'ok' : `exit ${r.status}: ${(r.stderr ?? '').split('\n')[0]?.slice(0, 200)}`;
  return { seconds, peak, tasks, outcome };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const m = printMachine();
console.log(`tasks: ${N}, runs: ${RUNS} (median)`);
const inputs = freshDir('import-peers-inputs');
mkdirSync(join(inputs, 'tm'));
mkdirSync(join(inputs, 'bl'));
mkdirSync(join(inputs, 'bd'));
mkdirSync(join(inputs, 'cc'));
const cc = claude(join(inputs, 'cc'));
const sources: [string, string][] = [
  ['tasklane', cc.exportFile],
  ['taskmaster', taskmaster(join(inputs, 'tm'))],
  ['backlog', backlog(join(inputs, 'bl'))],
  ['beads', beads(join(inputs, 'bd'))],
  ['claude', cc.listDir],
];
const results: Result[] = [];
for (const [format, input] of sources) {
  for (const dryRun of format === 'tasklane' ? [false] : [false, true]) {
    const runs = Array.from({ length: RUNS }, () => once(format, input, dryRun, 'import-peers-target'));
    const result: Result = {
      format,
      mode: dryRun ? 'dry-run' : 'import',
      seconds: runs.map((r) => r.seconds),
      peakRssMiB: runs.map((r) => r.peak),
      tasks: runs[0]?.tasks ?? 0,
      outcome: runs.find((r) => r.outcome !== 'ok')?.outcome ?? 'ok',
    };
    results.push(result);
    console.log(
      `${format.padEnd(10)} ${result.mode.padEnd(7)} ${result.tasks} tasks  ${median(result.seconds).toFixed(2)} s  peak ${median(result.peakRssMiB).toFixed(0)} MiB  (${result.seconds.map((s) => s.toFixed(2)).join(', ')} s)  ${result.outcome}`,
    );
  }
}
mkdirSync(join(WORK, 'results'), { recursive: true });
writeFileSync(
  join(WORK, 'results', 'import-peers.json'),
  `${JSON.stringify({ machine: m, tasks: N, runs: RUNS, results }, null, 2)}\n`,
);
if (results.some((r) => r.outcome !== 'ok' || r.tasks !== N)) process.exitCode = 1;
