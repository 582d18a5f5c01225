#!/usr/bin/env node
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { TaskLog } from './log-file.js';
import type { PaneJob, PaneStatus } from './tmux.js';

// Runs inside a tmux window (see tmux.ts): starts the agent, shows its output in the pane while
// appending it to the task's log, writes the exit status, and signals the wait-for channel.
// Type-only imports and log-file.ts: this loads nothing but node built-ins.

const jobPath = process.argv[2];
if (jobPath === undefined) {
  process.stderr.write('usage: tmux-pane JOB_FILE\n');
  process.exit(2);
}
const job = JSON.parse(readFileSync(jobPath, 'utf8')) as PaneJob;
unlinkSync(jobPath); // it holds the agent's environment

let log: TaskLog | undefined;
let out: number | undefined;

function finish(status: PaneStatus): never {
  log?.close();
  if (out !== undefined) closeSync(out);
  try {
    writeFileSync(`${job.statusPath}.tmp`, JSON.stringify(status));
    renameSync(`${job.statusPath}.tmp`, job.statusPath);
  } finally {
    // Whatever happened, wake the executor: it waits on this channel and nothing else.
    try {
      execFileSync('tmux', ['wait-for', '-S', job.channel], { stdio: 'ignore' });
    } catch {}
  }
  process.exit(status.code ?? 1);
}

process.on('uncaughtException', (e) => {
  process.stderr.write(`tasklane pane: ${e.message}\n`);
  finish({ code: null, signal: null, spawnError: `the tmux pane failed: ${e.message}` });
});

// The same capped, rotated log as an agent run outside tmux (log-file.ts).
log = new TaskLog(job.logPath, job.logMaxBytes);
out = openSync(job.stdoutPath, 'w');
if (job.logHeader !== undefined) log.write(job.logHeader);
const taskLog = log;
const outFd = out;
let outBytes = 0;

// SIGTERM reaches the whole pane group, the agent included: wait for it to end and report that.
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});

const [program, ...args] = job.argv;
const child = spawn(program as string, args, { cwd: job.cwd, env: job.env, stdio: ['pipe', 'pipe', 'pipe'] });
child.on('error', (e) => {
  taskLog.write(`tasklane: cannot start ${program}: ${e.message}\n`);
  finish({ code: null, signal: null, spawnError: `cannot start ${program}: ${e.message}` });
});
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  taskLog.write(chunk);
  if (outBytes < job.stdoutLimit) {
    const part = chunk.subarray(0, job.stdoutLimit - outBytes);
    writeSync(outFd, part);
    outBytes += part.length;
  }
});
child.stderr.on('data', (chunk: Buffer) => {
  process.stderr.write(chunk);
  taskLog.write(chunk);
});
child.stdin.on('error', () => {});
child.stdin.end(job.stdin);
child.on('close', (code, signal) => finish({ code, signal }));
// A process the agent started (and left running) may hold its output open: once the agent has
// exited, report after a moment for the pipes to drain, whether they closed or not. The executor
// then stops whatever was left.
child.on('exit', (code, signal) => {
  setTimeout(() => finish({ code, signal }), 200);
});
