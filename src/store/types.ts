import type { Task, TasklaneFields, TaskState } from '../model/index.js';

// The one interface every store implements (file store now, PostgreSQL later). Surfaces and the
// engine talk only to this. One contract test suite (test/store-contract.ts) runs against each.

export interface CreateInput {
  subject: string;
  description?: string;
  activeForm?: string;
  /** Ids of tasks that must complete before this one is ready. */
  blockedBy?: string[];
  /** Ids of tasks this one blocks. */
  blocks?: string[];
  owner?: string;
  /** User metadata; the `tasklane` key is reserved. */
  metadata?: Record<string, unknown>;
  priority?: number;
  labels?: string[];
  /** Expected duration in seconds (critical-path weight). */
  estimate?: number;
}

export interface UpdateInput {
  subject?: string;
  description?: string;
  activeForm?: string;
  status?: Task['status'];
  /** null removes the owner. */
  owner?: string | null;
  /** Merged key by key, null deletes a key (Claude Code's TaskUpdate semantics). */
  metadata?: Record<string, unknown>;
  priority?: number;
  labels?: string[];
  estimate?: number;
}

export interface UpdateOptions {
  /** Compare-and-swap: fail with CONFLICT unless the task's revision is still this. */
  expectedRev?: number;
  /** Journal attribution. */
  actor?: string;
}

export interface ListFilter {
  status?: Task['status'][];
  state?: TaskState[];
  owner?: string;
  label?: string;
}

export interface ClaimInput {
  owner: string;
  /** Claim this task; without it, the best ready task (priority, critical path, id). */
  taskId?: string;
  /** Lease length; default 60 s. The holder heartbeats before it runs out. */
  leaseMs?: number;
}

export interface Claim {
  task: Task;
  /** Fencing token to present on heartbeat, release, complete and fail. */
  token: string;
  expiresAt: string;
}

/** Who may move a claimed task: the owner, and when given, the claim's token must match. */
export interface HolderInput {
  owner?: string;
  token?: string;
}

export type ChangeKind =
  | 'created'
  | 'updated'
  | 'claimed'
  /** A claim's lease was extended; nothing else changed. */
  | 'heartbeat'
  | 'released'
  | 'completed'
  | 'failed'
  | 'retried'
  | 'deleted'
  | 'dependency'
  | 'restored';

export interface Change {
  kind: ChangeKind;
  list: string;
  taskId: string;
  /** The task as it now is; for `deleted`, as it was last seen. */
  task: Task;
  rev: number;
  at: string;
  /**
   * The list-wide change sequence: the journal entry's seq. A change the store did not make (a
   * file Claude Code wrote) has no entry of its own and carries the seq of the last entry before
   * it; so seqs never go down, and `watch({ since: seq })` resumes after the last journaled change.
   */
  seq: number;
}

export interface JournalEntry {
  /**
   * The list-wide change sequence, from 1: each entry's is the previous entry's + 1, assigned under
   * the journal's lock, so it follows the journal's order with any number of writers and never
   * repeats (rotation keeps it).
   */
  seq: number;
  at: string;
  kind: ChangeKind;
  taskId: string;
  actor?: string;
  pid: number;
  /** The task after the change (before it, for `deleted`). Absent on `heartbeat` entries. */
  task?: Task;
  /** On `heartbeat` entries, instead of the task: the fields the heartbeat changed. */
  fields?: Pick<TasklaneFields, 'rev' | 'updatedAt' | 'lease'>;
}

export interface HistoryQuery {
  taskId?: string;
  /**
   * Without `after`: the last `limit` entries. With `after` (a seq): the first `limit` entries
   * after it, for paging forwards (the next page starts after the last seq returned).
   */
  limit?: number;
  after?: number;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Also emit a `created` change for every task present at start. Default false. */
  initial?: boolean;
  /**
   * A cursor (a seq): first replay every journaled change after it, then follow live changes,
   * with no gap and no repeat between the two.
   */
  since?: number;
}

export interface StoreStats {
  list: string;
  total: number;
  byState: Record<TaskState, number>;
  byStatus: Record<Task['status'], number>;
  owners: Record<string, number>;
}

export interface TaskStore {
  /** The list id as given (not sanitized). */
  readonly listId: string;
  /** A human-readable location, e.g. the directory or database. */
  readonly location: string;

  create(input: CreateInput, opts?: UpdateOptions): Promise<Task>;
  /** Throws NOT_FOUND. */
  get(id: string): Promise<Task>;
  list(filter?: ListFilter): Promise<Task[]>;
  update(id: string, patch: UpdateInput, opts?: UpdateOptions): Promise<Task>;
  /** Claude Code's delete: raises the high-water mark, removes the task and every reference to it. */
  delete(id: string, opts?: UpdateOptions): Promise<Task>;
  /** `blocker` blocks `blocked`, written on both sides; refuses a cycle. */
  addDependency(blocker: string, blocked: string, opts?: UpdateOptions): Promise<void>;
  removeDependency(blocker: string, blocked: string, opts?: UpdateOptions): Promise<void>;

  /** Atomic claim. With taskId, throws NOT_CLAIMABLE if it cannot be taken; without, returns null when nothing is ready. */
  claim(input: ClaimInput): Promise<Claim | null>;
  heartbeat(id: string, holder: HolderInput, leaseMs?: number): Promise<Claim>;
  release(id: string, holder: HolderInput): Promise<Task>;
  complete(id: string, holder: HolderInput & { result?: string }): Promise<Task>;
  fail(id: string, holder: HolderInput & { reason: string }): Promise<Task>;
  /** A failed (or stuck) task back to pending, unowned. */
  retry(id: string, opts?: UpdateOptions): Promise<Task>;
  /** Returns the tasks whose expired leases were released. */
  reap(now?: Date): Promise<Task[]>;

  history(query?: HistoryQuery): Promise<JournalEntry[]>;
  /** Brings back tasks from the journal. Without ids, every task the journal knows that is now absent. */
  restore(ids?: string[], opts?: UpdateOptions): Promise<Task[]>;
  stats(): Promise<StoreStats>;

  watch(opts?: WatchOptions): AsyncIterable<Change>;
  close(): Promise<void>;
}
