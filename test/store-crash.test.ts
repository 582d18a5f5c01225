import assert from 'node:assert/strict';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { listDirName, revisionOf } from '../src/model/index.js';
import { scanList } from '../src/store/file/task-files.js';
import { start } from './fixtures/store/procs.js';
import { tempDir } from './helpers.js';

// Issue 2's crash acceptance: a writer process killed with SIGKILL at a random moment leaves no torn
// file and loses no write it acknowledged; locks it leaves behind are taken over by the next writer
// once stale (we age them by 20 s instead of waiting 10 s).

const TRIALS = 200;
const LANES = 2; // trials run in two independent lists at once, one writer each
const MAX_KILL_DELAY_MS = 150;

/** Makes a path and everything under it look `seconds` old, as if that much time had passed. */
function age(path: string, seconds: number): void {
  const then = new Date(Date.now() - seconds * 1000);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) age(join(path, name), seconds);
  utimesSync(path, then, then);
}

interface LeftLock {
  name: string;
  /** Identity: ext4 hands a freed inode number straight to the next directory, so the birth time too. */
  ino: number;
  birthtimeMs: number;
}

/** Lock directories in the list directory: the list's `.lock.lock` and tasks' `<id>.json.lock`. */
function lockDirs(listDir: string): LeftLock[] {
  return readdirSync(listDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name.endsWith('.lock'))
    .map((e) => {
      const st = statSync(join(listDir, e.name));
      return { name: e.name, ino: st.ino, birthtimeMs: st.birthtimeMs };
    });
}

function stillThere(listDir: string, lock: LeftLock): boolean {
  try {
    const st = statSync(join(listDir, lock.name));
    return st.ino === lock.ino && st.birthtimeMs === lock.birthtimeMs;
  } catch {
    return false;
  }
}

interface Lane {
  list: string;
  listDir: string;
  /** The highest revision acknowledged for each task. */
  acked: Map<string, number>;
  maxId: number;
  /** Locks left by the last killed writer, aged so they are stale. */
  left: LeftLock[];
  leftTotal: number;
  takenOver: number;
  acks: number;
}

/** The ids of tasks whose locks are in `left` (the next writer updates those first). */
function lockedIds(left: LeftLock[]): string[] {
  return left.filter((l) => l.name !== '.lock.lock').map((l) => l.name.slice(0, -'.json.lock'.length));
}

/** Every task file parses and is valid, and every acknowledged revision is on disk. */
function checkFiles(lane: Lane, when: string): void {
  const { tasks, invalid } = scanList(lane.listDir);
  assert.deepEqual(
    invalid.map((e) => e.message),
    [],
    `${when}: no torn or invalid task file`,
  );
  for (const [id, rev] of lane.acked) {
    const task = tasks.get(id);
    assert.ok(task !== undefined, `${when}: acknowledged task ${id} exists`);
    assert.ok(revisionOf(task) >= rev, `${when}: task ${id} is at rev ${revisionOf(task)}, ${rev} was acknowledged`);
  }
}

/** Runs one writer; kills it `killAfterMs` after it is ready (or lets it finish when undefined). */
async function runWriter(
  dir: string,
  lane: Lane,
  maxOps: number,
  killAfterMs: number | undefined,
): Promise<string[][]> {
  const first = lockedIds(lane.left);
  const writer = start('writer', [dir, lane.list, String(lane.maxId), first.join(',') || '-', String(maxOps)]);
  await writer.line((l) => l === 'ready');
  if (killAfterMs !== undefined) {
    await new Promise((r) => setTimeout(r, killAfterMs));
    writer.child.kill('SIGKILL');
  }
  const exit = await writer.exit;
  const expected = killAfterMs === undefined ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' };
  assert.deepEqual(
    exit,
    expected,
    `the writer ended only by ${expected.signal ?? 'finishing'}: ${writer.lines.slice(-2).join(' | ')} ${writer.stderr()}`,
  );
  const acks = writer.lines.filter((l) => l.startsWith('ack ')).map((l) => l.split(' ').slice(1));
  for (const [id, rev] of acks) {
    lane.acked.set(id!, Math.max(lane.acked.get(id!) ?? 0, Number(rev)));
    lane.maxId = Math.max(lane.maxId, Number(id));
  }
  lane.acks += acks.length;
  // The writer updates the locked tasks first, then creates (taking the list lock): once it has
  // acknowledged more than those updates, it has taken over every lock the last writer left.
  if (acks.length > first.length) {
    for (const lock of lane.left) {
      assert.ok(!stillThere(lane.listDir, lock), `the stale lock ${lock.name} left by a killed writer was taken over`);
    }
    lane.takenOver += lane.left.length;
  }
  return acks;
}

it(`${TRIALS} writers killed with SIGKILL at a random moment: no torn file, no acknowledged write lost`, async (t) => {
  const dir = tempDir();
  const lanes: Lane[] = Array.from({ length: LANES }, (_, n) => {
    const list = `crash-${n}`;
    return {
      list,
      listDir: join(dir, listDirName(list)),
      acked: new Map(),
      maxId: 0,
      left: [],
      leftTotal: 0,
      takenOver: 0,
      acks: 0,
    };
  });

  await Promise.all(
    lanes.map(async (lane) => {
      for (let trial = 0; trial < TRIALS / LANES; trial++) {
        await runWriter(dir, lane, -1, Math.random() * MAX_KILL_DELAY_MS);
        checkFiles(lane, `${lane.list} trial ${trial}`);
        // Locks the killed writer held: make them (and any takeover guard inside) 20 s old.
        lane.left = lockDirs(lane.listDir);
        for (const lock of lane.left) age(join(lane.listDir, lock.name), 20);
        lane.leftTotal += lane.left.length;
      }
      // A last writer, not killed, must get through every lock still left and finish.
      await runWriter(dir, lane, lockedIds(lane.left).length + 3, undefined);
      checkFiles(lane, `${lane.list} after the last writer`);
      assert.deepEqual(lockDirs(lane.listDir), [], `${lane.list}: no lock is left once the last writer is done`);
    }),
  );
  for (const lane of lanes) {
    t.diagnostic(
      `${lane.list}: ${lane.acks} acknowledged writes, ${lane.acked.size} tasks, ${lane.leftTotal} locks left by killed writers, ${lane.takenOver} seen taken over by the next writer`,
    );
  }
});
