import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listDirName, serializeTask, type Task, withTasklaneFields } from '../../src/model/index.js';

// One seeded set of tasks written two ways: as Tasklane (Claude Code) task files and as
// Backlog.md markdown files, so both tools read the same titles, descriptions and dependencies.
// Files are written directly (not through the store) because 10,000 creates under the list lock
// would take minutes; the store reads them exactly as it reads its own (checked by the benches).

export interface BenchTask {
  /** 1-based number: Tasklane id "n", Backlog id "TASK-n". */
  n: number;
  title: string;
  description: string;
  /** Numbers of earlier tasks this one waits on. */
  deps: number[];
}

/** mulberry32: small, fast, seeded, so every run and both tools see identical data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VERBS = ['Implement', 'Refactor', 'Test', 'Document', 'Fix', 'Review', 'Migrate', 'Profile', 'Design', 'Remove'];
const THINGS = [
  'login form',
  'session cache',
  'payment webhook',
  'search index',
  'config loader',
  'rate limiter',
  'audit log',
  'export to CSV',
  'user settings page',
  'retry policy',
  'database schema',
  'metrics endpoint',
  'email templates',
  'feature flags',
  'upload handler',
  'error pages',
];
const SENTENCES = [
  'Keep the public API unchanged and cover the edge cases with tests.',
  'The current version is slow on large inputs and needs a streaming approach.',
  'Coordinate with the owners of the dependent services before merging.',
  'Acceptance: the CI pipeline is green and the docs describe the new behaviour.',
  'Measure before and after; attach the numbers to the pull request.',
  'Errors must name the file and the field that caused them.',
  'Split the change into small commits that each build and pass the tests.',
  'Check the behaviour on Linux, macOS and Windows runners.',
];

/**
 * `count` tasks; about half depend on 1 to 3 of the 30 tasks before them (a DAG by construction,
 * chains and fan-in as in a real plan). `depFraction` 0 gives independent (all ready) tasks.
 */
export function generateTasks(count: number, seed = 42, depFraction = 0.5): BenchTask[] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const tasks: BenchTask[] = [];
  for (let n = 1; n <= count; n++) {
    const title = `${pick(VERBS)} ${pick(THINGS)} part ${n}`;
    const sentences = 2 + Math.floor(rand() * 3);
    const description = Array.from({ length: sentences }, () => pick(SENTENCES)).join(' ');
    const deps = new Set<number>();
    if (n > 1 && rand() < depFraction) {
      const k = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < k; i++) deps.add(Math.max(1, n - 1 - Math.floor(rand() * 30)));
    }
    tasks.push({ n, title, description, deps: [...deps].sort((a, b) => a - b) });
  }
  return tasks;
}

/** Writes the tasks as a Tasklane list under `root` (the --dir), both sides of each dependency. Returns the list dir. */
export function writeTasklaneList(root: string, list: string, tasks: BenchTask[]): string {
  const listDir = join(root, listDirName(list));
  mkdirSync(listDir, { recursive: true });
  const blocks = new Map<number, number[]>();
  for (const t of tasks) for (const d of t.deps) blocks.set(d, [...(blocks.get(d) ?? []), t.n]);
  const at = '2026-11-21T19:51:00.000Z';
  for (const t of tasks) {
    const task: Task = withTasklaneFields(
      {
        id: String(t.n),
        subject: t.title,
        description: t.description,
        status: 'pending',
        blocks: (blocks.get(t.n) ?? []).map(String),
        blockedBy: t.deps.map(String),
        metadata: {},
      },
      { rev: 1, createdAt: at, updatedAt: at },
    );
    writeFileSync(join(listDir, `${t.n}.json`), serializeTask(task));
  }
  return listDir;
}

/** Backlog.md 1.52.0's task file for one task, as its `task create` writes it. */
export function backlogMarkdown(t: BenchTask): string {
  const deps = t.deps.length === 0 ? ' []' : t.deps.map((d) => `\n  - TASK-${d}`).join('');
  return (
    `---\nid: TASK-${t.n}\ntitle: ${t.title}\nstatus: To Do\nassignee: []\n` +
    `created_date: '2026-11-21 19:51'\nlabels: []\ndependencies:${deps}\nordinal: ${t.n * 1000}\n---\n\n` +
    `## Description\n\n<!-- SECTION:DESCRIPTION:BEGIN -->\n${t.description}\n<!-- SECTION:DESCRIPTION:END -->\n`
  );
}

/** Writes the tasks into an initialized Backlog.md project (`<repo>/backlog/tasks`). */
export function writeBacklogTasks(repo: string, tasks: BenchTask[]): void {
  const dir = join(repo, 'backlog', 'tasks');
  mkdirSync(dir, { recursive: true });
  for (const t of tasks) {
    writeFileSync(join(dir, `task-${t.n} - ${t.title.replace(/ /g, '-')}.md`), backlogMarkdown(t));
  }
}
