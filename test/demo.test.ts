import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot, tempDir } from './helpers.js';

// `npm run demo` (issue 8, observation 3): the README's first command never runs a real agent,
// never touches a repository, says where its files are, and removes them.

const DEMO = join(repoRoot, 'scripts', 'demo.mjs');

describe('npm run demo', () => {
  it('is the demo script, after the build', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.demo, 'npm run build && node scripts/demo.mjs');
  });

  it('does not call a claude that is first on PATH, says where its list lives, and removes it', {
    timeout: 120_000,
  }, () => {
    const work = tempDir('tasklane-demo-test-');
    const bin = join(work, 'bin');
    mkdirSync(bin);
    const called = join(work, 'claude-was-called');
    // A claude that would record being called, and otherwise behave: it must not run at all.
    writeFileSync(join(bin, 'claude'), `#!/bin/sh\necho "$@" >> '${called}'\nexit 0\n`);
    chmodSync(join(bin, 'claude'), 0o755);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${bin}${delimiter}${dirname(process.execPath)}${delimiter}/usr/bin:/bin`,
    };
    for (const key of ['TASKLANE_AGENT', 'CLAUDE_CODE', 'TASKLANE_DIR', 'TASKLANE_LIST', 'CLAUDE_CODE_TASK_LIST_ID'])
      delete env[key];
    env.TASKLANE_SIM_SCALE = String(1 / 36_000); // an hour of estimate takes 0.1 s
    const r = spawnSync(process.execPath, [DEMO], { cwd: work, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(called), false, 'the claude on PATH was called');
    assert.match(r.stdout, /^# Tasklane run: 12 of 12 tasks completed/);
    const where = /demo: the list "webapp", its logs and results live in (\S+)/.exec(r.stderr);
    assert.ok(where, r.stderr);
    assert.equal(existsSync(where[1] as string), false, 'the temporary directory is removed');
  });
});
