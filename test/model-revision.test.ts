import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  changedOutsideTasklane,
  normalizeRevision,
  parseTask,
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

  it('any change by another program moves it one up: subject, status, owner, edges, user metadata, our fields', () => {
    const task = written(3);
    const edits: ((t: Task) => Task)[] = [
      (t) => ({ ...t, subject: 'S2' }),
      (t) => ({ ...t, status: 'in_progress', owner: 'claude' }),
      (t) => ({ ...t, blockedBy: ['2'] }),
      (t) => ({ ...t, metadata: { ...t.metadata, mine: 2 } }),
      (t) => ({ ...t, metadata: { ...t.metadata, tasklane: { ...(t.metadata?.tasklane as object), priority: 9 } } }),
    ];
    for (const edit of edits) {
      const edited = claudeEdit(task, edit);
      assert.equal(revisionOf(edited), 4, JSON.stringify(edited));
      assert.equal(changedOutsideTasklane(edited), true);
    }
  });

  it('normalizing a changed task makes its counter its revision, so the next write continues above it', () => {
    const edited = claudeEdit(written(3), (t) => ({ ...t, subject: 'S2' }));
    const normalized = normalizeRevision(edited);
    assert.equal(revisionOf(normalized), 4);
    assert.equal(tasklaneFields(normalized).rev, 4);
    assert.equal(normalized.subject, 'S2');
    const unchanged = written(5);
    assert.equal(normalizeRevision(unchanged), unchanged, 'an unchanged task comes back as it is');
  });

  it('a task without a fingerprint (made by Claude Code, or by an older Tasklane) is at its counter', () => {
    const bare: Task = { id: '2', subject: 'x', description: '', status: 'pending', blocks: [], blockedBy: [] };
    assert.equal(revisionOf(bare), 0);
    assert.equal(revisionOf(withTasklaneFields(bare, { rev: 7 })), 7);
  });
});
