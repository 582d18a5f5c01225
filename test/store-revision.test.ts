import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listDirName, type Task } from '../src/model/index.js';
import { cliIn, explain } from './cli-run.js';

// Issue 7, observation 12: Claude Code never bumps metadata.tasklane.rev, so an update guarded
// by a revision succeeded over a Claude Code change it never saw. Real CLI processes; the Claude
// Code edit is written as Claude Code writes: JSON.stringify(task, null, 2), rev untouched.

describe("revisions see Claude Code's edits", () => {
  it('update --if-rev N fails with CONFLICT after Claude Code changed the task, and the next write continues above it', () => {
    const { dir, tl } = cliIn();
    const list = ['--list', 'rev'];
    assert.equal(tl([...list, 'create', 'the task']).status, 0);
    const file = join(dir, listDirName('rev'), '1.json');
    const read = () => JSON.parse(readFileSync(file, 'utf8')) as Task;
    const updated = tl([...list, 'update', '1', '--meta', 'step=1', '--if-rev', '1']);
    assert.equal(updated.status, 0, explain(updated));
    writeFileSync(file, JSON.stringify({ ...read(), status: 'in_progress', owner: 'claude' }, null, 2));
    const before = readFileSync(file, 'utf8');

    const stale = tl([...list, 'update', '1', '--meta', 'step=2', '--if-rev', '2']);
    assert.equal(stale.status, 4, `CONFLICT: ${explain(stale)}`);
    assert.match(stale.stderr, /revision 3/);
    assert.equal(readFileSync(file, 'utf8'), before, 'nothing written');

    const fresh = tl([...list, 'update', '1', '--meta', 'step=2', '--if-rev', '3', '--json']);
    assert.equal(fresh.status, 0, explain(fresh));
    assert.equal(fresh.json().task.metadata.tasklane.rev, 4);
    assert.equal(read().owner, 'claude', "Claude Code's change is kept");
    assert.equal(read().metadata?.step, 2);
  });

  it('show, list and ready --json give the revision that --if-rev accepts after a Claude Code edit', () => {
    const { dir, tl } = cliIn();
    const list = ['--list', 'rev'];
    tl([...list, 'create', 'the task']);
    const file = join(dir, listDirName('rev'), '1.json');
    const task = JSON.parse(readFileSync(file, 'utf8')) as Task;
    writeFileSync(file, JSON.stringify({ ...task, subject: 'renamed in Claude Code' }, null, 2));
    const shown = tl([...list, 'show', '1', '--json']).json().task;
    const rev = shown.metadata.tasklane.rev;
    assert.equal(rev, 2);
    const listed = tl([...list, 'list', '--json']).json().tasks[0];
    assert.equal(listed.metadata.tasklane.rev, rev, 'list --json gives the same revision as show');
    const ready = tl([...list, 'ready', '--json']).json().tasks[0];
    assert.equal(ready.metadata.tasklane.rev, rev, 'and so does ready --json');
    const r = tl([...list, 'update', '1', '--subject', 'x', '--if-rev', String(rev)]);
    assert.equal(r.status, 0, explain(r));
  });
});
