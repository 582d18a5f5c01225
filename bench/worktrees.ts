import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { integrateRun } from '../src/engine/integration.js';
import { finishWorktree, prepareWorktree, repositoryOf, type Worktree } from '../src/engine/worktree.js';
import type { Task } from '../src/model/index.js';
import { freshDir, median, printMachine, saveResults } from './lib/measure.js';

// What `run --worktree` costs per task on a repository of 10,000 files, phase by phase, beside a
// plain `git worktree add -b BRANCH PATH HEAD` of the same repository:
//   creation     prepareWorktree for a task without blockers (worktree add and the bookkeeping)
//   merge        prepareWorktree for a task with two blockers: their branches merged without a
//                checkout (merge-tree, commit-tree), then the worktree added on the merge
//   finish       finishWorktree: git status, add -A and commit of the file the agent left
//   integration  integrateRun over the round's three tasks, divided by three (per task)
// Each round runs a diamond-less fork (#1, #2, then #3 after both) through the engine's own
// functions and three plain `git worktree add`s, in an order that alternates between rounds, so
// the machine's drift hits both alike; ratios are taken within a round, then medianed.
//
//   npm run build && node dist/bench/worktrees.js [--files 10000] [--rounds 7]

const { values } = parseArgs({
  options: { files: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '7' } },
});
const files = Number(values.files);
const rounds = Number(values.rounds);

const machine = printMachine();
const root = freshDir('worktrees');
const repo = join(root, 'repo');
mkdirSync(repo);
const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, '-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });

// 10,000 files in 100 directories, a few hundred bytes each, in one commit.
git('init', '-q', '-b', 'main');
for (let d = 0; d < Math.ceil(files / 100); d++) {
  const dir = join(repo, `src${d}`);
  mkdirSync(dir);
  for (let i = 0; i < 100 && d * 100 + i < files; i++) {
    writeFileSync(join(dir, `file${i}.ts`), `export const value${i} = ${d * 100 + i};\n${'// filler\n'.repeat(20)}`);
  }
}
git('add', '-A');
git('commit', '-q', '-m', 'ten thousand files');
console.log(`repository: ${files} files, ${git('count-objects', '-vH').match(/size-pack: (.*)/)?.[1] ?? '?'} packed`);

const ms = (start: number) => performance.now() - start;

interface Round {
  plainAdd: number;
  creation: number;
  merge: number;
  finish: number;
  integration: number;
}

async function engineRound(r: number): Promise<Omit<Round, 'plainAdd'>> {
  const list = `bench${r}`;
  const task = (id: string, blockedBy: string[]): Task =>
    ({ id, subject: `Task ${id}`, description: '', status: 'completed', blocks: [], blockedBy }) as Task;
  const t1 = task('1', []);
  const t2 = task('2', []);
  const t3 = task('3', ['1', '2']);
  const work = async (t: Task): Promise<{ prepare: number; finish: number; wt: Worktree }> => {
    let s = performance.now();
    const wt = await prepareWorktree(repo, list, t, 'agent');
    const prepare = ms(s);
    // The agent's work: one new file and one edited file, left uncommitted.
    writeFileSync(join(wt.path, `new-${t.id}.ts`), `export const task = ${t.id};\n`);
    writeFileSync(join(wt.path, 'src0', `file${t.id}.ts`), `export const edited = ${t.id};\n`);
    s = performance.now();
    await finishWorktree(wt, t);
    return { prepare, finish: ms(s), wt };
  };
  const a = await work(t1);
  const b = await work(t2);
  const c = await work(t3);
  const s = performance.now();
  const integration = await integrateRun(
    await repositoryOf(repo),
    list,
    Date.now(),
    [t1, t2, t3],
    new Map([t1, t2, t3].map((t) => [t.id, t])),
  );
  const integrationMs = ms(s);
  if (integration === undefined || 'error' in integration || integration.merged.length !== 3) {
    throw new Error(`integration did not merge the three tasks: ${JSON.stringify(integration)}`);
  }
  return {
    creation: (a.prepare + b.prepare) / 2,
    merge: c.prepare,
    finish: (a.finish + b.finish + c.finish) / 3,
    integration: integrationMs / 3,
  };
}

function plainRound(r: number): number {
  let total = 0;
  for (let i = 1; i <= 3; i++) {
    const s = performance.now();
    git('worktree', 'add', '-q', '-b', `plain/${r}/${i}`, join(root, 'plain', String(r), String(i)), 'HEAD');
    total += ms(s);
  }
  return total / 3;
}

await repositoryOf(repo);
plainRound(0); // warm the page cache and git's own files
await engineRound(0);
const results: Round[] = [];
for (let r = 1; r <= rounds; r++) {
  let plainAdd = 0;
  let engine: Omit<Round, 'plainAdd'>;
  if (r % 2 === 0) {
    plainAdd = plainRound(r);
    engine = await engineRound(r);
  } else {
    engine = await engineRound(r);
    plainAdd = plainRound(r);
  }
  results.push({ plainAdd, ...engine });
  console.log(
    `round ${r}: plain add ${plainAdd.toFixed(0)} ms; creation ${engine.creation.toFixed(0)} ms, merge ${engine.merge.toFixed(0)} ms, finish ${engine.finish.toFixed(0)} ms, integration ${engine.integration.toFixed(1)} ms per task`,
  );
}

const med = (f: (x: Round) => number) => median(results.map(f));
const summary = {
  plainAddMs: med((x) => x.plainAdd),
  creationMs: med((x) => x.creation),
  mergeMs: med((x) => x.merge),
  finishMs: med((x) => x.finish),
  integrationMsPerTask: med((x) => x.integration),
  creationRatio: med((x) => x.creation / x.plainAdd),
  mergeRatio: med((x) => x.merge / x.plainAdd),
  finishRatio: med((x) => x.finish / x.plainAdd),
  integrationRatio: med((x) => x.integration / x.plainAdd),
  wholeTaskRatio: med((x) => (x.creation + x.finish + x.integration) / x.plainAdd),
};
console.log('\nmedian of the rounds (ratios within a round, then medianed):');
console.log(`  plain git worktree add      ${summary.plainAddMs.toFixed(0)} ms`);
console.log(
  `  creation                    ${summary.creationMs.toFixed(0)} ms   ${summary.creationRatio.toFixed(2)}x plain`,
);
console.log(`  merge of two blockers       ${summary.mergeMs.toFixed(0)} ms   ${summary.mergeRatio.toFixed(2)}x plain`);
console.log(
  `  finish (commit leftovers)   ${summary.finishMs.toFixed(0)} ms   ${summary.finishRatio.toFixed(2)}x plain`,
);
console.log(
  `  integration, per task       ${summary.integrationMsPerTask.toFixed(1)} ms   ${summary.integrationRatio.toFixed(2)}x plain`,
);
console.log(`  creation + finish + integration per task: ${summary.wholeTaskRatio.toFixed(2)}x a plain add`);
console.log(`results: ${saveResults('worktrees', { machine, files, rounds, results, summary })}`);
