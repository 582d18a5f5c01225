import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listDirName, OUTSIDE_BAND, type Task } from '../src/model/index.js';
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

    const rev = tl([...list, 'show', '1', '--json']).json().task.metadata.tasklane.rev as number;
    assert.ok(rev > 2 && rev <= 2 + OUTSIDE_BAND, `above the counter 2, by the content: ${rev}`);

    const stale = tl([...list, 'update', '1', '--meta', 'step=2', '--if-rev', '2']);
    assert.equal(stale.status, 4, `CONFLICT: ${explain(stale)}`);
    assert.match(stale.stderr, new RegExp(`revision ${rev}`));
    assert.equal(readFileSync(file, 'utf8'), before, 'nothing written');

    const fresh = tl([...list, 'update', '1', '--meta', 'step=2', '--if-rev', String(rev), '--json']);
    assert.equal(fresh.status, 0, explain(fresh));
    assert.equal(
      fresh.json().task.metadata.tasklane.rev,
      2 + OUTSIDE_BAND + 1,
      'above every revision an outside edit reads as',
    );
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
    assert.ok(rev > 1 && rev <= 1 + OUTSIDE_BAND, String(rev));
    const listed = tl([...list, 'list', '--json']).json().tasks[0];
    assert.equal(listed.metadata.tasklane.rev, rev, 'list --json gives the same revision as show');
    const ready = tl([...list, 'ready', '--json']).json().tasks[0];
    assert.equal(ready.metadata.tasklane.rev, rev, 'and so does ready --json');
    const r = tl([...list, 'update', '1', '--subject', 'x', '--if-rev', String(rev)]);
    assert.equal(r.status, 0, explain(r));
  });
  it('a second Claude Code edit moves the revision again: --if-rev read after the first fails, and the second edit is kept', () => {
    // The adversarial repro: a script reads the revision after Claude Code claimed the task, Claude
    // Code then completes it, and the script's guarded update must not undo the completion.
    const { dir, tl } = cliIn();
    const list = ['--list', 'rev'];
    assert.equal(tl([...list, 'create', 'Write docs']).status, 0);
    const file = join(dir, listDirName('rev'), '1.json');
    const read = () => JSON.parse(readFileSync(file, 'utf8')) as Task;
    const revOf = () => tl([...list, 'show', '1', '--json']).json().task.metadata.tasklane.rev as number;
    writeFileSync(file, JSON.stringify({ ...read(), status: 'in_progress', owner: 'claude' }, null, 2));
    const seen = revOf();
    writeFileSync(file, JSON.stringify({ ...read(), status: 'completed' }, null, 2));
    assert.notEqual(revOf(), seen, 'the second edit reads as another revision');
    const before = readFileSync(file, 'utf8');

    const stale = tl([...list, 'update', '1', '--if-rev', String(seen), '--status', 'pending', '--no-owner']);
    assert.equal(stale.status, 4, `CONFLICT: ${explain(stale)}`);
    assert.match(stale.stderr, /CONFLICT|changed/);
    assert.equal(readFileSync(file, 'utf8'), before, 'nothing written: the completion is kept');
    assert.equal(read().status, 'completed');
  });

  it('a task made by Claude Code (never written by Tasklane) changes revision with its content', () => {
    const { dir, tl } = cliIn();
    const list = ['--list', 'rev'];
    const listDir = join(dir, listDirName('rev'));
    assert.equal(tl([...list, 'create', 'placeholder']).status, 0); // makes the list directory
    const file = join(listDir, '2.json');
    const claude = (status: string) =>
      writeFileSync(
        file,
        JSON.stringify({ id: '2', subject: 'by Claude', description: '', status, blocks: [], blockedBy: [] }, null, 2),
      );
    const revOf = () => (tl([...list, 'show', '2', '--json']).json().task.metadata?.tasklane?.rev ?? 0) as number;
    claude('in_progress');
    const seen = revOf();
    claude('completed');
    const stale = tl([...list, 'update', '2', '--if-rev', String(seen), '--status', 'pending']);
    assert.equal(stale.status, 4, `CONFLICT: ${explain(stale)}`);
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as Task).status, 'completed');
    const now = revOf();
    assert.notEqual(now, seen);
    const fresh = tl([...list, 'update', '2', '--if-rev', String(now), '--meta', 'seen=1', '--json']);
    assert.equal(fresh.status, 0, explain(fresh));
    assert.ok(
      fresh.json().task.metadata.tasklane.rev > Math.max(seen, now),
      'the write continues above every revision read',
    );
  });
});
