import { stateOf } from '../model/graph.js';
import type { ChangeEvent, Snapshot, TaskJson, TaskState } from './types.js';

// The tasks of the list on screen, kept from the stream's snapshot and changes. Views subscribe
// and get told which ids changed, so a change updates one card, not the whole board.

export type StoreEvent = { kind: 'reset' } | { kind: 'changed'; ids: string[] };

export class TaskStore {
  list = '';
  seq = 0;
  readonly tasks = new Map<string, TaskJson>();
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(id: string): TaskJson | undefined {
    return this.tasks.get(id);
  }

  /** A snapshot replaces everything: the server could not resume exactly. */
  replace(snapshot: Snapshot): void {
    this.list = snapshot.list;
    this.seq = snapshot.seq;
    this.tasks.clear();
    for (const t of snapshot.tasks) this.tasks.set(t.id, t);
    this.emit({ kind: 'reset' });
  }

  clear(list: string): void {
    this.list = list;
    this.seq = 0;
    this.tasks.clear();
    this.emit({ kind: 'reset' });
  }

  /** A change from the stream (or a task the API just returned). */
  apply(change: Pick<ChangeEvent, 'kind' | 'taskId' | 'task'> & { seq?: number }): void {
    if (change.seq !== undefined && change.seq > this.seq) this.seq = change.seq;
    const before = this.tasks.get(change.taskId);
    const touched = new Set<string>([change.taskId]);
    if (change.kind === 'deleted') this.tasks.delete(change.taskId);
    else this.tasks.set(change.taskId, change.task);
    // The tasks this one blocks change state with it (a blocker completing makes them ready),
    // but the server sends a change only for the task written. Their states are re-derived here
    // with the model's own rule, so the board and the CLI never disagree.
    for (const id of [...(before?.blocks ?? []), ...(change.kind === 'deleted' ? [] : change.task.blocks)]) {
      touched.add(id);
    }
    const others: string[] = [];
    for (const id of touched) {
      if (id === change.taskId) continue;
      const t = this.tasks.get(id);
      if (t === undefined) continue;
      const state = stateOf(t, this.tasks);
      if (state !== t.state) this.tasks.set(id, { ...t, state });
      // Told even when the state holds: its card lists its open blockers.
      others.push(id);
    }
    this.emit({ kind: 'changed', ids: [change.taskId, ...others] });
  }

  /** A task just returned by the API: shown at once, the stream's copy follows. */
  put(task: TaskJson): void {
    this.apply({ kind: 'updated', taskId: task.id, task });
  }

  /** Re-derives states that time changes (a lease running out), and reports those that moved. */
  refreshStates(now = new Date()): void {
    const moved: string[] = [];
    for (const t of this.tasks.values()) {
      if (t.state !== 'in_progress' && t.state !== 'expired') continue;
      const state: TaskState = stateOf(t, this.tasks, now);
      if (state !== t.state) {
        this.tasks.set(t.id, { ...t, state });
        moved.push(t.id);
      }
    }
    if (moved.length > 0) this.emit({ kind: 'changed', ids: moved });
  }

  private emit(e: StoreEvent): void {
    for (const fn of this.listeners) fn(e);
  }
}
