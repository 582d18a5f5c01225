import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { generateTasks } from './lib/data.js';
import {
  BACKLOG_BIN,
  BACKLOG_VERSION,
  CLI,
  ensureBacklog,
  freshDir,
  load,
  median,
  NODE,
  printMachine,
  saveResults,
} from './lib/measure.js';
import { writeBothTools } from './lib/side-by-side.js';

// Issue 9: the board with 5,000 tasks, beside Backlog.md's (`backlog browser`), in Debian's
// Chromium driven by playwright-core.
// - Load: from opening the page (navigation start) to a usable board, i.e. the first ready task's
//   card shown with its subject. Each round opens each board once in a fresh browser context, the
//   order alternating from round to round.
// - Change to display: a CLI process changes a task's subject (`tasklane update ID --subject`,
//   `backlog task edit N --title`); latency = when the new subject appears in the page (a
//   MutationObserver stamps it) minus when the task's file was written (its mtime: the change's
//   moment, without the CLI's start-up and exit), and also minus when the CLI process exited and
//   when it was spawned (Node's or Bun's start-up included). The two boards' changes alternate, one at a time.
// Both stamps are epoch milliseconds on one machine (the page's performance.timeOrigin + now()).
//
//   npx tsc -p . && node scripts/bundle.mjs && node dist/bench/board.js [tasks] [loads] [changes] [backlog-changes]
//   (defaults 5000 tasks, 5 loads, 200 changes, 50 of them also made on Backlog.md's board, whose
//   `task edit` takes seconds on 5,000 tasks; needs /usr/bin/chromium; installs Backlog.md
//   into bench/.work/backlog on first use)

const taskCount = Number(process.argv[2] ?? 5000);
const loads = Number(process.argv[3] ?? 5);
const changes = Number(process.argv[4] ?? 200);
const peerChanges = Math.min(changes, Number(process.argv[5] ?? 50));
/** Whether change i is made on this board too (Backlog.md's: spread evenly over the run). */
const changesOn = (b: Board, i: number): boolean =>
  b.name === 'tasklane' || Math.floor((i * peerChanges) / changes) !== Math.floor(((i + 1) * peerChanges) / changes);
const LIST = 'bench';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
const now = () => performance.timeOrigin + performance.now();

interface Board {
  name: 'tasklane' | 'backlog';
  url: string;
  server: ChildProcess;
  /** Changes task `n`'s subject or title to `text` with the tool's CLI. */
  edit(n: number, text: string): Promise<void>;
  /** When task `n`'s file was last written (epoch ms): the change's own moment, CLI start-up and exit aside. */
  writtenAt(n: number): number;
}

// Installed in every page before its scripts: stamps the first time each awaited text appears.
const OBSERVER = `
  window.__seen = new Map();
  window.__awaited = new Set(JSON.parse(sessionStorage.getItem('__awaited') || '[]'));
  window.__await = (text) => { window.__awaited.add(text); window.__check(document.body); };
  window.__check = (node) => {
    if (node === null || window.__awaited.size === 0) return;
    const t = node.nodeType === 3 ? node.data : node.textContent;
    if (!t) return;
    for (const want of window.__awaited) {
      if (t.includes(want)) {
        window.__awaited.delete(want);
        window.__seen.set(want, performance.timeOrigin + performance.now());
      }
    }
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'characterData') window.__check(r.target);
      else for (const n of r.addedNodes) window.__check(n);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
`;

function runCli(cmd: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, encoding: 'utf8' }, (err, _out, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** Starts a server and resolves with the first http URL it prints. */
function startServer(
  cmd: string,
  args: string[],
  cwd: string,
  name: Board['name'],
): Promise<{ url: string; server: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const server = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (c: Buffer): void => {
      out += c;
      const m = /https?:\/\/(127\.0\.0\.1|localhost):\d+\/?\S*/.exec(out);
      if (m) resolve({ url: m[0], server });
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code) => reject(new Error(`${name} board exited ${code}: ${out}`)));
  });
}

async function waitFor(page: Page, text: string, timeoutMs: number): Promise<number> {
  await page.evaluate((t) => (globalThis as unknown as { __await(t: string): void }).__await(t), text);
  const handle = await page.waitForFunction(
    (t) => (globalThis as unknown as { __seen: Map<string, number> }).__seen.get(t),
    text,
    { timeout: timeoutMs, polling: 50 },
  );
  return (await handle.jsonValue()) as number;
}

const machineInfo = printMachine();
if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`);
ensureBacklog();
const base = freshDir(`board-${taskCount}`);
const tasks = generateTasks(taskCount);
const { tasklaneRoot, backlogRepo } = writeBothTools(base, LIST, tasks);
// The task whose subject is awaited on load and then edited: the first with no blockers, which
// both boards show at the top of their first column.
const probe = tasks.find((t) => t.deps.length === 0) ?? (tasks[0] as (typeof tasks)[number]);

const tl = await startServer(
  NODE,
  [CLI, 'board', '--no-open', '--port', '0', '--dir', tasklaneRoot, '--list', LIST],
  base,
  'tasklane',
);
const bl = await startServer(
  BACKLOG_BIN,
  ['browser', '--port', '6427', '--no-open', '--non-interactive'],
  backlogRepo,
  'backlog',
);
const boards: Board[] = [
  {
    name: 'tasklane',
    ...tl,
    edit: (n, text) =>
      runCli(NODE, [CLI, 'update', String(n), '--subject', text, '--dir', tasklaneRoot, '--list', LIST], base),
    writtenAt: (n) => statSync(join(tasklaneRoot, LIST, `${n}.json`)).mtimeMs,
  },
  {
    name: 'backlog',
    ...bl,
    edit: (n, text) => runCli(BACKLOG_BIN, ['task', 'edit', String(n), '--title', text], backlogRepo),
    // Backlog.md renames a task's file after its title: find it by its id.
    writtenAt: (n) => {
      const dir = join(backlogRepo, 'backlog', 'tasks');
      const file = readdirSync(dir).find((f) => f.startsWith(`task-${n} - `));
      if (file === undefined) throw new Error(`backlog: no file for task ${n} in ${dir}`);
      return statSync(join(dir, file)).mtimeMs;
    },
  },
];

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  console.log(`\n${taskCount} tasks; Chromium ${browser.version()}; Backlog.md ${BACKLOG_VERSION}; load ${load()}`);

  // ---- load ----
  const loadMs: Record<Board['name'], number[]> = { tasklane: [], backlog: [] };
  for (let round = 0; round < loads; round++) {
    const order = round % 2 === 0 ? boards : [...boards].reverse();
    for (const b of order) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addInitScript(
        `sessionStorage.setItem('__awaited', ${JSON.stringify(JSON.stringify([probe.title]))});${OBSERVER}`,
      );
      const page = await context.newPage();
      await page.goto(b.url, { waitUntil: 'commit' });
      const seenAt = await page.waitForFunction(
        (t) => (globalThis as unknown as { __seen: Map<string, number> }).__seen.get(t),
        probe.title,
        { timeout: 120_000, polling: 50 },
      );
      const origin = await page.evaluate(() => performance.timeOrigin);
      const ms = ((await seenAt.jsonValue()) as number) - origin;
      loadMs[b.name].push(ms);
      console.log(`  load ${round + 1} ${b.name}: ${ms.toFixed(0)} ms (load ${load()})`);
      await context.close();
    }
  }

  // ---- change to display ----
  const pages = new Map<Board['name'], Page>();
  for (const b of boards) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript(OBSERVER);
    const page = await context.newPage();
    await page.goto(b.url);
    await waitFor(page, probe.title, 120_000);
    pages.set(b.name, page);
  }
  const lat: Record<Board['name'], { fromWrite: number[]; fromExit: number[]; fromSpawn: number[] }> = {
    tasklane: { fromWrite: [], fromExit: [], fromSpawn: [] },
    backlog: { fromWrite: [], fromExit: [], fromSpawn: [] },
  };
  const missed: Record<Board['name'], { change: number; text: string; shownAfterTimeout: boolean; error: string }[]> = {
    tasklane: [],
    backlog: [],
  };
  for (let i = 0; i < changes; i++) {
    const order = (i % 2 === 0 ? boards : [...boards].reverse()).filter((b) => changesOn(b, i));
    for (const b of order) {
      const page = pages.get(b.name) as Page;
      const text = `${probe.title} change ${i} ${Math.random().toString(36).slice(2, 8)}`;
      await page.evaluate((t) => (globalThis as unknown as { __await(t: string): void }).__await(t), text);
      const spawnedAt = now();
      await b.edit(probe.n, text);
      const exitedAt = now();
      let seenAt: number;
      try {
        const handle = await page.waitForFunction(
          (t) => (globalThis as unknown as { __seen: Map<string, number> }).__seen.get(t),
          text,
          { timeout: 30_000, polling: 20 },
        );
        seenAt = (await handle.jsonValue()) as number;
      } catch (err) {
        // Not shown within 30 s: counted as missed, with what the page shows for the task now.
        const shown = await page.evaluate(
          (want) =>
            (
              globalThis as unknown as { document: { body: { textContent: string | null } } }
            ).document.body.textContent?.includes(want) ?? false,
          text,
        );
        missed[b.name].push({
          change: i,
          text,
          shownAfterTimeout: shown,
          error: (err as Error).message.split('\n')[0] as string,
        });
        console.log(`  ${b.name} change ${i} not shown within 30 s (in the page now: ${shown}; load ${load()})`);
        continue;
      }
      lat[b.name].fromWrite.push(seenAt - b.writtenAt(probe.n));
      lat[b.name].fromExit.push(seenAt - exitedAt);
      lat[b.name].fromSpawn.push(seenAt - spawnedAt);
    }
    if ((i + 1) % 50 === 0) console.log(`  ${i + 1} of ${changes} changes (load ${load()})`);
  }

  const pct = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
  };
  const summary: Record<string, unknown> = {};
  console.log(`\nresults (${taskCount} tasks):`);
  for (const b of boards) {
    const l = lat[b.name];
    const row = {
      loadMedianMs: median(loadMs[b.name]),
      loadMs: loadMs[b.name].map((x) => Math.round(x)),
      changeFromWrite: { p50: pct(l.fromWrite, 50), p99: pct(l.fromWrite, 99), max: Math.max(...l.fromWrite) },
      changeFromExit: { p50: pct(l.fromExit, 50), p99: pct(l.fromExit, 99) },
      changeFromSpawn: { p50: pct(l.fromSpawn, 50), p99: pct(l.fromSpawn, 99) },
      shown: l.fromWrite.length,
      missed: missed[b.name],
    };
    summary[b.name] = row;
    console.log(
      `  ${b.name}: load median ${row.loadMedianMs.toFixed(0)} ms (${row.loadMs.join(', ')}); ` +
        `change shown after its file was written p50 ${row.changeFromWrite.p50.toFixed(0)} ms, p99 ${row.changeFromWrite.p99.toFixed(0)} ms, ` +
        `max ${row.changeFromWrite.max.toFixed(0)} ms; after the CLI exited p50 ${row.changeFromExit.p50.toFixed(0)} ms, ` +
        `p99 ${row.changeFromExit.p99.toFixed(0)} ms; after it was spawned p50 ${row.changeFromSpawn.p50.toFixed(0)} ms, p99 ${row.changeFromSpawn.p99.toFixed(0)} ms; ` +
        `${row.shown} of ${b.name === 'tasklane' ? changes : peerChanges} shown within 30 s`,
    );
  }
  const ratio = median(loadMs.backlog.map((b, i) => b / (loadMs.tasklane[i] as number)));
  console.log(`  load, backlog / tasklane: ${ratio.toFixed(2)}x (median of per-round ratios)`);
  console.log(
    `results: ${saveResults(`board-${taskCount}`, { machine: machineInfo, taskCount, loads, changes, summary })}`,
  );
} finally {
  await browser.close();
  for (const b of boards) b.server.kill('SIGTERM');
}
