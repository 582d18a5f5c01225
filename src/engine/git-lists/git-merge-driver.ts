import { runMergeDriver } from './merge-driver.js';

// The program git runs for a task file changed on both sides (`merge.tasklane.driver`, written
// by `tasklane git setup`): git merge-driver.js BASE OURS THEIRS PATH (%O %A %B %P). A program of
// its own rather than `tasklane git merge-driver`, because git starts one per conflicting file:
// this one loads the merge rule and little else (a merge of 1,000 changed tasks starts it 1,000
// times; bench/git-merge.ts). Exit 0: OURS holds the merged file; 1: git leaves it in conflict.

const args = process.argv.slice(2);
if (args.length !== 4) {
  process.stderr.write('usage: git-merge-driver.js BASE OURS THEIRS PATH (git passes %O %A %B %P)\n');
  process.exit(2);
}
const [base, ours, theirs, path] = args as [string, string, string, string];
const outcome = runMergeDriver(base, ours, theirs, path, process.cwd());
// Task text reaches the terminal here: control characters shown, never sent.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
for (const line of outcome.messages) process.stderr.write(`${line.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')}\n`);
process.exitCode = outcome.code;
