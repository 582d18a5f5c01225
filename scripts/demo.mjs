#!/usr/bin/env node
// `npm run demo` (after the build): the example plan examples/webapp.md run by simulated agents,
// in a list in a new temporary directory that is removed at the end. It never runs a real agent
// unless one is asked for by name (`npm run demo -- --preset claude`), and never in a repository:
// the agents work in the temporary directory too.
//
//   node scripts/demo.mjs [--keep] [any `tasklane run` option]
//     --keep   leave the temporary directory (its list, logs and results) and say where it is

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--keep');
const keep = args.length < process.argv.length - 2;
const named = (flag) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
const agentAsked = named('--preset') || named('--agent');

const dir = mkdtempSync(join(tmpdir(), 'tasklane-demo-'));
const say = (line) => process.stderr.write(`demo: ${line}\n`);
say(`the list "webapp", its logs and results live in ${dir}`);
say(keep ? 'kept at the end (--keep)' : 'removed at the end (pass --keep to keep them)');
if (!agentAsked) say('simulated agents; ask for a real one by name, e.g. npm run demo -- --preset claude');

const argv = [
  join(root, 'dist', 'bundle', 'main.js'),
  'run',
  join(root, 'examples', 'webapp.md'),
  '-j',
  '4',
  '--dir',
  dir,
  '--list',
  'webapp',
  ...(agentAsked ? [] : ['--preset', 'sim']),
  ...args,
];
const child = spawn(process.execPath, argv, { cwd: dir, stdio: 'inherit' });
// Ctrl-C reaches the run too (same terminal): let it stop its agents, then clean up here.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('close', (code, signal) => {
  if (keep) say(`kept ${dir}; remove it with: rm -rf '${dir}'`);
  else rmSync(dir, { recursive: true, force: true });
  process.exitCode = code ?? (signal === null ? 1 : 128);
});
