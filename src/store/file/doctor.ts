import { existsSync, lstatSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareIds,
  cycleFor,
  findCycles,
  formatDuration,
  missingReferences,
  oneSidedEdges,
  type Task,
} from '../../model/index.js';
import { cycleProblem, missingReferenceProblem, oneSidedEdgeProblem } from '../doctor-problems.js';
import type { DoctorOptions, DoctorProblem, DoctorReport } from '../types.js';
import { STALE_MS, tryLock } from './lock.js';
import { holderAlive, judgeLock, readHolder, thisProcess } from './lock-holder.js';
import { scanList, taskFileName } from './task-files.js';

// `tasklane doctor` for the file store: finds what a crash or another program can leave in a list
// directory, and with `fix` repairs what is safe. It never rewrites an invalid file (it may be a
// user's or Claude Code's, mid-edit) and never breaks a cycle (which edge to drop is a decision):
// for those it says how.

/** What the doctor needs from the store: its directory, its locks and its journaled write. */
export interface DoctorHost {
  listId: string;
  listDir: string;
  withListLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Re-reads task `id` under its lock and writes `edit`'s result as a dependency change (undefined: no change). */
  editTask(id: string, edit: (task: Task) => Task | undefined, actor: string): Promise<void>;
}

export async function runDoctor(host: DoctorHost, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const fix = opts.fix === true;
  const actor = opts.actor ?? 'tasklane-doctor';
  // Debris first: a stale list lock would otherwise make the repairs below wait for its takeover.
  const problems = debris(host.listDir, fix);
  const edges = async (): Promise<DoctorProblem[]> => checkTasks(host, fix, actor);
  problems.push(...(fix && existsSync(host.listDir) ? await host.withListLock(edges) : await edges()));
  return {
    list: host.listId,
    location: host.listDir,
    problems,
    consistent: problems.every((p) => p.fixed !== undefined),
  };
}

async function checkTasks(host: DoctorHost, fix: boolean, actor: string): Promise<DoctorProblem[]> {
  const { tasks, invalid, deleted } = scanList(host.listDir);
  const problems: DoctorProblem[] = [];
  for (const err of invalid) {
    problems.push({
      kind: 'invalid-file',
      message: err.message,
      ...(err.file === undefined ? {} : { file: err.file }),
      advice:
        'repair the file by hand, or move it out of the list directory; until then dependency changes are refused (a cycle check cannot see it)',
    });
  }
  // A file that exists but is invalid is not a missing task: its references stay. A deleted
  // task's tombstone (project lists) is not a task: references to it are missing.
  const exists = (id: string): boolean =>
    tasks.has(id) || (!deleted.has(taskFileName(id)) && existsSync(join(host.listDir, taskFileName(id))));

  for (const ref of missingReferences(tasks, exists)) {
    const problem = missingReferenceProblem(ref);
    if (fix) {
      await host.editTask(
        ref.task,
        (t) =>
          t[ref.field].includes(ref.missing) && !exists(ref.missing)
            ? { ...t, [ref.field]: t[ref.field].filter((x) => x !== ref.missing) }
            : undefined,
        actor,
      );
      problem.fixed = `removed #${ref.missing} from #${ref.task}'s ${ref.field}`;
    } else {
      problem.advice = 'tasklane doctor --fix removes the reference';
    }
    problems.push(problem);
  }

  const cycles = findCycles(tasks);
  for (const edge of oneSidedEdges(tasks)) {
    const { problem, holder, other, field } = oneSidedEdgeProblem(edge);
    const cycle = cycleFor(tasks, edge.blocker, edge.blocked);
    if (cycle !== undefined) {
      problem.advice = `completing it would make the cycle ${cycle.join(' -> ')} whole: break the cycle first (tasklane dep rm ${edge.blocker} ${edge.blocked} drops this edge)`;
    } else if (invalid.length > 0) {
      problem.advice =
        'not completed while an invalid file hides part of the list (completing it could close a cycle): repair the invalid files first';
    } else if (fix) {
      await host.editTask(
        other,
        (t) => (t[field].includes(holder) ? undefined : { ...t, [field]: [...t[field], holder] }),
        actor,
      );
      problem.fixed = `added #${holder} to #${other}'s ${field}`;
    } else {
      problem.advice = 'tasklane doctor --fix writes the missing side';
    }
    problems.push(problem);
  }

  for (const cycle of cycles) problems.push(cycleProblem(cycle));
  return problems;
}

// ---- debris: temp files and locks of processes that died ----

/**
 * `.<name>.tmp-<pid>-<n>` (and the older `.<name>.tmp-<pid>`): writeFileDurable's temp files; and
 * `.<name>.tmp-<pid>-prev<n>`: the previous version a commit keeps until it is acknowledged (commit.ts).
 */
const TEMP_FILE = /^\.(.+)\.tmp-([0-9]+)(?:-(?:prev)?[0-9]+)?$/;

function debris(listDir: string, fix: boolean): DoctorProblem[] {
  let names: string[];
  try {
    names = readdirSync(listDir);
  } catch {
    return [];
  }
  const problems: DoctorProblem[] = [];
  const now = Date.now();
  for (const name of names.sort()) {
    const path = join(listDir, name);
    const temp = TEMP_FILE.exec(name);
    if (temp !== null) {
      const pid = Number(temp[2]);
      if (processAlive(pid)) continue; // a write in progress
      const problem: DoctorProblem = {
        kind: 'temp-file',
        message: `${path}: temp file of a write by process ${pid}, which is gone (the write never landed)`,
        file: path,
      };
      if (fix) {
        removeQuietly(() => unlinkSync(path));
        problem.fixed = 'removed it';
      } else {
        problem.advice = 'tasklane doctor --fix removes it';
      }
      problems.push(problem);
      continue;
    }
    const lock = lockDirOf(name);
    if (lock === undefined) continue;
    let stale: string | undefined;
    try {
      if (!lstatSync(path).isDirectory()) continue;
      stale = staleLockReason(path, now);
    } catch {
      continue; // released meanwhile
    }
    if (stale === undefined) continue;
    const problem: DoctorProblem = {
      kind: 'stale-lock',
      message: `${path}: lock ${stale}; the next command that needs it waits for its takeover`,
      file: path,
    };
    if (fix) {
      problem.fixed = removeStaleLock(listDir, name, lock);
      if (problem.fixed === undefined) continue; // taken by a live process meanwhile: not a problem
    } else {
      problem.advice = 'tasklane doctor --fix removes it';
    }
    problems.push(problem);
  }
  return problems.sort((a, b) => compareIds(a.file ?? '', b.file ?? ''));
}

/** A lock directory's kind by name: a lock (`<target>.lock`) or one moved aside to be discarded. */
function lockDirOf(name: string): { target: string } | { aside: true } | undefined {
  if (/\.lock\.stale-[0-9]+-[a-z0-9]+$/.test(name)) return { aside: true };
  if (name.endsWith('.lock')) return { target: name.slice(0, -'.lock'.length) };
  return undefined;
}

/**
 * Why a lock directory is stale, or undefined if a holder may still be using it. The one place the
 * doctor judges a lock: by age today (a live holder refreshes it every 5 s); point it at the
 * holder record when lock.ts keeps one.
 */
export function staleLockReason(path: string, now: number): string | undefined {
  const st = lstatSync(path);
  // The lock protocol's own judgement (lock-holder.ts): a Tasklane holder by liveness, however
  // old its lock looks (it may be paused); any other lock by age.
  const verdict = judgeLock(
    { ino: st.ino, birthtimeMs: st.birthtimeMs, mtimeMs: st.mtimeMs },
    readHolder(path),
    thisProcess(),
    now,
    STALE_MS,
    (record) => holderAlive(record),
  );
  if (!verdict.take) return undefined;
  if (verdict.why === 'dead' && verdict.holder !== undefined) {
    return `held by Tasklane process ${verdict.holder.pid} on ${verdict.holder.host}, which is gone`;
  }
  return `untouched for ${formatDuration(now - st.mtimeMs)} (a live holder refreshes it every 5 s)`;
}

/** Removes a stale lock through the lock protocol (take it over, then release), so a live taker is never disturbed. */
function removeStaleLock(
  listDir: string,
  name: string,
  lock: { target: string } | { aside: true },
): string | undefined {
  if ('aside' in lock) {
    removeQuietly(() => rmSync(join(listDir, name), { recursive: true, force: true }));
    return 'removed it';
  }
  const handle = tryLock(join(listDir, lock.target));
  if (handle === undefined) return undefined;
  handle.release();
  return 'took it over and released it';
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
