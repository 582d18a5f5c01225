import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkGitSetup, driverCommand, setupGit } from '../src/engine/git-lists/setup.js';
import { isProjectId, isTombstone } from '../src/model/index.js';
import { resolveLocation } from '../src/store/location.js';
import { openStore } from '../src/store/open.js';
import { detectFormat, readPeer } from '../src/store/peers/index.js';
import { runCli, tempDir } from './helpers.js';

// Project lists kept in git: ids, tombstones, stable files, `git setup`, init's offer, doctor's check.

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-C', cwd, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function repo(): string {
  const dir = tempDir('tasklane-git-lists-');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 't');
  git(dir, 'config', 'user.email', 't@t');
  return dir;
}

describe('a project list', () => {
  it('gives random project ids, sorts dependency sets, and lists tasks in creation order', async () => {
    const dir = tempDir();
    const store = openStore(resolveLocation({ dir: join(dir, '.tasklane', 'tasks'), list: 'p' }));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store.create({ subject: `t${i}` })).id);
    for (const id of ids) assert.ok(isProjectId(id), id);
    assert.deepEqual(
      (await store.list()).map((t) => t.id),
      ids,
    );
    const last = ids[4] as string;
    for (const id of [...ids.slice(0, 4)].reverse()) await store.addDependency(id, last);
    const blocked = await store.get(last);
    assert.deepEqual(blocked.blockedBy, [...ids.slice(0, 4)].sort());
  });

  it('leaves a tombstone for a deleted task, which reads as absent, and restore brings the task back', async () => {
    const dir = tempDir();
    const listDir = join(dir, '.tasklane', 'tasks', 'p');
    const store = openStore(resolveLocation({ dir: join(dir, '.tasklane', 'tasks'), list: 'p' }));
    const a = await store.create({ subject: 'a' });
    const b = await store.create({ subject: 'b', blockedBy: [a.id] });
    await store.delete(a.id);
    const stone = JSON.parse(readFileSync(join(listDir, `${a.id}.json`), 'utf8')) as unknown;
    assert.ok(isTombstone(stone));
    assert.deepEqual(
      (await store.list()).map((t) => t.id),
      [b.id],
    );
    await assert.rejects(store.get(a.id), /no task/);
    assert.deepEqual((await store.get(b.id)).blockedBy, []);
    assert.equal((await store.doctor()).problems.length, 0);
    // A reference to a deleted task (as a merge can leave) is a missing reference, not an invalid file.
    const bFile = join(listDir, `${b.id}.json`);
    const bTask = JSON.parse(readFileSync(bFile, 'utf8'));
    writeFileSync(bFile, JSON.stringify({ ...bTask, blockedBy: [a.id] }, null, 2));
    const report = await store.doctor({ fix: true });
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.fixed !== undefined]),
      [['missing-reference', true]],
    );
    const [restored] = await store.restore([a.id]);
    assert.equal(restored?.subject, 'a');
    assert.equal((await store.get(a.id)).subject, 'a');
  });

  it('rewrites only the tasks a change touches, and writes metadata.tasklane in one key order', async () => {
    const dir = tempDir();
    const listDir = join(dir, '.tasklane', 'tasks', 'p');
    const store = openStore(resolveLocation({ dir: join(dir, '.tasklane', 'tasks'), list: 'p' }));
    const a = await store.create({ subject: 'a' });
    const b = await store.create({ subject: 'b' });
    const c = await store.create({ subject: 'c', priority: 2 });
    const file = join(listDir, `${c.id}.json`);
    const before = { bytes: readFileSync(file, 'utf8'), ino: statSync(file).ino, mtime: statSync(file).mtimeMs };
    await store.update(a.id, { subject: 'a2', labels: ['x'] });
    await store.addDependency(a.id, b.id);
    await store.claim({ owner: 'w', taskId: a.id });
    await store.delete(b.id);
    assert.equal(readFileSync(file, 'utf8'), before.bytes);
    assert.equal(statSync(file).ino, before.ino);
    assert.equal(statSync(file).mtimeMs, before.mtime);
    const fields = Object.keys(JSON.parse(readFileSync(join(listDir, `${a.id}.json`), 'utf8')).metadata.tasklane);
    assert.deepEqual(fields, ['rev', 'fp', 'createdAt', 'updatedAt', 'startedAt', 'labels', 'lease', 'attempts']);
  });

  it('does not leave tombstones in lists outside a project (Claude Code deletes the file)', async () => {
    const dir = tempDir();
    const store = openStore(resolveLocation({ dir, list: 'plain' }));
    const t = await store.create({ subject: 'x' });
    assert.equal(t.id, '1');
    await store.delete(t.id);
    assert.equal(existsSync(join(dir, 'plain', '1.json')), false);
  });
});

describe('a project list as an import source', () => {
  it('is detected by --from auto and imported by --from claude, its tombstones skipped and reported', async () => {
    const dir = tempDir();
    const listDir = join(dir, '.tasklane', 'tasks', 'p');
    const store = openStore(resolveLocation({ dir: join(dir, '.tasklane', 'tasks'), list: 'p' }));
    const a = await store.create({ subject: 'a' });
    const b = await store.create({ subject: 'b', blockedBy: [a.id] });
    const gone = await store.create({ subject: 'gone' });
    await store.delete(gone.id);
    assert.ok(isTombstone(JSON.parse(readFileSync(join(listDir, `${gone.id}.json`), 'utf8'))));
    assert.equal(detectFormat(listDir), 'claude');
    const read = readPeer('claude', listDir, 'p');
    assert.equal(read.report.tasks, 2);
    assert.deepEqual(
      read.report.skipped.map((s) => s.task),
      [gone.id],
    );
    const dst = tempDir();
    const r = runCli(['--dir', dst, '--list', 'copy', 'import', '--from', 'auto', listDir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.tasks, 2);
    assert.equal(report.skipped[0].task, gone.id);
    assert.match(report.skipped[0].why, /tombstone/);
    assert.deepEqual(JSON.parse(readFileSync(join(dst, 'copy', `${b.id}.json`), 'utf8')).blockedBy, [a.id]);
  });
});

describe('tasklane git setup, init and doctor', () => {
  it('init in a git work tree registers the driver and says so; setup is idempotent', () => {
    const dir = repo();
    const init = runCli(['init'], { cwd: dir });
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /Git: task files merge with tasklane's driver/);
    assert.match(
      readFileSync(join(dir, '.tasklane', '.gitattributes'), 'utf8'),
      /^\/tasks\/\*\*\/\*\.json merge=tasklane$/m,
    );
    assert.match(git(dir, 'config', '--get', 'merge.tasklane.driver'), /git-merge-driver\.js' %O %A %B %P/);
    assert.match(git(dir, 'check-attr', 'merge', '--', '.tasklane/tasks/default/abc.json'), /merge: tasklane/);
    const again = runCli(['git', 'setup', '--json'], { cwd: dir });
    assert.equal(again.status, 0, again.stderr);
    const r = JSON.parse(again.stdout);
    assert.equal(r.wroteAttributes, false);
    assert.equal(r.configuredDriver, false);
    const check = runCli(['git', 'check'], { cwd: dir });
    assert.equal(check.status, 0, check.stdout);
    assert.equal(runCli(['doctor'], { cwd: dir }).status, 0);
  });

  it('init --no-git leaves git alone; outside git init says nothing about it', () => {
    const dir = repo();
    const init = runCli(['init', '--no-git'], { cwd: dir });
    assert.equal(init.status, 0, init.stderr);
    assert.equal(existsSync(join(dir, '.tasklane', '.gitattributes')), false);
    const plain = tempDir();
    const out = runCli(['init', '--json'], { cwd: plain });
    assert.equal(JSON.parse(out.stdout).git, null);
  });

  it('doctor reports a fresh clone without the driver, and --fix registers it', () => {
    const origin = repo();
    assert.equal(runCli(['init'], { cwd: origin }).status, 0);
    assert.equal(runCli(['create', 'first'], { cwd: origin }).status, 0);
    git(origin, 'add', '-A');
    git(origin, 'commit', '-qm', 'list');
    const parent = tempDir();
    git(parent, 'clone', '-q', origin, 'clone');
    const clone = join(parent, 'clone');
    const doctor = runCli(['doctor', '--json'], { cwd: clone });
    assert.equal(doctor.status, 1);
    const report = JSON.parse(doctor.stdout);
    assert.deepEqual(
      report.problems.map((p: { kind: string }) => p.kind),
      ['git-driver'],
    );
    assert.match(report.problems[0].message, /fresh clone/);
    assert.equal(runCli(['git', 'check'], { cwd: clone }).status, 1);
    const fixed = runCli(['doctor', '--fix'], { cwd: clone });
    assert.equal(fixed.status, 0, fixed.stdout);
    assert.equal(runCli(['doctor'], { cwd: clone }).status, 0);
  });

  it('the driver merges a task both clones changed; a deletion wins over an edit, without a conflict', () => {
    const origin = repo();
    assert.equal(runCli(['init'], { cwd: origin }).status, 0);
    const one = JSON.parse(runCli(['create', 'one', '--json'], { cwd: origin }).stdout).task.id as string;
    const two = JSON.parse(runCli(['create', 'two', '--json'], { cwd: origin }).stdout).task.id as string;
    git(origin, 'add', '-A');
    git(origin, 'commit', '-qm', 'base');
    git(origin, 'checkout', '-q', '-b', 'other');
    assert.equal(runCli(['update', one, '--subject', 'one, edited on other'], { cwd: origin }).status, 0);
    assert.equal(runCli(['update', two, '--status', 'completed'], { cwd: origin }).status, 0);
    git(origin, 'commit', '-qam', 'other');
    git(origin, 'checkout', '-q', 'main');
    assert.equal(runCli(['update', one, '--description', 'described on main'], { cwd: origin }).status, 0);
    assert.equal(runCli(['delete', two], { cwd: origin }).status, 0);
    git(origin, 'commit', '-qam', 'main');
    const merge = spawnSync('git', ['-C', origin, 'merge', '--no-edit', 'other'], { encoding: 'utf8' });
    assert.equal(merge.status, 0, merge.stdout + merge.stderr);
    const shown = JSON.parse(runCli(['show', one, '--json'], { cwd: origin }).stdout).task;
    assert.equal(shown.subject, 'one, edited on other');
    assert.equal(shown.description, 'described on main');
    assert.equal(runCli(['show', two], { cwd: origin }).status, 1);
    assert.equal(runCli(['doctor'], { cwd: origin }).status, 0);
  });

  it("the driver runs from an install path holding %, a space and a quote (git expands % in the driver's command)", () => {
    const origin = repo();
    assert.equal(runCli(['init', '--no-git'], { cwd: origin }).status, 0);
    const odd = join(tempDir(), "50%Off it's %A %%");
    mkdirSync(odd);
    const node = join(odd, 'node');
    symlinkSync(process.execPath, node);
    const command = driverCommand(undefined, node);
    setupGit(origin, command);
    assert.deepEqual(checkGitSetup(origin, join(origin, '.tasklane', 'tasks', 'default'))?.problems, []);
    const one = JSON.parse(runCli(['create', 'one', '--json'], { cwd: origin }).stdout).task.id as string;
    git(origin, 'add', '-A');
    git(origin, 'commit', '-qm', 'base');
    git(origin, 'checkout', '-q', '-b', 'other');
    assert.equal(runCli(['update', one, '--subject', 'one, edited on other'], { cwd: origin }).status, 0);
    git(origin, 'commit', '-qam', 'other');
    git(origin, 'checkout', '-q', 'main');
    assert.equal(runCli(['update', one, '--description', 'described on main'], { cwd: origin }).status, 0);
    git(origin, 'commit', '-qam', 'main');
    const merge = spawnSync('git', ['-C', origin, 'merge', '--no-edit', 'other'], { encoding: 'utf8' });
    assert.equal(merge.status, 0, `${command}\n${merge.stdout}${merge.stderr}`);
    const shown = JSON.parse(runCli(['show', one, '--json'], { cwd: origin }).stdout).task;
    assert.equal(shown.subject, 'one, edited on other');
    assert.equal(shown.description, 'described on main');
  });

  it("a task file removed by hand (no tombstone) against an edit is git's modify/delete conflict, as docs/git.md says", () => {
    const origin = repo();
    assert.equal(runCli(['init'], { cwd: origin }).status, 0);
    const one = JSON.parse(runCli(['create', 'one', '--json'], { cwd: origin }).stdout).task.id as string;
    git(origin, 'add', '-A');
    git(origin, 'commit', '-qm', 'base');
    git(origin, 'checkout', '-q', '-b', 'other');
    assert.equal(runCli(['update', one, '--subject', 'edited'], { cwd: origin }).status, 0);
    git(origin, 'commit', '-qam', 'edit');
    git(origin, 'checkout', '-q', 'main');
    git(origin, 'rm', '-q', `.tasklane/tasks/default/${one}.json`);
    git(origin, 'commit', '-qm', 'rm');
    const merge = spawnSync('git', ['-C', origin, 'merge', '--no-edit', 'other'], { encoding: 'utf8' });
    assert.equal(merge.status, 1);
    assert.match(merge.stdout, /CONFLICT \(modify\/delete\)/);
  });

  it('the CLI driver exits 1 and leaves the file when two different tasks share an id', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'l'));
    const t = (subject: string, createdAt: string) =>
      JSON.stringify(
        {
          id: 'abcdefgh',
          subject,
          description: '',
          status: 'pending',
          blocks: [],
          blockedBy: [],
          metadata: { tasklane: { rev: 1, createdAt } },
        },
        null,
        2,
      );
    writeFileSync(join(dir, 'o'), '');
    writeFileSync(join(dir, 'a'), t('one', '2026-01-01T00:00:00.000Z'));
    writeFileSync(join(dir, 'b'), t('two', '2026-01-02T00:00:00.000Z'));
    const r = runCli(['git', 'merge-driver', 'o', 'a', 'b', 'l/abcdefgh.json'], { cwd: dir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /two different tasks were created with the id abcdefgh/);
    assert.match(readFileSync(join(dir, 'a'), 'utf8'), /"one"/);
  });
});
