import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rng } from '../bench/lib/data.js';
import { driverCommand, setupGit } from '../src/engine/git-lists/setup.js';
import { findCycles, isProjectId, isTombstone, parseTask, type Task } from '../src/model/index.js';
import { resolveLocation } from '../src/store/location.js';
import { openStore } from '../src/store/open.js';
import { initList } from '../src/store/project.js';
import type { TaskStore } from '../src/store/types.js';
import { ClaudeTask } from './claude-task-schema.js';
import { repoRoot, tempDir } from './helpers.js';

// Issue 11's acceptance: two clones of a repository change the same lists at random (seeded),
// then merge in both directions and rebase, with the real git running the real merge driver.
// No conflict, no conflict marker, no task lost, unique ids, every task file valid for Claude
// Code, completed tasks stay completed; doctor then finds each list consistent, or names exactly
// what is left (a cycle the two sides made together, a reference to a task the other side
// deleted) and --fix repairs all but cycles. The three results are the same tree (the rule is
// symmetric). One list per seed, many seeds per repository: the random changes go through the
// store in-process, so the processes spawned are git's and the driver's.

const SEEDS = Number(process.env.TASKLANE_GIT_SEEDS ?? 200);
const BATCH = 50;

/** Runs git; async, so the batches' merges (and the drivers git starts) overlap. */
function git(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-C', cwd, ...args],
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (err !== null)
          reject(new Error(`git ${args.join(' ')} in ${cwd} failed (${err.code}):\n${stdout}\n${stderr}`));
        else resolve(stdout + stderr);
      },
    );
  });
}

function storeAt(repo: string, list: string): TaskStore {
  return openStore(resolveLocation({ dir: join(repo, '.tasklane', 'tasks'), list }));
}

interface SideLog {
  created: Set<string>;
  deleted: Set<string>;
  completed: Set<string>;
}

/** Random changes to one list through the store: what a person or an agent in one clone does. */
async function randomChanges(store: TaskStore, rnd: () => number, hot: string, side: string): Promise<SideLog> {
  const log: SideLog = { created: new Set(), deleted: new Set(), completed: new Set() };
  const pickFrom = <T>(xs: T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
  const steps = 3 + Math.floor(rnd() * 5);
  for (let i = 0; i < steps; i++) {
    const tasks = await store.list();
    const ids = tasks.map((t) => t.id);
    // Half the steps edit the task both sides know is there, so the same file changes on both.
    const target = rnd() < 0.35 && ids.includes(hot) ? hot : pickFrom(ids);
    const op = rnd();
    try {
      if (op < 0.2 || target === undefined) {
        const blockedBy = ids.filter(() => rnd() < 0.25).slice(0, 2);
        const t = await store.create({ subject: `made in ${side} ${i}`, blockedBy });
        log.created.add(t.id);
      } else if (op < 0.32) {
        await store.update(target, { status: 'completed' });
        log.completed.add(target);
      } else if (op < 0.5) {
        await store.update(target, {
          subject: `${side} edit ${i}`,
          ...(rnd() < 0.5 ? { description: `${side} wrote ${i}` } : {}),
          metadata: { [`k${Math.floor(rnd() * 3)}`]: `${side}${i}` },
          ...(rnd() < 0.3 ? { priority: Math.floor(rnd() * 5) } : {}),
        });
      } else if (op < 0.6) {
        if (target !== hot || rnd() < 0.5) {
          await store.delete(target);
          log.deleted.add(target);
          log.completed.delete(target);
        }
      } else if (op < 0.8) {
        const other = pickFrom(ids.filter((x) => x !== target));
        if (other !== undefined) await store.addDependency(target, other);
      } else if (op < 0.88) {
        const t = tasks.find((x) => x.id === target) as Task;
        const other = pickFrom(t.blocks);
        if (other !== undefined) await store.removeDependency(target, other);
      } else {
        const t = tasks.find((x) => x.id === target) as Task;
        if (t.status === 'pending' && t.owner === undefined) {
          const claim = await store.claim({ owner: side, taskId: target, leaseMs: 600_000 });
          if (claim !== null && rnd() < 0.5) {
            await store.fail(target, { owner: side, reason: `${side} failed` });
            if (rnd() < 0.5) await store.retry(target);
          }
        }
      }
    } catch (err) {
      // A refused change (a cycle, a task not claimable) is a change not made.
      const code = (err as { code?: string }).code;
      if (!['CYCLE', 'NOT_CLAIMABLE', 'CONFLICT', 'NOT_FOUND'].includes(code ?? '')) throw err;
    }
  }
  return log;
}

/** Every task file of one list in a checkout, parsed: the tasks and the tombstones. */
function readList(repo: string, list: string): { tasks: Map<string, Task>; gone: Set<string> } {
  const dir = join(repo, '.tasklane', 'tasks', list);
  const tasks = new Map<string, Task>();
  const gone = new Set<string>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
    const text = readFileSync(join(dir, name), 'utf8');
    assert.doesNotMatch(text, /^(<{7}|>{7}|={7}|\|{7})( |$)/m, `${list}/${name}: a conflict marker`);
    const value = JSON.parse(text) as unknown;
    if (isTombstone(value)) {
      assert.equal(ClaudeTask.safeParse(value).success, false, 'Claude Code skips a tombstone as absent');
      gone.add(value.id);
      continue;
    }
    assert.ok(ClaudeTask.safeParse(value).success, `${list}/${name}: not a valid Claude Code task`);
    const task = parseTask(value);
    assert.equal(`${task.id}.json`, name);
    assert.ok(isProjectId(task.id), `${task.id}: a project id`);
    assert.ok(!tasks.has(task.id));
    tasks.set(task.id, task);
  }
  return { tasks, gone };
}

interface Expect {
  present: Set<string>;
  completed: Set<string>;
}

async function checkList(repo: string, list: string, want: Expect, what: string): Promise<void> {
  const { tasks } = readList(repo, list);
  assert.deepEqual([...tasks.keys()].sort(), [...want.present].sort(), `${what} ${list}: the tasks present`);
  for (const id of want.completed) {
    if (tasks.has(id)) assert.equal(tasks.get(id)?.status, 'completed', `${what} ${list}: #${id} stays completed`);
  }
  const store = storeAt(repo, list);
  const report = await store.doctor();
  const cycles = findCycles(tasks);
  for (const p of report.problems) {
    assert.ok(
      ['missing-reference', 'one-sided-edge', 'cycle'].includes(p.kind),
      `${what} ${list}: ${p.kind} ${p.message}`,
    );
  }
  assert.equal(
    report.problems.filter((p) => p.kind === 'cycle').length,
    cycles.length,
    `${what} ${list}: every cycle reported`,
  );
  const fixed = await store.doctor({ fix: true });
  const left = fixed.problems.filter((p) => p.fixed === undefined);
  assert.ok(
    left.every((p) => p.kind === 'cycle' || p.kind === 'one-sided-edge'),
    `${what} ${list}: ${JSON.stringify(left)}`,
  );
  // After --fix: every edge two-sided (but one doctor leaves because completing it would close a reported cycle).
  const after = readList(repo, list).tasks;
  for (const t of after.values()) {
    for (const b of t.blocks) {
      assert.ok(after.has(b), `${what} ${list}: #${t.id} blocks missing #${b}`);
      if (!after.get(b)?.blockedBy.includes(t.id))
        assert.ok(cycles.length > 0, `${what} ${list}: one-sided ${t.id}->${b}`);
    }
    for (const b of t.blockedBy) assert.ok(after.has(b), `${what} ${list}: #${t.id} blockedBy missing #${b}`);
  }
}

async function runBatch(first: number, count: number): Promise<{ conflictsSeen: number; cycles: number }> {
  let last = { wall: Date.now(), cpu: process.cpuUsage(), res: process.resourceUsage() };
  const mark = (what: string): void => {
    if (process.env.TASKLANE_GIT_PHASES === undefined) return;
    const now = { wall: Date.now(), cpu: process.cpuUsage(), res: process.resourceUsage() };
    const cpu = (now.cpu.user + now.cpu.system - last.cpu.user - last.cpu.system) / 1000;
    process.stdout.write(`# ${what}: ${now.wall - last.wall} ms wall, ${cpu.toFixed(0)} ms cpu here\n`);
    last = now;
  };
  const root = tempDir('tasklane-git-merge-');
  const origin = join(root, 'origin');
  const driver = driverCommand(join(repoRoot, 'dist', 'bundle', 'git-merge-driver.js'));
  mkdirSync(origin, { recursive: true });
  await git(origin, 'init', '-q', '-b', 'main');
  initList({ cwd: origin, list: 'seed0', env: {} });
  const lists: { list: string; seed: number; base: string[]; hot: string; baseCompleted: string[] }[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const list = `seed${seed}`;
    const store = storeAt(origin, list);
    const rnd = rng(seed * 3 + 1);
    const ids: string[] = [];
    const done: string[] = [];
    for (let i = 0; i < 6; i++) {
      const blockedBy = ids.filter(() => rnd() < 0.3);
      const t = await store.create({ subject: `base ${i}`, description: `the base task ${i}`, blockedBy });
      ids.push(t.id);
      if (rnd() < 0.2) {
        await store.update(t.id, { status: 'completed' });
        done.push(t.id);
      }
    }
    lists.push({ list, seed, base: ids, hot: ids[Math.floor(rnd() * ids.length)] as string, baseCompleted: done });
  }
  mark('base');
  await git(origin, 'add', '-A');
  await git(origin, '-c', 'user.name=o', '-c', 'user.email=o@x', 'commit', '-qm', 'base');
  const a = join(root, 'a');
  const b = join(root, 'b');
  for (const clone of [a, b]) {
    await git(root, 'clone', '-q', origin, clone);
    await git(clone, 'config', 'user.name', clone);
    await git(clone, 'config', 'user.email', 'x@x');
    setupGit(clone, driver);
  }
  const expects = new Map<string, Expect>();
  const logsA = new Map<string, SideLog>();
  for (const l of lists) logsA.set(l.list, await randomChanges(storeAt(a, l.list), rng(l.seed * 3 + 2), l.hot, 'A'));
  for (const l of lists) {
    const la = logsA.get(l.list) as SideLog;
    const lb = await randomChanges(storeAt(b, l.list), rng(l.seed * 3 + 3), l.hot, 'B');
    const present = new Set([...l.base, ...la.created, ...lb.created]);
    for (const id of [...la.deleted, ...lb.deleted]) present.delete(id);
    expects.set(l.list, { present, completed: new Set([...l.baseCompleted, ...la.completed, ...lb.completed]) });
  }
  mark('changes');
  for (const clone of [a, b]) {
    await git(clone, 'add', '-A');
    await git(clone, 'commit', '-qm', 'changes');
  }
  await git(b, 'branch', 'b0');
  // A third clone for the rebase, so the three merges (each starting its drivers) run at once.
  const c = join(root, 'c');
  await git(root, 'clone', '-q', '-b', 'b0', b, c);
  await git(c, 'config', 'user.name', c);
  await git(c, 'config', 'user.email', 'x@x');
  setupGit(c, driver);
  await Promise.all([
    git(b, 'fetch', '-q', a, 'main:a0'),
    git(a, 'fetch', '-q', b, 'b0:b0'),
    git(c, 'fetch', '-q', a, 'main:a0'),
  ]);
  // A into B; B into A; B rebased onto A.
  const out = await Promise.all([
    git(b, 'merge', '--no-edit', 'a0'),
    git(a, 'merge', '--no-edit', 'b0'),
    git(c, 'rebase', 'a0'),
  ]);
  const [treeAB, treeBA, treeRebased] = (
    await Promise.all([b, a, c].map((clone) => git(clone, 'rev-parse', 'HEAD^{tree}')))
  ).map((x) => x.trim());
  mark('merges');
  const said = out.join('\n');
  assert.doesNotMatch(said, /CONFLICT/, said);
  assert.equal(await git(a, 'status', '--porcelain'), '');
  assert.equal(await git(b, 'status', '--porcelain'), '');
  assert.equal(await git(c, 'status', '--porcelain'), '');
  assert.equal(treeBA, treeAB, 'merging in either direction gives the same files');
  assert.equal(treeRebased, treeAB, 'rebasing gives the same files as merging');
  const conflictsSeen = (said.match(/Auto-merging/g) ?? []).length;
  let cycles = 0;
  for (const l of lists) {
    const want = expects.get(l.list) as Expect;
    cycles += findCycles(readList(a, l.list).tasks).length;
    await checkList(a, l.list, want, 'B merged into A:');
    await checkList(b, l.list, want, 'A merged into B:');
    await checkList(c, l.list, want, 'B rebased onto A:');
  }
  mark('checks');
  return { conflictsSeen, cycles };
}

// The batches run at once: git runs the driver once per file changed on both sides, a Node
// start-up each, and on a shared machine four batches get through them in far less time than one after another.
describe(`two clones change the same lists at random (${SEEDS} seeds), then merge both ways and rebase`, {
  concurrency: 4,
}, () => {
  for (let first = 0; first < SEEDS; first += BATCH) {
    const count = Math.min(BATCH, SEEDS - first);
    it(`seeds ${first}-${first + count - 1}: no conflict, nothing lost, the same result every way`, async () => {
      const started = Date.now();
      const r = await runBatch(first, count);
      process.stdout.write(
        `# seeds ${first}-${first + count - 1}: ${r.conflictsSeen} files merged by git (driver or text), ${r.cycles} cycles made by the two sides together and reported, ${Date.now() - started} ms\n`,
      );
    });
  }
});
