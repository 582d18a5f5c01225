import {
  checkEstimate,
  checkLabels,
  checkMetadata,
  checkOwner,
  checkPriority,
  checkStoredTask,
  checkSubject,
  checkText,
  compareIds,
  findCycles,
  isNumericId,
  orderTask,
  type Status,
  sealRevision,
  type Task,
  TasklaneError,
  type TasklaneFields,
  withTasklaneFields,
} from '../../model/index.js';
import { EXPORT_VERSION } from '../export-format.js';
import type { ExportRecord } from '../types.js';
import { at, checkPeerField, peerError, setOwn, type Where } from './where.js';

// From a peer's tasks, as its reader understood them (PeerTask), to the records of an export
// (ExportRecord) that any store's importList takes: ids given, dependencies resolved and put on
// both tasks, a cycle refused, every value checked against the model's limits naming the peer's
// file, line and field, and a report of what mapped how. Nothing here writes: the store's
// importList does, all or nothing, after its own checks.
//
// The rules, the same for every peer (docs/import.md):
// - Ids are renumbered 1..N in the order the reader gives (Claude Code lists keep theirs). The
//   peer's id is kept in metadata.imported.id and in the report's idMap.
// - A task appearing twice (the same id, after the reader's normalizing) is refused: which one a
//   dependency meant cannot be told.
// - A dependency on an id that is not in the import, or on the task itself, is dropped and
//   reported; the list must stay valid.
// - A cycle among the dependencies is refused, naming the peer's ids and files: breaking it would
//   be a guess.
// - A subtask blocks its parent (the parent waits for its pieces, as a Tasklane plan's parent
//   does), unless that edge would close a cycle with the peer's own dependencies: then it is left
//   out and reported. The parent's id is kept in metadata.imported.parent either way.

export type PeerFormat = 'taskmaster' | 'backlog' | 'beads' | 'claude';

export interface PeerRef {
  /** The other task's key, as PeerTask.key. */
  key: string;
  /** As the peer wrote it, for messages. */
  label: string;
  where: Where;
  /** The peer's field that names it. */
  field: string;
}

/** A peer's task as its reader understood it. */
export interface PeerTask {
  /** The peer's id as its dependencies name it (the reader normalizes both the same way); unique. */
  key: string;
  /** The peer's id as written, for messages and metadata.imported.id. */
  label: string;
  where: Where;
  subject: string;
  /** The peer's name for the field that became the subject (`title`). */
  subjectField: string;
  description: string;
  status: Status;
  /** The peer's status as written (the report counts each mapping). */
  peerStatus: string;
  owner?: string;
  /** Tasklane's priority: higher runs first, 0 the default. */
  priority?: number;
  labels?: string[];
  /** Expected duration in seconds. */
  estimate?: number;
  createdAt?: string;
  updatedAt?: string;
  completedAt?: string;
  /** Tasks this one waits for. */
  dependsOn: PeerRef[];
  /** Tasks that wait for this one (Claude Code lists record edges on both tasks). */
  blocks?: PeerRef[];
  /** The task this one is a subtask of. */
  parent?: PeerRef;
  /** The peer's other fields kept under metadata.imported (beside from, id, status). */
  imported?: Record<string, unknown>;
  /** Claude Code lists: the task as stored, kept whole (its id, metadata and all). */
  keep?: Task;
}

/** A task of the peer's files that was not imported, and why. */
export interface Skipped {
  task?: string;
  file: string;
  line?: number;
  why: string;
}

/** A dependency (or parent edge) that was not imported, and why. */
export interface Dropped {
  task: string;
  file: string;
  line?: number;
  field: string;
  names: string;
  why: string;
}

/** What went where: the same for every import from one format (docs/import.md has the tables). */
export interface FieldMapping {
  /** Peer field -> Tasklane field. */
  mapped: Record<string, string>;
  /** Kept under metadata.imported. */
  metadata: string[];
  /** Appended to the description as sections. */
  description: string[];
  /** Not imported. */
  dropped: string[];
}

export interface PeerReport {
  from: PeerFormat;
  /** The file or directory read. */
  source: string;
  tasks: number;
  /** `renumbered` 1..N (the peer's ids in metadata.imported.id), or `kept` (Claude Code lists). */
  ids: 'renumbered' | 'kept';
  /** Peer id -> Tasklane id, built in Tasklane id order (JSON objects list integer-like keys first). */
  idMap: Record<string, string>;
  /** Each peer status met, what it became, and how many. */
  statuses: { from: string; to: Status; count: number }[];
  /** Dependency edges imported (each on both of its tasks). */
  edges: number;
  /** Of those, subtask-blocks-parent edges. */
  parentEdges: number;
  skipped: Skipped[];
  dropped: Dropped[];
  fields: FieldMapping;
  /** The high-water mark the list gets: new ids go on above it. */
  highestId: number;
}

export interface PeerImport {
  records: ExportRecord[];
  report: PeerReport;
}

export interface BuildOptions {
  from: PeerFormat;
  source: string;
  /** The list name the export's list record carries (the source's name). */
  list: string;
  fields: FieldMapping;
  skipped?: Skipped[];
  /** Keep ids (Claude Code lists); with `highestId`, the source's high-water mark. */
  keepIds?: boolean;
  highestId?: number;
  /** Time stamps for tasks with none of their own (createdAt, updatedAt). Default: now. */
  now?: string;
}

/** Builds the records of an import from a peer's tasks; throws INVALID_INPUT or CYCLE naming the peer's files. */
export function buildPeerImport(peers: PeerTask[], opts: BuildOptions): PeerImport {
  const byKey = new Map<string, PeerTask>();
  for (const p of peers) {
    const other = byKey.get(p.key);
    if (other !== undefined) {
      throw peerError(
        p.where,
        `task ${p.label} appears twice (also at ${at(other.where)}); give one of them another id in ${peerName(opts.from)}, then import again`,
        'id',
      );
    }
    byKey.set(p.key, p);
  }

  const idOf = new Map<string, string>();
  peers.forEach((p, i) => {
    idOf.set(p.key, opts.keepIds === true ? p.key : String(i + 1));
  });

  const dropped: Dropped[] = [];
  const drop = (p: PeerTask, ref: PeerRef, why: string): void => {
    dropped.push({
      task: p.label,
      file: ref.where.file,
      ...(ref.where.line === undefined ? {} : { line: ref.where.line }),
      field: ref.field,
      names: ref.label,
      why,
    });
  };
  // Edges by Tasklane id: blocker -> the tasks it blocks.
  const blocksOf = new Map<string, Set<string>>();
  const blockedByOf = new Map<string, Set<string>>();
  for (const id of idOf.values()) {
    blocksOf.set(id, new Set());
    blockedByOf.set(id, new Set());
  }
  const addEdge = (blocker: string, blocked: string): void => {
    (blocksOf.get(blocker) as Set<string>).add(blocked);
    (blockedByOf.get(blocked) as Set<string>).add(blocker);
  };
  const resolve = (p: PeerTask, ref: PeerRef): string | undefined => {
    const other = byKey.get(ref.key);
    if (other === undefined) {
      drop(p, ref, 'no task of the import has this id');
      return undefined;
    }
    if (other === p) {
      drop(p, ref, 'a task cannot wait for itself');
      return undefined;
    }
    return idOf.get(other.key) as string;
  };
  for (const p of peers) {
    const id = idOf.get(p.key) as string;
    for (const ref of p.dependsOn) {
      const blocker = resolve(p, ref);
      if (blocker !== undefined) addEdge(blocker, id);
    }
    for (const ref of p.blocks ?? []) {
      const blocked = resolve(p, ref);
      if (blocked !== undefined) addEdge(id, blocked);
    }
  }

  refuseCycle(peers, idOf, blocksOf, blockedByOf, opts.from);

  let parentEdges = 0;
  for (const p of peers) {
    if (p.parent === undefined) continue;
    const parent = resolve(p, p.parent);
    if (parent === undefined) continue;
    const id = idOf.get(p.key) as string;
    if (blocksOf.get(id)?.has(parent) === true) {
      parentEdges++;
      continue;
    }
    // The subtask blocks its parent, unless the parent already (through the peer's own
    // dependencies) comes before the subtask: that edge would close a cycle.
    if (reaches(blocksOf, parent, id)) {
      drop(
        p,
        p.parent,
        'a subtask-blocks-parent edge would close a cycle: by the dependencies, the parent comes before this subtask',
      );
      continue;
    }
    addEdge(id, parent);
    parentEdges++;
  }

  const now = opts.now ?? new Date().toISOString();
  const tasks: Task[] = [];
  const statuses = new Map<string, { from: string; to: Status; count: number }>();
  for (const p of peers) {
    const id = idOf.get(p.key) as string;
    const blocks = [...(blocksOf.get(id) as Set<string>)];
    const blockedBy = [...(blockedByOf.get(id) as Set<string>)];
    const task =
      p.keep !== undefined
        ? keptTask(p.keep, blocks, blockedBy)
        : newTask(p, id, blocks, blockedBy, opts, byKey, idOf, now);
    checkPeerField(p.where, p.label, '', () => checkStoredTask(task));
    tasks.push(task);
    const mapping = `${p.peerStatus}\u0000${task.status}`;
    const seen = statuses.get(mapping);
    if (seen === undefined) statuses.set(mapping, { from: p.peerStatus, to: task.status, count: 1 });
    else seen.count++;
  }
  tasks.sort((a, b) => compareIds(a.id, b.id));

  let highestId = opts.highestId ?? 0;
  for (const t of tasks) if (isNumericId(t.id)) highestId = Math.max(highestId, Number(t.id));
  const idMap: Record<string, string> = {};
  for (const p of [...peers].sort((a, b) => compareIds(idOf.get(a.key) as string, idOf.get(b.key) as string))) {
    setOwn(idMap, p.label, idOf.get(p.key) as string);
  }
  let edges = 0;
  for (const set of blocksOf.values()) edges += set.size;

  const records: ExportRecord[] = [
    { type: 'list', list: opts.list, version: EXPORT_VERSION, highestId, exportedAt: now },
    ...tasks.map((task): ExportRecord => ({ type: 'task', task })),
  ];
  return {
    records,
    report: {
      from: opts.from,
      source: opts.source,
      tasks: tasks.length,
      ids: opts.keepIds === true ? 'kept' : 'renumbered',
      idMap,
      statuses: [...statuses.values()],
      edges,
      parentEdges,
      skipped: opts.skipped ?? [],
      dropped,
      fields: opts.fields,
      highestId,
    },
  };
}

/** A new Tasklane task from a peer's: checked field by field, the peer's id and status kept in metadata.imported. */
function newTask(
  p: PeerTask,
  id: string,
  blocks: string[],
  blockedBy: string[],
  opts: BuildOptions,
  byKey: Map<string, PeerTask>,
  idOf: Map<string, string>,
  now: string,
): Task {
  checkPeerField(p.where, p.label, p.subjectField, () => checkSubject(p.subject));
  checkPeerField(p.where, p.label, 'description', () => checkText('description', p.description));
  if (p.owner !== undefined) checkPeerField(p.where, p.label, 'assignee', () => checkOwner(p.owner));
  checkPeerField(p.where, p.label, 'priority', () => checkPriority(p.priority));
  checkPeerField(p.where, p.label, 'estimate', () => checkEstimate(p.estimate));
  if (p.labels !== undefined) checkPeerField(p.where, p.label, 'labels', () => checkLabels(p.labels));
  const imported: Record<string, unknown> = { from: opts.from, id: p.label, status: p.peerStatus };
  if (p.parent !== undefined) {
    const parent = byKey.get(p.parent.key);
    imported.parent = p.parent.label;
    if (parent !== undefined) imported.parentId = idOf.get(parent.key);
  }
  for (const [k, v] of Object.entries(p.imported ?? {})) setOwn(imported, k, v);
  const metadata = { imported };
  checkPeerField(p.where, p.label, 'metadata.imported', () => checkMetadata(metadata));
  const fields: TasklaneFields = {
    rev: 1,
    createdAt: p.createdAt ?? now,
    updatedAt: p.updatedAt ?? p.createdAt ?? now,
  };
  if (p.status === 'completed' && p.completedAt !== undefined) fields.completedAt = p.completedAt;
  if (p.priority !== undefined && p.priority !== 0) fields.priority = p.priority;
  if (p.labels !== undefined && p.labels.length > 0) fields.labels = p.labels;
  if (p.estimate !== undefined) fields.estimate = p.estimate;
  const task = withTasklaneFields(
    orderTask({
      id,
      subject: p.subject,
      description: p.description,
      status: p.status,
      blocks: blocks.sort(compareIds),
      blockedBy: blockedBy.sort(compareIds),
      ...(p.owner === undefined ? {} : { owner: p.owner }),
      metadata,
    }),
    fields,
  );
  return sealRevision(task);
}

/** A Claude Code task kept whole, its edges as resolved: the order it had, any mirrored edge after. */
function keptTask(task: Task, blocks: string[], blockedBy: string[]): Task {
  const order = (had: string[], now: string[]): string[] => {
    const set = new Set(now);
    const kept = had.filter((x) => set.has(x));
    const keptSet = new Set(kept);
    return [...kept, ...now.filter((x) => !keptSet.has(x)).sort(compareIds)];
  };
  return orderTask({ ...task, blocks: order(task.blocks, blocks), blockedBy: order(task.blockedBy, blockedBy) });
}

/** Whether `from` reaches `to` along blocks edges. */
function reaches(blocksOf: Map<string, Set<string>>, from: string, to: string): boolean {
  const seen = new Set([from]);
  const stack = [from];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    for (const next of blocksOf.get(id) ?? []) {
      if (next === to) return true;
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return false;
}

function refuseCycle(
  peers: PeerTask[],
  idOf: Map<string, string>,
  blocksOf: Map<string, Set<string>>,
  blockedByOf: Map<string, Set<string>>,
  from: PeerFormat,
): void {
  const graph = new Map<string, Task>();
  for (const [id, blocks] of blocksOf) {
    graph.set(id, {
      id,
      subject: '',
      description: '',
      status: 'pending',
      blocks: [...blocks],
      blockedBy: [...(blockedByOf.get(id) as Set<string>)],
    });
  }
  const cycle = findCycles(graph)[0];
  if (cycle === undefined) return;
  const byId = new Map<string, PeerTask>();
  for (const p of peers) byId.set(idOf.get(p.key) as string, p);
  const path = cycle.map((id) => byId.get(id) as PeerTask);
  const first = path[0] as PeerTask;
  const places = [...new Set(path.slice(0, -1).map((p) => at(p.where)))].join(', ');
  throw new TasklaneError(
    'CYCLE',
    `${at(first.where)}: tasks wait for each other in a cycle: ${path.map((p) => p.label).join(' -> ')} (at ${places}); break it in ${peerName(from)} and import again`,
    { file: first.where.file, cycle: path.map((p) => p.label), task: first.label },
  );
}

export function peerName(from: PeerFormat): string {
  switch (from) {
    case 'taskmaster':
      return 'Task Master';
    case 'backlog':
      return 'Backlog.md';
    case 'beads':
      return 'Beads';
    case 'claude':
      return 'the Claude Code list';
  }
}
