import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { driverCommand, setupGit } from '../src/engine/git-lists/setup.js';
import { mergeTaskFiles, parseTask } from '../src/model/index.js';
import { resolveLocation } from '../src/store/location.js';
import { openStore } from '../src/store/open.js';
import { initList } from '../src/store/project.js';
import { freshDir, load, printMachine, REPO, saveResults } from './lib/measure.js';

// Issue 11: the git merge driver. (1) Time per conflicting task file: the driver program as git
// runs it (one process per file), and the merge rule alone in-process, to show where the time
// goes. (2) `git merge` of two clones that each changed the same N tasks (default 1,000): one
// edits every description, the other completes every task and relabels it, so every task file
// changed on both sides and git runs the driver N times; and, for comparison, the same merge
// without the driver (git's line merge), which conflicts.
//
//   npx tsc -p . && node scripts/bundle.mjs && node dist/bench/git-merge.js [tasks] [driverRuns]

const N = Number(process.argv[2] ?? 1000);
const RUNS = Number(process.argv[3] ?? 20);
const DRIVER = join(REPO, 'dist', 'bundle', 'git-merge-driver.js');

function git(cwd: string, ...args: string[]): { status: number; out: string } {
  const r = spawnSync('git', ['-C', cwd, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', LC_ALL: 'C' },
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
function must(cwd: string, ...args: string[]): string {
  const r = git(cwd, ...args);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.out}`);
  return r.out;
}

printMachine();
const work = freshDir('git-merge');
const origin = join(work, 'origin');
mkdirSync(origin);
must(origin, 'init', '-q', '-b', 'main');
must(origin, 'config', 'user.name', 'bench');
must(origin, 'config', 'user.email', 'bench@x');
initList({ cwd: origin, list: 'bench', env: {} });
const tasksRoot = (repo: string) => join(repo, '.tasklane', 'tasks');
const store = (repo: string) => openStore(resolveLocation({ dir: tasksRoot(repo), list: 'bench' }));

let t = Date.now();
const base = store(origin);
const ids: string[] = [];
for (let i = 0; i < N; i++) {
  const blockedBy = i > 0 && i % 3 === 0 ? [ids[i - 1] as string] : [];
  ids.push((await base.create({ subject: `Task ${i}`, description: `What task ${i} is about.`, blockedBy })).id);
}
console.log(`made ${N} tasks in ${Date.now() - t} ms`);
must(origin, 'add', '-A');
must(origin, 'commit', '-qm', 'base');
const a = join(work, 'a');
const b = join(work, 'b');
for (const clone of [a, b]) {
  must(work, 'clone', '-q', origin, clone);
  must(clone, 'config', 'user.name', 'bench');
  must(clone, 'config', 'user.email', 'bench@x');
}
t = Date.now();
const sa = store(a);
for (const id of ids) await sa.update(id, { description: `Edited in clone A: ${id}.` });
const sb = store(b);
for (const id of ids) await sb.update(id, { status: 'completed', labels: ['done-in-b'] });
console.log(`changed ${N} tasks in each clone in ${Date.now() - t} ms`);
for (const clone of [a, b]) must(clone, 'commit', '-qam', 'changes');
must(a, 'fetch', '-q', b, 'main:b0');

// (1) One conflicting file: the driver program, as git runs it, RUNS times; then the rule alone.
const listDir = join(a, '.tasklane', 'tasks', 'bench');
const sample = ids[Math.floor(N / 2)] as string;
const path = `.tasklane/tasks/bench/${sample}.json`;
const show = (rev: string) => must(a, 'show', `${rev}:${path}`);
const versions = { base: show('HEAD~1'), ours: show('HEAD'), theirs: show('b0') };
const scratch = join(work, 'scratch');
mkdirSync(scratch);
const perRun: number[] = [];
for (let i = 0; i < RUNS; i++) {
  for (const [k, v] of Object.entries(versions)) writeFileSync(join(scratch, k), v);
  const started = process.hrtime.bigint();
  const inputs = ['base', 'ours', 'theirs'].map((k) => join(scratch, k));
  // In the clone's top directory, as git runs it (PATH is relative to it).
  const r = spawnSync(process.execPath, [DRIVER, ...inputs, path], { cwd: a, encoding: 'utf8' });
  perRun.push(Number(process.hrtime.bigint() - started) / 1e6);
  if (r.status !== 0) throw new Error(`driver: ${r.stderr}`);
}
const nodeRuns: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const started = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  nodeRuns.push(Number(process.hrtime.bigint() - started) / 1e6);
}
const parsed = {
  base: parseTask(JSON.parse(versions.base)),
  ours: parseTask(JSON.parse(versions.ours)),
  theirs: parseTask(JSON.parse(versions.theirs)),
};
const ruleStart = process.hrtime.bigint();
const RULE_RUNS = 10_000;
for (let i = 0; i < RULE_RUNS; i++) mergeTaskFiles(parsed.base, parsed.ours, parsed.theirs);
const ruleUs = Number(process.hrtime.bigint() - ruleStart) / 1e3 / RULE_RUNS;
const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] as number;
console.log(
  `driver per conflicting file: median ${med(perRun).toFixed(0)} ms over ${RUNS} runs (node -e 0: ${med(nodeRuns).toFixed(0)} ms); the merge rule alone: ${ruleUs.toFixed(1)} us`,
);

// (2) git merge of the two clones, with the driver; then without it (line merge), from the same state.
setupGit(a, driverCommand(DRIVER));
const head = must(a, 'rev-parse', 'HEAD').trim();
t = Date.now();
const merged = git(a, 'merge', '--no-edit', 'b0');
const withDriverMs = Date.now() - t;
const conflicts = (merged.out.match(/CONFLICT/g) ?? []).length;
const files = readdirSync(listDir).filter((n) => n.endsWith('.json'));
let completed = 0;
let edited = 0;
for (const name of files) {
  const task = parseTask(JSON.parse(readFileSync(join(listDir, name), 'utf8')));
  if (task.status === 'completed') completed++;
  if (task.description.startsWith('Edited in clone A')) edited++;
}
console.log(
  `git merge, ${N} tasks changed on both sides, with the driver: ${withDriverMs} ms (${(withDriverMs / N).toFixed(1)} ms a file), exit ${merged.status}, ${conflicts} conflicts; ${completed} completed and ${edited} with A's description of ${files.length}`,
);
must(a, 'reset', '-q', '--hard', head);
// The whole section: a name without a command makes git stop ("custom merge driver lacks command line").
must(a, 'config', '--remove-section', 'merge.tasklane');
t = Date.now();
const plain = git(a, 'merge', '--no-edit', 'b0');
const withoutMs = Date.now() - t;
const plainConflicts = (plain.out.match(/CONFLICT/g) ?? []).length;
console.log(
  `the same merge without the driver (line by line): ${withoutMs} ms, exit ${plain.status}, ${plainConflicts} files in conflict`,
);
git(a, 'merge', '--abort');

const file = saveResults('git-merge', {
  tasks: N,
  driverMsMedian: med(perRun),
  nodeStartMsMedian: med(nodeRuns),
  ruleMicroseconds: ruleUs,
  mergeWithDriverMs: withDriverMs,
  mergeWithDriverExit: merged.status,
  mergeWithDriverConflicts: conflicts,
  completedAfter: completed,
  editedAfter: edited,
  mergeWithoutDriverMs: withoutMs,
  mergeWithoutDriverConflicts: plainConflicts,
  load: load(),
});
console.log(`results: ${file}`);
