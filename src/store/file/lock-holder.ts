import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { formatDuration } from '../../model/duration.js';

// Who holds a Tasklane lock. proper-lockfile (Claude Code) judges a lock only by the age of its
// directory's mtime, so a Tasklane holder paused past 10 s (SIGSTOP, Ctrl-Z, a VM pause, a
// stalled fsync) looked dead and was overtaken. We record our holder beside the lock directory
// (never inside: Claude Code removes a stale lock with rmdir, which needs it empty), and judge a
// lock whose record is ours (this boot, this host, this very directory) by whether its process
// lives, however old the mtime. A lock without such a record (Claude Code's, another host's, or a
// record left for an earlier directory) is judged by age, as the protocol says.

/** The record of a Tasklane lock holder, in `.<lock dir name>.holder` beside the lock directory. */
export interface HolderRecord {
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  start?: string;
  /** /proc/sys/kernel/random/boot_id: a pid means nothing after a reboot. */
  boot?: string;
  host: string;
  /** The pid namespace (/proc/self/ns/pid): a container on the same kernel and host name numbers its processes apart. */
  ns?: string;
  /** The lock directory this record is for: its inode and birth time (0 where unsupported). */
  ino: number;
  birth: number;
  /** When the lock was taken (ms since the epoch). */
  since: number;
  /** In a compact record: a hash of boot, host and pid namespace, in place of the three. */
  machine?: string;
}

/** The identity of one lock directory instance. */
export interface LockInstance {
  ino: number;
  birthtimeMs: number;
}

export type LockVerdict =
  | { take: false; holder?: HolderRecord }
  /** `dead`: its Tasklane holder is gone (at once, whatever its age). `stale`: no live record, and older than the staleness age. */
  | { take: true; why: 'dead' | 'stale'; holder?: HolderRecord };

interface Here {
  pid: number;
  start: string | undefined;
  boot: string | undefined;
  host: string;
  ns: string | undefined;
}

let here: Here | undefined;

/** This process, as a holder record names it. */
export function thisProcess(): Here {
  here ??= {
    pid: process.pid,
    start: processStart(process.pid),
    boot: readTrimmed('/proc/sys/kernel/random/boot_id'),
    host: hostname(),
    ns: pidNamespace(),
  };
  return here;
}

/** This process as a holder record names it: pid, and where known its start time, boot, pid namespace. */
export function thisProcessRecord(): Pick<HolderRecord, 'pid' | 'start' | 'boot' | 'host' | 'ns'> {
  const me = thisProcess();
  return {
    pid: me.pid,
    ...(me.start === undefined ? {} : { start: me.start }),
    ...(me.boot === undefined ? {} : { boot: me.boot }),
    host: me.host,
    ...(me.ns === undefined ? {} : { ns: me.ns }),
  };
}

export function holderPath(lockDir: string): string {
  return join(dirname(lockDir), `.${basename(lockDir).replace(/^\./, '')}.holder`);
}

/** Whether a record names this very lock directory (a record left for an earlier one does not). */
export function recordIsFor(record: HolderRecord, lock: LockInstance): boolean {
  // To the microsecond: a compact record keeps the birth time in microseconds.
  return record.ino === lock.ino && Math.round(record.birth * 1000) === Math.round(lock.birthtimeMs * 1000);
}

/**
 * This machine and pid namespace in 11 characters: a hash of the boot id, the host name and the
 * pid namespace, which a holder must share with us for its pid to mean anything here. Undefined
 * without a boot id (then records are written whole, and judged by age).
 */
export function thisMachine(): string | undefined {
  const me = thisProcess();
  if (me.boot === undefined) return undefined;
  machine ??= createHash('sha256')
    .update(`${me.boot}\n${me.host}\n${me.ns ?? ''}`)
    .digest('base64url')
    .slice(0, 11);
  return machine;
}
let machine: string | undefined;

/** Whether a record's holder is a process of this machine and pid namespace, so its pid can be probed. */
export function isLocalHolder(holder: HolderRecord, me: Here): boolean {
  if (holder.machine !== undefined) return holder.machine === thisMachine();
  return holder.host === me.host && holder.boot !== undefined && holder.boot === me.boot && holder.ns === me.ns;
}

// The compact form of a record, `tl1 PID START MACHINE INO BIRTH` (numbers in base 36, START `-`
// when unknown, BIRTH in microseconds), at most 56 bytes: a symbolic link's target up to 59 bytes
// lives in its inode (ext4's "fast" links), so making and removing it frees no block. With the
// JSON record (about 200 bytes) each unlink cost 0.27 ms here, against 0.03 ms; two a claim.
// `since` is the link's own mtime. The journal lock's link is `tl1 PID START MACHINE NONCE`.
const COMPACT = 'tl1';

export function compactRecord(fields: string[]): string {
  return [COMPACT, ...fields].join(' ');
}

/** The fields of a compact record after its tag, or undefined when `text` is not one. */
export function compactFields(text: string): string[] | undefined {
  const parts = text.split(' ');
  return parts[0] === COMPACT ? parts.slice(1) : undefined;
}

/** The pid, start, machine of a compact record's first three fields (undefined when malformed). */
export function compactHolder(
  fields: string[],
  since: number,
): Pick<HolderRecord, 'pid' | 'start' | 'host' | 'machine' | 'since'> | undefined {
  const [pid, start, mach] = fields;
  const n = Number.parseInt(pid ?? '', 36);
  if (!Number.isSafeInteger(n) || n <= 0 || start === undefined || mach === undefined || mach === '') return undefined;
  const local = mach === thisMachine();
  return {
    pid: n,
    ...(start === '-' ? {} : { start: String(Number.parseInt(start, 36)) }),
    host: local ? thisProcess().host : 'another machine or container',
    machine: mach,
    since,
  };
}

/** This process's pid, start and machine as a compact record's first fields (undefined: no machine id). */
export function compactSelf(): string[] | undefined {
  const mach = thisMachine();
  if (mach === undefined) return undefined;
  const me = thisProcess();
  return [me.pid.toString(36), me.start === undefined ? '-' : Number(me.start).toString(36), mach];
}

/**
 * Whether a lock may be taken over now. Pure: the caller supplies the lock's stat, its record
 * (if any), this process, the clock and a liveness probe.
 */
export function judgeLock(
  lock: LockInstance & { mtimeMs: number },
  record: HolderRecord | undefined,
  me: Here,
  now: number,
  staleMs: number,
  isAlive: (record: HolderRecord) => boolean,
): LockVerdict {
  const holder = record !== undefined && recordIsFor(record, lock) ? record : undefined;
  // Only a holder among our own processes can be probed. Another boot of this host is judged by
  // age too: a lock from before a reboot is long stale anyway, and two machines can share a name.
  if (holder !== undefined && isLocalHolder(holder, me)) {
    if (isAlive(holder)) return { take: false, holder };
    // Without a birth time, an inode reused by a newer lock could match a dead holder's old
    // record: then only the age may say the lock is free.
    if (lock.birthtimeMs !== 0) return { take: true, why: 'dead', holder };
  }
  if (now - lock.mtimeMs > staleMs) return { take: true, why: 'stale', ...(holder === undefined ? {} : { holder }) };
  return { take: false, ...(holder === undefined ? {} : { holder }) };
}

/**
 * Whether the process a record names still runs: signal 0 (EPERM counts as alive), then, with
 * `checkStart`, its start time, which tells a reused pid or a zombie apart.
 */
export function holderAlive(record: HolderRecord, checkStart = true): boolean {
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (record.start === undefined || !checkStart) return true;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  const fields = statFields(stat);
  // A zombie (killed, not yet reaped) answers signal 0 but holds nothing; a different start time is a reused pid.
  return fields[0] !== 'Z' && fields[19] === record.start;
}

/**
 * Records this process as the holder of the lock directory `lockDir`. The record is a symbolic
 * link whose target is the record's JSON: made whole in one call (no temp file and rename, which
 * were two of the lock's directory updates), and read back with one readlink. A file system
 * without symbolic links gets a file, written whole and renamed in, as earlier versions wrote it.
 */
export function writeHolder(lockDir: string, lock: LockInstance): HolderRecord | undefined {
  const record: HolderRecord = {
    ...thisProcessRecord(),
    ino: lock.ino,
    birth: lock.birthtimeMs,
    since: Date.now(),
  };
  const path = holderPath(lockDir);
  const self = compactSelf();
  const text =
    self === undefined
      ? JSON.stringify(record)
      : compactRecord([...self, lock.ino.toString(36), Math.round(lock.birthtimeMs * 1000).toString(36)]);
  // No fsync: after a crash of the machine the boot id differs and the record is void anyway.
  try {
    symlinkSync(text, path);
    return record;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EEXIST: a record left by a holder that died, or by an earlier version: replaced below.
    if (code !== 'EEXIST' && code !== 'EPERM' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') return undefined;
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      try {
        unlinkSync(tmp); // left by a crash of this pid's earlier life
      } catch {}
      if (code === 'EEXIST') {
        try {
          symlinkSync(text, tmp);
        } catch (linkErr) {
          // A file left by a killed holder on a file system without symbolic links: a file again.
          const again = (linkErr as NodeJS.ErrnoException).code;
          if (again !== 'EPERM' && again !== 'EOPNOTSUPP' && again !== 'ENOSYS') throw linkErr;
          writeFileSync(tmp, text);
        }
      } else writeFileSync(tmp, text);
      renameSync(tmp, path);
      return record;
    } catch {
      // Without a record the lock is judged by age, as Claude Code's are: slower after a crash, never wrong.
      try {
        unlinkSync(tmp);
      } catch {}
      return undefined;
    }
  }
}

export function readHolder(lockDir: string): HolderRecord | undefined {
  const path = holderPath(lockDir);
  let text: string;
  try {
    text = readlinkSync(path);
  } catch (err) {
    // EINVAL: a plain file (a file system without symbolic links, or an earlier version's record).
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') return undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }
  const fields = compactFields(text);
  if (fields !== undefined) {
    let since = 0;
    try {
      since = lstatSync(path).mtimeMs; // the record was made when the lock was taken
    } catch {}
    const holder = compactHolder(fields, since);
    const ino = Number.parseInt(fields[3] ?? '', 36);
    const birthUs = Number.parseInt(fields[4] ?? '', 36);
    if (holder === undefined || !Number.isSafeInteger(ino) || !Number.isSafeInteger(birthUs)) return undefined;
    return { ...holder, ino, birth: birthUs / 1000 };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = value as Partial<HolderRecord> | null;
  if (
    r === null ||
    typeof r !== 'object' ||
    typeof r.pid !== 'number' ||
    typeof r.host !== 'string' ||
    typeof r.ino !== 'number' ||
    typeof r.birth !== 'number' ||
    typeof r.since !== 'number'
  ) {
    return undefined;
  }
  return r as HolderRecord;
}

/** Removes the record of `lockDir`; its caller has just confirmed the lock directory is still its own. */
export function removeHolder(lockDir: string): void {
  try {
    unlinkSync(holderPath(lockDir));
  } catch {}
}

/** One line naming a lock's holder, for errors. */
export function describeHolder(record: HolderRecord | undefined, mtimeMs: number, now: number): string {
  if (record === undefined) {
    return `held by another program (Claude Code, or Tasklane on another machine); its lock was last refreshed ${formatDuration(now - mtimeMs)} ago`;
  }
  const me = thisProcess();
  const where = record.host === me.host ? `on ${record.host}` : `on another host, ${record.host}`;
  return `held by Tasklane process pid ${record.pid} ${where} for ${formatDuration(now - record.since)}`;
}

function processStart(pid: number): string | undefined {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[19];
  } catch {
    return undefined;
  }
}

/** /proc/PID/stat from field 3 (state) on: the command name in field 2 may hold spaces and parentheses. */
function statFields(stat: string): string[] {
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

function readTrimmed(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}
