import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { load, REPO } from './lib/measure.js';

// `npm run bench`: every benchmark in turn, each in its own process, with its default sizes.
// A name (or several) runs only those: `node dist/bench/run.js claims scale`.
// Figures go to stdout and to bench/.work/results/*.json; BENCHMARKS.md records them.

const ALL = [
  'list-vs-backlog',
  'scale',
  'claims',
  'builds',
  'history',
  'profile-list',
  'propagation',
  'mcp-startup',
  'executor',
  'worktrees',
  'board',
  'claim-syscalls',
  'import-peers',
  'pg-claims',
  'pg-propagation',
  'pg-scale',
];
const chosen = process.argv.slice(2);
const names = chosen.length > 0 ? chosen : ALL;
for (const name of names) {
  if (!ALL.includes(name)) {
    console.error(`unknown benchmark ${name}; one of: ${ALL.join(', ')}`);
    process.exit(2);
  }
}
let failed = 0;
for (const name of names) {
  console.log(`\n===== ${name} (load average ${load()}) =====`);
  const r = spawnSync(process.execPath, [join(REPO, 'dist', 'bench', `${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${name} exited ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exitCode = failed > 0 ? 1 : 0;
