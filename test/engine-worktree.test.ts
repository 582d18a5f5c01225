import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, type Fixture, makeList } from './engine-helpers.js';
import { repoRoot, tempDir } from './helpers.js';

// run --worktree on real git repositories, with real `tasklane run` processes and a scripted
// stand-in agent (test/fixtures/engine/git-agent.mjs) that commits a file or leaves it uncommitted:
// branches stacked on the graph, the integration branch, conflicts both ways, the starting
// checkout untouched, and `tasklane worktree prune`.

const GIT_AGENT = `"${process.execPath}" "${join(repoRoot, 'test', 'fixtures', 'engine', 'git-agent.mjs')}"`;

interface GitRecord {
  id: string;
  attempt: number;
  cwd: string;
  prompt: string;
  files: string[];
  contents: Record<string, string>;
}

function records(f: Fixture): Map<string, GitRecord> {
  const out = new Map<string, GitRecord>();
  for (const name of readdirSync(f.records).filter((n) => n.endsWith('.json'))) {
    const r = JSON.parse(readFileSync(join(f.records, name), 'utf8')) as GitRecord;
    out.set(r.id, r);
  }
  return out;
}

interface Repo {
  dir: string;
  git(...args: string[]): string;
}

/** A repository with one commit, and a starting checkout made dirty on purpose (staged and unstaged changes). */
function makeRepo(): Repo {
  const dir = tempDir('tasklane-wt-repo-');
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, '-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], {
      encoding: 'utf8',
    });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README'), 'start\n');
  git('add', 'README');
  git('commit', '-q', '-m', 'start');
  writeFileSync(join(dir, 'README'), 'start\nedited, not staged\n');
  writeFileSync(join(dir, 'staged.txt'), 'staged, not committed\n');
  git('add', 'staged.txt');
  writeFileSync(join(dir, 'untracked.txt'), 'mine\n');
  return { dir, git };
}

/** Everything about the starting checkout a run must leave alone. */
function checkoutState(repo: Repo): Record<string, string> {
  return {
    head: repo.git('rev-parse', 'HEAD'),
    branch: repo.git('symbolic-ref', 'HEAD'),
    status: repo.git('status', '--porcelain'),
    unstaged: repo.git('diff'),
    staged: repo.git('diff', '--cached'),
    readme: readFileSync(join(repo.dir, 'README'), 'utf8'),
    untracked: readFileSync(join(repo.dir, 'untracked.txt'), 'utf8'),
  };
}

function run(f: Fixture, repo: Repo, extra: string[] = []) {
  return cli(
    ['run', '--dir', f.dir, '--list', f.list, '--agent', GIT_AGENT, '--grace', '1', ...extra],
    f.env,
    repo.dir,
  );
}

function filesOn(repo: Repo, ref: string): string[] {
  return repo.git('ls-tree', '-r', '--name-only', ref).split('\n').filter(Boolean).sort();
}

describe('run --worktree: branches stacked on the graph', () => {
  it('a chain: each worktree holds its blockers’ files, committed or left uncommitted; the integration branch holds all', async () => {
    const repo = makeRepo();
    const before = checkoutState(repo);
    const f = await makeList([
      { subject: 'First', metadata: { git: { file: 'a.txt', commit: true } } },
      { subject: 'Second', after: [0], metadata: { git: { file: 'b.txt' } } }, // left uncommitted
      { subject: 'Third', after: [1], metadata: { git: { file: 'c.txt', commit: true } } },
    ]);
    const r = await run(f, repo, ['-j', '2', '--worktree', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const recs = records(f);
    assert.deepEqual(recs.get('1')?.files, ['README']);
    assert.deepEqual(recs.get('2')?.files, ['README', 'a.txt']);
    assert.deepEqual(recs.get('3')?.files, ['README', 'a.txt', 'b.txt'], 'b.txt was committed for #3 by the executor');
    // Uncommitted work was committed on the task's branch, nothing left in its worktree.
    assert.equal(repo.git('show', 'tasklane/work/2:b.txt'), 'work of #2\n');
    assert.equal(repo.git('-C', join(repo.dir, '.tasklane', 'worktrees', 'work', '2'), 'status', '--porcelain'), '');
    // The task branches hold the committed README of HEAD, not the starting checkout's edits.
    assert.equal(recs.get('2')?.contents.README, 'start\n');

    const integration = out.integration;
    assert.match(integration.branch, /^tasklane\/work\/run-\d{8}-\d{6}$/);
    assert.deepEqual(integration.merged, ['1', '2', '3']);
    assert.deepEqual(integration.conflicts, []);
    assert.equal(integration.base, before.head?.trim());
    assert.equal(repo.git('rev-parse', integration.branch).trim(), integration.head);
    assert.deepEqual(filesOn(repo, integration.branch), ['README', 'a.txt', 'b.txt', 'c.txt']);
    assert.equal(out.tasks[2].worktree.commit, repo.git('rev-parse', 'tasklane/work/3').trim());

    assert.deepEqual(checkoutState(repo), before, 'the starting checkout is untouched');
  });

  it('a diamond: the bottom task starts from a merge of both branches; the text result names the integration branch', async () => {
    const repo = makeRepo();
    const before = checkoutState(repo);
    const f = await makeList([
      { subject: 'Top', metadata: { git: { file: 'a.txt', commit: true } } },
      { subject: 'Left', after: [0], metadata: { git: { file: 'b.txt', commit: true } } },
      { subject: 'Right', after: [0], metadata: { git: { file: 'c.txt' } } }, // left uncommitted
      { subject: 'Bottom', after: [1, 2], metadata: { git: { file: 'd.txt' } } },
    ]);
    const r = await run(f, repo, ['-j', '2', '--worktree']);
    assert.equal(r.code, 0, r.stderr);
    const recs = records(f);
    assert.deepEqual(recs.get('2')?.files, ['README', 'a.txt']);
    assert.deepEqual(recs.get('3')?.files, ['README', 'a.txt']);
    assert.deepEqual(recs.get('4')?.files, ['README', 'a.txt', 'b.txt', 'c.txt']);
    for (const blocker of ['2', '3']) {
      const contained = spawnSync('git', [
        '-C',
        repo.dir,
        'merge-base',
        '--is-ancestor',
        `tasklane/work/${blocker}`,
        'tasklane/work/4',
      ]);
      assert.equal(contained.status, 0, `#4's branch contains #${blocker}'s`);
    }
    const named = r.stdout.match(
      /Integration branch `(tasklane\/work\/run-\d{8}-\d{6})` \([0-9a-f]{12}\): #1, #2, #3, #4 merged in dependency order/,
    );
    assert.ok(named, r.stdout);
    assert.deepEqual(filesOn(repo, named[1] as string), ['README', 'a.txt', 'b.txt', 'c.txt', 'd.txt']);
    assert.deepEqual(checkoutState(repo), before, 'the starting checkout is untouched');
  });

  it("commits as Tasklane in a repository without an identity, and as the repository's own where it has one", async () => {
    const repo = makeRepo();
    const f = await makeList([
      { subject: 'Leave it', metadata: { git: { file: 'a.txt' } } },
      { subject: 'Leave it too', after: [0], metadata: { git: { file: 'b.txt' } } },
    ]);
    // No global or system configuration: git itself cannot tell who commits.
    const env = { ...f.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', EMAIL: '' };
    const r = await cli(['run', '--dir', f.dir, '--list', f.list, '--agent', GIT_AGENT, '--worktree'], env, repo.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(repo.git('log', '-1', '--format=%an <%ae>', 'tasklane/work/2'), 'Tasklane <tasklane@localhost>\n');
    assert.deepEqual(filesOn(repo, 'tasklane/work/2'), ['README', 'a.txt', 'b.txt']);

    repo.git('config', 'user.name', 'Repo Owner');
    repo.git('config', 'user.email', 'owner@example.com');
    const g = await makeList([{ subject: 'Mine', metadata: { git: { file: 'c.txt' } } }], 'mine');
    const own = await cli(
      ['run', '--dir', g.dir, '--list', g.list, '--agent', GIT_AGENT, '--worktree'],
      { ...g.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
      repo.dir,
    );
    assert.equal(own.code, 0, own.stderr);
    assert.equal(repo.git('log', '-1', '--format=%an <%ae>', 'tasklane/mine/1'), 'Repo Owner <owner@example.com>\n');
  });

  it('refuses to start outside a git repository, or in one without a commit (exit 2, nothing run)', async () => {
    const f = await makeList([{ subject: 'Nowhere', metadata: { git: { file: 'a.txt' } } }]);
    const plain = tempDir('tasklane-wt-plain-');
    const r = await cli(['run', '--dir', f.dir, '--list', f.list, '--agent', GIT_AGENT, '--worktree'], f.env, plain);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--worktree needs a git repository, and .* is not in one/);
    const empty = tempDir('tasklane-wt-empty-');
    execFileSync('git', ['-C', empty, 'init', '-q']);
    const e = await cli(['run', '--dir', f.dir, '--list', f.list, '--agent', GIT_AGENT, '--worktree'], f.env, empty);
    assert.equal(e.code, 2, e.stderr);
    assert.match(e.stderr, /--worktree needs a commit to start from/);
    const repo = makeRepo();
    const bad = await cli(
      ['run', '--dir', f.dir, '--list', f.list, '--agent', GIT_AGENT, '--worktree', '--on-conflict', 'merge'],
      f.env,
      repo.dir,
    );
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--on-conflict/);
    assert.equal(readdirSync(f.records).length, 0, 'no agent ran');
    assert.equal((await f.store.get('1')).status, 'pending');
  });
});

describe('run --worktree: blockers whose work conflicts', () => {
  const diamond = (bottom: Record<string, unknown>) => [
    { subject: 'Top', metadata: { git: { file: 'a.txt', commit: true } } },
    { subject: 'Left', after: [0], metadata: { git: { file: 'shared.txt', content: 'left\n', commit: true } } },
    { subject: 'Right', after: [0], metadata: { git: { file: 'shared.txt', content: 'right\n' } } },
    { subject: 'Bottom', after: [1, 2], metadata: { git: bottom } },
  ];

  it('by default hands the conflicted merge to the agent, naming the files in its prompt; its resolution is committed', async () => {
    const repo = makeRepo();
    const before = checkoutState(repo);
    const f = await makeList(diamond({ resolve: 'left and right\n', file: 'd.txt' }));
    const r = await run(f, repo, ['--worktree', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rec = records(f).get('4') as GitRecord;
    assert.match(
      rec.prompt,
      /Merging the work of #3 \(branch tasklane\/work\/3\) into it conflicts in these files:\n\n```\nshared\.txt\n```/,
    );
    assert.match(rec.contents['shared.txt'] ?? '', /^<<<<<<< [\s\S]*left\n=======\nright\n>>>>>>> /);
    assert.equal(repo.git('show', 'tasklane/work/4:shared.txt'), 'left and right\n');
    const parents = repo.git('log', '-1', '--format=%P', 'tasklane/work/4').trim().split(' ');
    assert.equal(parents.length, 2, 'the merge is concluded by the executor’s commit');
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.tasks[3].worktree.conflict, {
      task: '3',
      branch: 'tasklane/work/3',
      files: ['shared.txt'],
      pending: [],
    });
    assert.deepEqual(out.integration.merged, ['1', '2', '3', '4']);
    assert.deepEqual(out.integration.conflicts, []);
    assert.equal(repo.git('show', `${out.integration.branch}:shared.txt`), 'left and right\n');
    assert.deepEqual(checkoutState(repo), before);
  });

  it('fails an attempt that exits 0 leaving conflict markers; the retry gets the same conflict named again', async () => {
    const repo = makeRepo();
    const f = await makeList(diamond({ file: 'd.txt', resolve: 'resolved on the retry\n', resolveFrom: 2 }));
    const once = await run(f, repo, ['--worktree', '--json']);
    assert.equal(once.code, 1, once.stderr);
    const out = JSON.parse(once.stdout);
    assert.equal(out.tasks[3].status, 'failed');
    assert.match(out.tasks[3].failure, /left conflict markers in shared\.txt \(merging the work of #3\)/);

    // The retry reuses the worktree, still in the middle of the merge, and names it in the prompt.
    const again = await run(f, repo, ['--worktree', '--retry-failed', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const retry = [...readdirSync(f.records)]
      .map((n) => JSON.parse(readFileSync(join(f.records, n), 'utf8')) as GitRecord)
      .find((x) => x.id === '4' && x.attempt === 2) as GitRecord;
    assert.match(
      retry.prompt,
      /Merging the work of #3 \(branch tasklane\/work\/3\) into it conflicts in these files:\n\n```\nshared\.txt\n```/,
    );
    assert.equal(repo.git('show', 'tasklane/work/4:shared.txt'), 'resolved on the retry\n');
    assert.equal(repo.git('show', 'tasklane/work/4:d.txt'), 'work of #4\n');
    assert.equal(repo.git('log', '-1', '--format=%P', 'tasklane/work/4').trim().split(' ').length, 2);
  });

  it('with --on-conflict fail, fails the task naming the files, runs no agent, and the integration branch names the conflict', async () => {
    const repo = makeRepo();
    const before = checkoutState(repo);
    const f = await makeList(diamond({ file: 'd.txt' }));
    const r = await run(f, repo, ['--worktree', '--on-conflict', 'fail', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.tasks[3].status, 'failed');
    assert.match(out.tasks[3].failure, /merging #3 \(branch tasklane\/work\/3\) in shared\.txt/);
    assert.equal(records(f).has('4'), false, 'no agent ran for #4');
    assert.deepEqual(out.integration.merged, ['1', '2']);
    assert.deepEqual(out.integration.conflicts, [{ task: '3', branch: 'tasklane/work/3', files: ['shared.txt'] }]);
    assert.deepEqual(filesOn(repo, out.integration.branch), ['README', 'a.txt', 'shared.txt']);
    assert.equal(repo.git('show', `${out.integration.branch}:shared.txt`), 'left\n');
    assert.deepEqual(checkoutState(repo), before);
  });
});

describe('tasklane worktree prune', () => {
  it('removes clean worktrees, keeps one with uncommitted changes unless --force, keeps every branch', async () => {
    const repo = makeRepo();
    const f = await makeList([
      { subject: 'One', metadata: { git: { file: 'a.txt', commit: true } } },
      { subject: 'Two', metadata: { git: { file: 'b.txt' } } },
    ]);
    const r = await run(f, repo, ['--worktree']);
    assert.equal(r.code, 0, r.stderr);
    const wt = (id: string) => join(repo.dir, '.tasklane', 'worktrees', 'work', id);
    writeFileSync(join(wt('2'), 'later.txt'), 'someone is still working here\n');
    const prune = (...extra: string[]) =>
      cli(['worktree', 'prune', '--dir', f.dir, '--list', f.list, ...extra], f.env, repo.dir);

    const dry = await prune('--dry-run', '--json');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(
      JSON.parse(dry.stdout).removed.map((w: { task: string }) => w.task),
      ['1'],
    );
    assert.ok(existsSync(wt('1')), '--dry-run removes nothing');

    const first = await prune();
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /Removed 1 worktree \(branches kept\):\n {2}\.tasklane\/worktrees\/work\/1 {2}#1 {2}tasklane\/work\/1\n/,
    );
    assert.match(
      first.stdout,
      /Kept 1:\n {2}\.tasklane\/worktrees\/work\/2 {2}#2 {2}tasklane\/work\/2: 1 uncommitted change \(--force removes them\)/,
    );
    assert.equal(existsSync(wt('1')), false);
    assert.ok(existsSync(join(wt('2'), 'later.txt')));

    // A task in progress may have an agent in its worktree: kept even with --force.
    await f.store.update('2', { status: 'in_progress' });
    const busy = await prune('--force', '--json');
    assert.equal(busy.code, 0, busy.stderr);
    assert.deepEqual(JSON.parse(busy.stdout).kept, [
      {
        task: '2',
        path: wt('2'),
        branch: 'tasklane/work/2',
        reason: 'task #2 is in progress: an agent may be working there',
      },
    ]);
    assert.ok(existsSync(wt('2')));
    await f.store.update('2', { status: 'completed' });

    const forced = await prune('--force', '--json');
    assert.equal(forced.code, 0, forced.stderr);
    const report = JSON.parse(forced.stdout);
    assert.deepEqual(report.removed, [{ task: '2', path: wt('2'), branch: 'tasklane/work/2' }]);
    assert.deepEqual(report.kept, []);
    assert.equal(existsSync(wt('2')), false);
    assert.match(
      repo.git('branch', '--list', 'tasklane/*'),
      /tasklane\/work\/1\n.*tasklane\/work\/2\n.*tasklane\/work\/run-/,
    );

    const help = await cli(['worktree', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: tasklane worktree prune/);
    const bad = await cli(['worktree', 'remove'], f.env, repo.dir);
    assert.equal(bad.code, 2);
    const outside = await cli(
      ['worktree', 'prune', '--dir', f.dir, '--list', f.list],
      f.env,
      tempDir('tasklane-wt-none-'),
    );
    assert.equal(outside.code, 2, outside.stderr);
    assert.match(outside.stderr, /worktree prune needs a git repository/);
  });
});
