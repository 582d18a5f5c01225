import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

// Everything one agent started, so that stopping it leaves nothing behind. The agent leads its own
// process group, but a process it starts may call setsid (a daemon, a dev server, `setsid cmd`) and
// leave the group; once its parent exits it is re-parented to init and no ppid chain leads to it.
// So, on Linux, a process belongs to the agent when any of these holds:
//  - it is in the agent's process group;
//  - its parent is the agent or belongs to it: recorded by a sweep of /proc every second while the
//    agent runs, and kept (pid with its start time, so a reused pid is never signalled) after the
//    parent is gone;
//  - its environment carries the agent's marker (TASKLANE_AGENT_RUN, set by the runner and
//    inherited by default), read from /proc/PID/environ when the agent is stopped or ends.
// A process that escapes all three (it drops the variable, and it and its parent both start and
// leave between two sweeps) is not found. Elsewhere than Linux, only the process group is.

export const MARKER_VAR = 'TASKLANE_AGENT_RUN';

/** A fresh marker for one agent run: the runner's pid and random bytes. */
export function newMarker(): string {
  return `${process.pid}.${randomBytes(8).toString('hex')}`;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
  start: string;
}

export class ProcessTree {
  /** pid -> its start time (clock ticks since boot), for every process found to belong to the agent. */
  private readonly known = new Map<number, string>();
  private readonly linux = process.platform === 'linux';
  /** The agent's start time: a process started before it cannot be its descendant. */
  private readonly rootStart: number;

  constructor(
    /** The agent's pid, which is also its process group id. */
    readonly rootPid: number,
    private readonly marker?: string,
  ) {
    const root = this.linux ? readProc(rootPid) : undefined;
    if (root !== undefined) this.known.set(rootPid, root.start);
    this.rootStart = root === undefined ? 0 : Number(root.start);
  }

  /** Records the agent's processes now running; `deep` also reads every process's environment for the marker. `procs`: a read of /proc made just now. */
  sweep(deep: boolean, procs?: ProcInfo[]): void {
    if (!this.linux) return;
    procs ??= readAllProcs();
    const startOf = new Map(procs.map((p) => [p.pid, p.start]));
    let grew = true;
    while (grew) {
      grew = false;
      for (const p of procs) {
        if (this.known.get(p.pid) === p.start) continue;
        const parentStart = this.known.get(p.ppid);
        const belongs =
          p.pgrp === this.rootPid ||
          (parentStart !== undefined && parentStart === startOf.get(p.ppid)) ||
          // Environments only of processes started since the agent: reading every one costs.
          (deep && this.marker !== undefined && Number(p.start) >= this.rootStart && carriesMarker(p.pid, this.marker));
        if (belongs) {
          this.known.set(p.pid, p.start);
          grew = true;
        }
      }
    }
  }

  /** Signals the agent's group and every process recorded as its own (after a deep sweep). */
  signal(signal: NodeJS.Signals): void {
    this.sweep(true);
    send(-this.rootPid, signal);
    for (const pid of this.livePids()) send(pid, signal);
  }

  /** Whether any of the agent's processes is still running (zombies do not count). */
  alive(): boolean {
    if (!this.linux) return groupExists(this.rootPid);
    if (groupExists(this.rootPid) && groupHasLiveMember(this.rootPid)) return true;
    return this.livePids().length > 0;
  }

  /** Recorded processes that still run as the same process (same start time), not zombies. */
  private livePids(): number[] {
    const out: number[] = [];
    for (const [pid, start] of this.known) {
      const p = readProc(pid);
      if (p === undefined || p.start !== start) {
        this.known.delete(pid);
        continue;
      }
      if (p.state !== 'Z' && p.state !== 'X') out.push(pid);
    }
    return out;
  }
}

/**
 * Stops a process tree: SIGTERM now, SIGKILL after the grace period to whatever is left.
 * `settled` resolves as soon as nothing is left, not at the end of the grace period.
 */
export class TreeKiller {
  private killTimer: NodeJS.Timeout | undefined;
  private terminated = false;
  private killed = false;

  constructor(
    readonly tree: ProcessTree,
    private readonly graceMs: number,
  ) {}

  alive(): boolean {
    return this.tree.alive();
  }

  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.tree.signal('SIGTERM');
    this.killTimer = setTimeout(() => this.kill(), this.graceMs);
  }

  /** SIGKILL now (the grace period ran out, or a second Ctrl-C). */
  kill(): void {
    this.terminated = true;
    this.killed = true;
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
    this.tree.signal('SIGKILL');
  }

  /** Resolves when nothing of the tree is left: SIGTERM first if that was not sent, SIGKILL after the grace period. */
  async settled(): Promise<void> {
    // A child that left the group may not have been recorded yet (the agent was quick): look now.
    this.tree.sweep(true);
    if (!this.tree.alive()) return this.clear();
    this.terminate();
    // Polled: there is no event for "a process that is not our child ended".
    for (let waited = 0; this.tree.alive(); waited += 25) {
      // After SIGKILL, a process in uninterruptible sleep may take a moment; do not wait forever.
      if (this.killed && waited > this.graceMs + 2000) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    this.clear();
  }

  private clear(): void {
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
  }
}

function send(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {} // ESRCH: already gone
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a process group has a live member. Zombies do not count: where nothing reaps orphans
 * promptly (a container whose init does not), a killed agent's children linger as zombies, and
 * waiting for them would only add the grace period to every task.
 */
function groupHasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    if (!isPidName(name)) continue;
    const p = readProc(Number(name));
    if (p !== undefined && p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X') return true;
  }
  return false;
}

function readAllProcs(): ProcInfo[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const name of entries) {
    if (!isPidName(name)) continue;
    const p = readProc(Number(name));
    if (p !== undefined) out.push(p);
  }
  return out;
}

function isPidName(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 48 && c <= 57;
}

function readProc(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice threads itrealvalue starttime ...; comm may hold spaces and parentheses.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: f[0] ?? '', ppid: Number(f[1]), pgrp: Number(f[2]), start: f[19] ?? '' };
}

function carriesMarker(pid: number, marker: string): boolean {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return false; // another user's process, or gone
  }
  const entry = `${MARKER_VAR}=${marker}`;
  const at = environ.indexOf(entry);
  if (at < 0) return false;
  const before = at === 0 || environ.charCodeAt(at - 1) === 0;
  const after = at + entry.length === environ.length || environ.charCodeAt(at + entry.length) === 0;
  return before && after;
}

/** The agents this process runs now, for Ctrl-Z: they are in process groups of their own, which the terminal does not stop. */
const runningTrees = new Set<ProcessTree>();

/** While agents run, their descendants are recorded this often. */
const SWEEP_MS = 1000;
let sweeper: NodeJS.Timeout | undefined;

/**
 * Registers a running agent's tree, recorded by the periodic sweep while it runs; the returned
 * function unregisters it. One read of /proc a period serves every running agent: one timer per
 * agent read all of /proc once per agent (8 reads a second at -j 8) on the thread that starts the
 * next task.
 */
export function registerRunning(tree: ProcessTree): () => void {
  runningTrees.add(tree);
  if (sweeper === undefined) {
    sweeper = setInterval(sweepRunning, SWEEP_MS);
    sweeper.unref();
  }
  return () => {
    runningTrees.delete(tree);
    if (runningTrees.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
}

function sweepRunning(): void {
  const procs = process.platform === 'linux' ? readAllProcs() : [];
  for (const tree of runningTrees) tree.sweep(false, procs);
}

/** Stops (SIGSTOP) or resumes (SIGCONT) every running agent with all it started: the run's Ctrl-Z and `fg`. */
export function signalRunningAgents(signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const tree of runningTrees) tree.signal(signal);
}
