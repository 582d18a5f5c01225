import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';

// One process of bench/claim-syscalls: a claim's system calls and nothing else, for `n` tasks of
// its own (ids idx, idx + procs, ...), starting at the epoch ms `startAt` so all begin together.
// With `locked`, the journal append is made under a lock taken by retrying symlink() at once.
// Prints {"ms": the loop's wall time}.
//
//   node dist/bench/lib/syscall-claimer.js DIR IDX N PROCS START_AT locked|unlocked

const [dir, idxText, nText, procsText, startText, mode] = process.argv.slice(2) as string[];
const [idx, n, procs, startAt] = [idxText, nText, procsText, startText].map(Number) as number[];
const body = 'x'.repeat(600);
const dirFd = openSync(dir as string, 'r');
const journalLock = `${dir}/.journal.lock`;
while (Date.now() < (startAt as number)) {}
const t0 = performance.now();
for (let k = 0; k < (n as number); k++) {
  const file = `${dir}/${(idx as number) + k * (procs as number)}.json`;
  symlinkSync('tl1 holder', `${file}.lock`);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx');
  writeSync(fd, body);
  fdatasyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  fsyncSync(dirFd);
  unlinkSync(`${file}.lock`);
  if (mode === 'locked') {
    for (;;) {
      try {
        symlinkSync('tl1 journal', journalLock);
        break;
      } catch {}
    }
  }
  const jfd = openSync(`${dir}/journal.jsonl`, 'a');
  writeSync(jfd, `${body}\n`);
  if (mode === 'locked') unlinkSync(journalLock);
  fdatasyncSync(jfd);
  closeSync(jfd);
}
process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0 })}\n`);
