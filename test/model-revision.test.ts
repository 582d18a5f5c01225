import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  changedOutsideTasklane,
  fingerprintOf,
  nextRevisionOf,
  normalizeRevision,
  OUTSIDE_BAND,
  parseTask,
  revisionBefore,
  revisionOf,
  sealRevision,
  serializeTask,
  type Task,
  tasklaneFields,
  withTasklaneFields,
} from '../src/model/index.js';

// Revisions move when anyone changes a task, not only when Tasklane does (issue 7, observation 12):
// Claude Code keeps metadata.tasklane.rev as it found it, so the content decides.

function written(rev: number, extra: Partial<Task> = {}): Task {
  const task: Task = {
    id: '1',
    subject: 'S',
    description: 'D',
    status: 'pending',
    blocks: [],
    blockedBy: [],
    metadata: { mine: 1 },
    ...extra,
  };
  return sealRevision(withTasklaneFields(task, { rev, createdAt: '2026-01-01T00:00:00.000Z' }));
}

/** What Claude Code does to a task: parse its bytes, change fields, write JSON.stringify(task, null, 2). */
function claudeEdit(task: Task, change: (t: Task) => Task): Task {
  return parseTask(JSON.parse(JSON.stringify(change(parseTask(JSON.parse(serializeTask(task)))), null, 2)));
}

describe('revisions', () => {
  it('a task as Tasklane wrote it is at its counter, also after Claude Code rewrites it unchanged', () => {
    const task = written(3);
    assert.equal(revisionOf(task), 3);
    assert.equal(revisionOf(claudeEdit(task, (t) => t)), 3);
    assert.equal(changedOutsideTasklane(task), false);
  });

  it('any change by another program moves it above its counter: subject, status, owner, edges, user metadata, our fields', () => {
    const task = written(3);
    const edits: ((t: Task) => Task)[] = [
      (t) => ({ ...t, subject: 'S2' }),
      (t) => ({ ...t, status: 'in_progress', owner: 'claude' }),
      (t) => ({ ...t, blockedBy: ['2'] }),
      (t) => ({ ...t, metadata: { ...t.metadata, mine: 2 } }),
      (t) => ({ ...t, metadata: { ...t.metadata, tasklane: { ...(t.metadata?.tasklane as object), priority: 9 } } }),
    ];
    const seen = new Set<number>();
    for (const edit of edits) {
      const edited = claudeEdit(task, edit);
      const rev = revisionOf(edited);
      assert.ok(rev > 3 && rev <= 3 + OUTSIDE_BAND, `${rev}: ${JSON.stringify(edited)}`);
      assert.equal(changedOutsideTasklane(edited), true);
      seen.add(rev);
    }
    assert.equal(seen.size, edits.length, 'each different content reads as its own revision');
  });

  it('two different outside edits in a row read as different revisions, with no Tasklane write between them', () => {
    // The lost update: a guard taken after Claude Code's first edit must fail after its second.
    const claimed = claudeEdit(written(3), (t) => ({ ...t, status: 'in_progress', owner: 'claude' }));
    const completed = claudeEdit(claimed, (t) => ({ ...t, status: 'completed' }));
    assert.notEqual(revisionOf(completed), revisionOf(claimed));
    for (let i = 0; i < 200; i++) {
      const a = claudeEdit(claimed, (t) => ({ ...t, subject: `S${i}` }));
      const b = claudeEdit(a, (t) => ({ ...t, description: `D${i}` }));
      assert.notEqual(revisionOf(a), revisionOf(b), `edit ${i}`);
    }
    const again = claudeEdit(completed, (t) => t);
    assert.equal(revisionOf(again), revisionOf(completed), 'the same content reads as the same revision');
  });

  it('normalizing a changed task makes its counter its revision, and the next write continues above every outside revision', () => {
    const edited = claudeEdit(written(3), (t) => ({ ...t, subject: 'S2' }));
    const rev = revisionOf(edited);
    const normalized = normalizeRevision(edited);
    assert.equal(revisionOf(normalized), rev);
    assert.equal(tasklaneFields(normalized).rev, rev);
    assert.equal(revisionOf({ ...normalized }), rev, 'a copy reads the same');
    assert.equal(normalized.subject, 'S2');
    assert.equal(changedOutsideTasklane(normalized), false);
    assert.equal(normalizeRevision(normalized), normalized, 'normalizing twice changes nothing');
    // What a store does: bump the counter, seal.
    const next = sealRevision(withTasklaneFields(normalized, { ...tasklaneFields(normalized), rev: rev + 1 }));
    assert.equal(revisionOf(next), 3 + OUTSIDE_BAND + 1);
    assert.equal(nextRevisionOf(edited), 3 + OUTSIDE_BAND + 1);
    assert.equal(tasklaneFields(next).fp, fingerprintOf(next), 'a plain fingerprint is what is written');
    const unchanged = written(5);
    assert.equal(normalizeRevision(unchanged), unchanged, 'an unchanged task comes back as it is');
    assert.equal(nextRevisionOf(unchanged), 6);
  });

  it('outside revisions of one Tasklane write are not ordered; every other pair is, by number', () => {
    const base = written(3);
    const a = claudeEdit(base, (t) => ({ ...t, subject: 'A' }));
    const b = claudeEdit(base, (t) => ({ ...t, subject: 'B' }));
    assert.equal(revisionBefore(a, b), false);
    assert.equal(revisionBefore(b, a), false);
    assert.equal(revisionBefore(normalizeRevision(a), b), false);
    assert.equal(revisionBefore(base, a), true);
    assert.equal(revisionBefore(a, base), false);
    const next = sealRevision(
      withTasklaneFields(normalizeRevision(a), { ...tasklaneFields(normalizeRevision(a)), rev: revisionOf(a) + 1 }),
    );
    assert.equal(revisionBefore(b, next), true);
    assert.equal(revisionBefore(a, next), true);
  });

  it('a task without a fingerprint (made by Claude Code, or by an older Tasklane) reads above its counter, by its content', () => {
    const bare: Task = { id: '2', subject: 'x', description: '', status: 'pending', blocks: [], blockedBy: [] };
    const rev = revisionOf(bare);
    assert.ok(rev >= 1 && rev <= OUTSIDE_BAND, String(rev));
    const claimed = { ...bare, status: 'in_progress' as const, owner: 'claude' };
    const done = { ...claimed, status: 'completed' as const };
    assert.notEqual(revisionOf(claimed), revisionOf(done), 'its revision changes with its content');
    assert.notEqual(revisionOf(claimed), rev);
    assert.equal(revisionOf({ ...done }), revisionOf(done), 'and depends on nothing else');
    const old = revisionOf(withTasklaneFields(bare, { rev: 7 }));
    assert.ok(old > 7 && old <= 7 + OUTSIDE_BAND, String(old));
    assert.equal(changedOutsideTasklane(bare), true);
    assert.equal(nextRevisionOf(bare), OUTSIDE_BAND + 1);
  });
});
