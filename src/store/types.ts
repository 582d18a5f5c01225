import type { Task, TasklaneFields, TaskState } from '../model/task.js';

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
  /** A check command the executor runs after the agent exits 0 (metadata.tasklane.verify). */
  verify?: string;
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
  /** A new check command; null removes it. */
  verify?: string | null;
  /** Tasks this one comes to block (each gains this id in blockedBy). */
  addBlocks?: string[];
  /** Tasks this one comes to wait for. */
  addBlockedBy?: string[];
  removeBlocks?: string[];
  removeBlockedBy?: string[];
}

/**
 * How a claim ends in success: the result, and metadata merged key by key (null deletes) in the
 * same write, e.g. the agent run's record.
 */
export interface CompleteInput extends HolderInput {
  result?: string;
  metadata?: Record<string, unknown>;
}

export interface FailInput extends HolderInput {
  reason: string;
  metadata?: Record<string, unknown>;
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

/** Tasks with the index their states are judged against (see `TaskStore.listView`). */
export interface ListView {
  tasks: Task[];
  /** Every task of the list, and an open stand-in (model's `unreadableStandIn`) for each that cannot be read. */
  judgedBy: ReadonlyMap<string, Task>;
}

export interface ClaimInput {
  owner: string;
  /**
   * Claim this task; without it, the first task of the claim queue (tasks assigned to `owner`,
   * then ready and expired ones by priority, critical path, id), skipping any another claimer is
   * taking at that moment.
   */
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

/** Every kind of change, in the order the docs list them (watch --kind, the export's checks). */
export const CHANGE_KINDS = [
  'created',
  'updated',
  'claimed',
  /** A claim's lease was extended; nothing else changed. */
  'heartbeat',
  'released',
  'completed',
  'failed',
  'retried',
  'deleted',
  'dependency',
  'restored',
] as const;

export type ChangeKind = (typeof CHANGE_KINDS)[number];

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
  /**
   * The file store's stamp of the task file this change wrote (inode, size, mtime in ms): a
   * reader finding the file so knows no one changed it since, without reading it. Absent on
   * removals, heartbeats of older versions, and other stores.
   */
  file?: { ino: number; size: number; mtimeMs: number };
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

/** What `doctor` looks for. */
export type DoctorProblemKind =
  /** A task file that fails Claude Code's schema (or Tasklane's limits); never rewritten by doctor. */
  | 'invalid-file'
  /** A task's blocks or blockedBy names a task that does not exist. */
  | 'missing-reference'
  /** An edge recorded on one of its two tasks only (a crash between the two writes). */
  | 'one-sided-edge'
  /** Tasks that block each other in a ring; never broken by doctor. */
  | 'cycle'
  /** A write's temp file left by a process that died. */
  | 'temp-file'
  /** A lock left by a process that died, or stale by age. */
  | 'stale-lock'
  /** A project list in a git clone whose merges would not use Tasklane's merge driver (docs/git.md). */
  | 'git-driver'
  /**
   * PostgreSQL: a row's derived columns (unfinished-blocker count, critical path, an edge row)
   * out of step with the task documents; `fix` recomputes them from the documents.
   */
  | 'stale-index';

export interface DoctorProblem {
  kind: DoctorProblemKind;
  /** One line naming what is wrong. */
  message: string;
  task?: string;
  file?: string;
  /** For `cycle`: the ids along it, first repeated at the end. */
  cycle?: string[];
  /** What `fix` did about it; absent when the problem was left as found. */
  fixed?: string;
  /** For a problem left as found: what a person can do about it. */
  advice?: string;
}

export interface DoctorReport {
  list: string;
  location: string;
  /** Every problem found, each with what was done about it. */
  problems: DoctorProblem[];
  /** No problem is left: none was found, or every one was fixed. */
  consistent: boolean;
}

export interface DoctorOptions {
  /** Repair what is safe to repair. Default false: only look. */
  fix?: boolean;
  /** Journal attribution of repairs. */
  actor?: string;
}

/** One list of a store, for a list switcher (`tasklane lists`). */
export interface ListSummary {
  /** The list's id as stored (for the file store, its directory name). */
  id: string;
  total: number;
  byState: Record<TaskState, number>;
  /** When a task of the list last changed (ISO 8601), if the store knows; absent for an empty list. */
  lastChange?: string;
}

/**
 * One line of an export (`tasklane export`, `exportList`): the list's tasks, its history, and its id
 * high-water mark, in a form any store can import (src/store/export-format.ts writes and checks it).
 */
export type ExportRecord =
  /** First and once. `highestId`: no new task of the list gets an id at or below it. `exportedAt`: when the export was made (ISO 8601). */
  | { type: 'list'; list: string; version: 1; highestId: number; exportedAt: string }
  /** Exactly as stored (Tasklane's fields in metadata.tasklane, key order kept), in id order (`compareIds`). */
  | { type: 'task'; task: Task }
  /** In seq order, every entry the store keeps, with its seq; never a store's own stamp (`file`). */
  | { type: 'journal'; entry: JournalEntry };

export interface ImportOptions {
  /** Replace a non-empty list's tasks; without it a non-empty list is refused (CONFLICT). */
  force?: boolean;
  actor?: string;
}

export interface ImportReport {
  tasks: number;
  entries: number;
  /** The list's id high-water mark after the import: new ids continue above it. */
  highestId: number;
}

export interface TaskStore {
  /** The list id as given (not sanitized). */
  readonly listId: string;
  /** A human-readable location, e.g. the directory or database. */
  readonly location: string;
  /**
   * The store descriptor that opens this same store from another process (`TASKLANE_STORE`,
   * `--store`); with `TASKLANE_LIST` set to listId it names this list. The executor hands both to its agents.
   */
  readonly descriptor: string;
  /**
   * A local directory for this list's run artifacts (agent logs, result files, the agents' bin/),
   * never inside the list itself. The executor creates what it needs below it.
   */
  readonly artifactsDir: string;

  create(input: CreateInput, opts?: UpdateOptions): Promise<Task>;
  /** Throws NOT_FOUND. */
  get(id: string): Promise<Task>;
  list(filter?: ListFilter): Promise<Task[]>;
  /** `list`, with the index to judge each task's state against (`stateOf(task, judgedBy)`), as the filter did. */
  listView(filter?: ListFilter): Promise<ListView>;
  /** The ready tasks in the order `claim` takes them (the model's claim order). */
  ready(): Promise<Task[]>;
  /** Every list in this store (this one included, once it exists), by id. */
  lists(): Promise<ListSummary[]>;
  /**
   * Changes fields and edges all or nothing: every id, cycle and value is checked before anything
   * is written. Throws NOT_FOUND, CYCLE, CONFLICT (expectedRev), INVALID_INPUT.
   */
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
  complete(id: string, holder: CompleteInput): Promise<Task>;
  fail(id: string, holder: FailInput): Promise<Task>;
  /** A failed (or stuck) task back to pending, unowned. */
  retry(id: string, opts?: UpdateOptions): Promise<Task>;
  /** Returns the tasks whose expired leases were released. */
  reap(now?: Date): Promise<Task[]>;

  history(query?: HistoryQuery): Promise<JournalEntry[]>;
  /** Brings back tasks from the journal. Without ids, every task the journal knows that is now absent. */
  restore(ids?: string[], opts?: UpdateOptions): Promise<Task[]>;
  stats(): Promise<StoreStats>;
  /** Checks the list's integrity (edges on both sides, references, cycles, invalid records, debris); with `fix`, repairs what is safe. */
  doctor(opts?: DoctorOptions): Promise<DoctorReport>;

  /** The whole list as records: first `list`, then every task, then the history. Streams; constant memory per record. */
  exportList(): AsyncIterable<ExportRecord>;
  /** Writes exported records into this list, keeping ids, edges, metadata, history and the id high-water mark; all or nothing. */
  importList(
    records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
    opts?: ImportOptions,
  ): Promise<ImportReport>;

  watch(opts?: WatchOptions): AsyncIterable<Change>;
  close(): Promise<void>;
}
