import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readMarkdownPlan } from '../src/engine/plan/markdown.js';
import type { PlanSpec } from '../src/engine/plan/spec.js';
import { REPO } from './lib/measure.js';

// How long reading a large (1 MB) markdown plan takes: the CommonMark reader (mdast) on plans of
// references, on a line built to make a backtracking regex explode, and on markup CommonMark
// parsers find hard; and, for comparison, the line-regex reader it replaced, loaded from git
// (OLD_READER_COMMIT, default af7dbb8, the last commit with that reader).
//
//   npx tsc -p . && node dist/bench/plan-parse.js [MEGABYTES]

const MB = Number(process.argv[2] ?? '1');
const SIZE = Math.round(MB * 1024 * 1024);
const OLD_COMMIT = process.env.OLD_READER_COMMIT ?? 'af7dbb8';

/** Repeats `make(i)` until the text reaches SIZE bytes. */
function fill(head: string, make: (i: number) => string): string {
  const parts = [head];
  let size = head.length;
  for (let i = 1; size < SIZE; i++) {
    const part = make(i);
    parts.push(part);
    size += part.length;
  }
  return parts.join('');
}

const PLANS: Record<string, string> = {
  // Tasklane's dialect: every item waits for the one before by number, and names a key.
  'items, each "after #n"': fill(
    '# Plan\n\n## Work\n',
    (i) => `- Task ${i} {#t${i}} (after #${Math.max(1, i - 1)})\n`,
  ).replace('(after #1)\n', '\n'),
  // One item whose line is a 1 MB reference list that fails at its end (the old ReDoS's shape).
  'one line of "after #1 and #1 ... !"': `- A\n- B after ${fill('#1', () => ' and #1')} !\n`,
  // A step list whose steps depend on each other in words.
  'step list, "(depends on step n)"': fill('# Plan\n\n## Implementation Steps\n\n', (i) =>
    i === 1
      ? '1. **Step one**: start\n'
      : `${i}. **Step ${i}** (depends on step ${i - 1}): once step ${i - 1} is done\n`,
  ),
  // A step list whose steps name the one before by its words.
  'step list, "once part n is done"': fill('# Plan\n\n## Tasks\n\n', (i) =>
    i === 1 ? '1. Build part 1\n' : `${i}. Build part ${i}, once part ${i - 1} is done\n`,
  ),
  // Phases, each naming the one before.
  'phases, "Depends on: Phase n"': fill(
    '# Plan\n',
    (i) =>
      `\n## Phase ${i}: Part ${i}\nDepends on: Phase ${Math.max(1, i - 1)}\n- Change ${i}\n\n#### Automated Verification:\n- [ ] Tests pass: \`npm test -- part${i}\`\n`,
  ).replace('Depends on: Phase 1\n- Change 1', '- Change 1'),
  // Markup that is costly for CommonMark parsers: unclosed emphasis, brackets and backticks.
  'hostile markup in one item': `- ${fill('', (i) => (i % 3 === 0 ? '*a **b ' : i % 3 === 1 ? '[x ](' : '`` ` '))}\n`,
};

type Reader = (text: string, file: string) => PlanSpec;

/** The regex reader as it was at OLD_COMMIT, transpiled and loaded against today's helpers. */
async function oldReader(): Promise<Reader | undefined> {
  let source: string;
  try {
    source = execFileSync('git', ['-C', REPO, 'show', `${OLD_COMMIT}:src/engine/plan/markdown.ts`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
  const { transform } = await import('esbuild-wasm');
  const js = (await transform(source, { loader: 'ts', format: 'esm' })).code;
  const at = (rel: string) => pathToFileURL(join(REPO, 'dist', 'src', 'engine', 'plan', rel)).href;
  const linked = js.replace(/from\s+['"](\.{1,2}\/[^'"]+)['"]/g, (_, rel: string) => `from ${JSON.stringify(at(rel))}`);
  const dir = mkdtempSync(join(tmpdir(), 'tasklane-old-reader-'));
  const file = join(dir, 'old-markdown.mjs');
  writeFileSync(file, linked);
  try {
    const mod = (await import(pathToFileURL(file).href)) as { parseMarkdownPlan: Reader };
    return mod.parseMarkdownPlan;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Median of three runs, in ms, and what the reader made of it (tasks, or the error's first words);
 * a reader that takes over 10 s is run once.
 */
function measure(read: Reader, text: string): { ms: number; outcome: string } {
  const times: number[] = [];
  let outcome = '';
  for (let run = 0; run < 3 && !(run === 1 && (times[0] as number) > 10_000); run++) {
    const start = process.hrtime.bigint();
    try {
      outcome = `${read(text, 'bench.md').tasks.length} tasks`;
    } catch (err) {
      outcome = `refused: ${(err instanceof Error ? err.message : String(err)).slice(0, 60)}`;
    }
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)] as number, outcome };
}

const newReader: Reader = (text, file) => readMarkdownPlan(text, file).spec;
const old = await oldReader();
console.log(`Plan reading, ${MB} MB plans, median of 3 (node ${process.version})`);
console.log(
  `old reader: ${old === undefined ? `not loaded (git show ${OLD_COMMIT} failed)` : `regex reader at ${OLD_COMMIT}`}\n`,
);
const ONLY_NEW = process.env.OLD_READER === 'skip';
console.log(['plan', 'bytes', 'CommonMark reader', 'old reader', 'outcome (new)'].join(' | '));
for (const [name, text] of Object.entries(PLANS)) {
  const now = measure(newReader, text);
  const before = old === undefined || ONLY_NEW ? undefined : measure(old, text);
  // One row a plan, printed as soon as it is measured.
  console.log(
    [
      name,
      String(Buffer.byteLength(text)),
      `${now.ms.toFixed(0)} ms`,
      before === undefined ? '-' : `${before.ms.toFixed(0)} ms (${before.outcome.slice(0, 40)})`,
      now.outcome.slice(0, 60),
    ].join(' | '),
  );
}
