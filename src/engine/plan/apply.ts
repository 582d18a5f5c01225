import { cycleFor, type Task, TasklaneError } from '../../model/index.js';
import type { CreateInput, TaskStore } from '../../store/types.js';
import { checkPlan, type PlanSpec, type PlanTask, planEdges, planOrder } from './spec.js';

// Applies a plan to a list, idempotently: every task it creates records metadata.plan =
// {source, key}; applying the same plan again reuses those tasks and only adds what is missing.

/** What a created task carries in metadata.plan. */
export interface PlanOrigin {
  source: string;
  key: string;
  phase?: string;
  /** Keys of the task's subtasks: it is a parent, completed by the executor when they are (parent-task.ts). */
  subtasks?: string[];
}

export interface ApplyOptions {
  /** Identifies the plan across runs, e.g. its path relative to the project. */
  source: string;
  /** Compute everything, write nothing. */
  dryRun?: boolean;
  /** Journal attribution. */
  actor?: string;
}

export interface AppliedTask {
  key: string;
  /** The task's id; undefined for a task a dry run would create. */
  id?: string;
  subject: string;
  action: 'created' | 'existing' | 'would-create';
}

export interface AppliedEdge {
  blocker: string;
  blocked: string;
  blockerId?: string;
  blockedId?: string;
  /** False when the list already had it. */
  added: boolean;
}

export interface ApplyResult {
  source: string;
  dryRun: boolean;
  /** Tasks in the order they were (or would be) created: blockers first. */
  tasks: AppliedTask[];
  created: Task[];
  existing: Task[];
  /** Every dependency of the plan; `added` says whether this run wrote it. */
  edges: AppliedEdge[];
  /** Tasks an earlier run of this plan created whose keys the plan no longer has. Left alone. */
  stale: Task[];
}

/** The plan origin recorded on a task, if any. */
export function planOriginOf(task: Task): PlanOrigin | undefined {
  const plan = task.metadata?.plan;
  if (plan === null || typeof plan !== 'object' || Array.isArray(plan)) return undefined;
  const { source, key } = plan as Record<string, unknown>;
  return typeof source === 'string' && typeof key === 'string' ? (plan as PlanOrigin) : undefined;
}

/**
 * Creates the plan's missing tasks in dependency order, each with its blockers given at creation so
 * no task is ever visible as ready before its blockers exist (a running executor could claim it),
 * then adds the dependencies the list lacks. Existing tasks are never otherwise changed.
 * A run that stops part way is finished by running it again.
 */
export async function applyPlan(store: TaskStore, spec: PlanSpec, opts: ApplyOptions): Promise<ApplyResult> {
  if (opts.source.trim() === '')
    throw new TasklaneError('INVALID_INPUT', 'plan source must be non-empty', { field: 'source' });
  checkPlan(spec, opts.source);
  const dryRun = opts.dryRun === true;
  const actor = opts.actor === undefined ? {} : { actor: opts.actor };
  const before = await store.list();
  const byId = new Map(before.map((t) => [t.id, t]));

  // Earlier runs' tasks, by key; if concurrent runs made two, the smaller id wins.
  const known = new Map<string, Task>();
  const keys = new Set(spec.tasks.map((t) => t.key));
  const stale: Task[] = [];
  for (const task of before) {
    const origin = planOriginOf(task);
    if (origin === undefined || origin.source !== opts.source) continue;
    if (!keys.has(origin.key)) stale.push(task);
    else if (!known.has(origin.key)) known.set(origin.key, task);
  }

  const byKey = new Map(spec.tasks.map((t) => [t.key, t]));
  const edges = planEdges(spec);
  const blockersOf = new Map<string, string[]>();
  for (const e of edges) blockersOf.set(e.blocked, [...(blockersOf.get(e.blocked) ?? []), e.blocker]);
  const subtasksOf = new Map<string, string[]>();
  for (const e of edges)
    if (e.via === 'subtask') subtasksOf.set(e.blocked, [...(subtasksOf.get(e.blocked) ?? []), e.blocker]);

  checkAgainstList(spec, known, byId, opts.source);

  const idOf = new Map<string, string>();
  for (const [key, task] of known) idOf.set(key, task.id);
  const result: ApplyResult = { source: opts.source, dryRun, tasks: [], created: [], existing: [], edges: [], stale };
  const addedAtCreate = new Set<string>();

  for (const key of planOrder(spec)) {
    const planned = byKey.get(key) as PlanTask;
    const existing = known.get(key);
    if (existing !== undefined) {
      result.existing.push(existing);
      result.tasks.push({ key, id: existing.id, subject: existing.subject, action: 'existing' });
      continue;
    }
    if (dryRun) {
      result.tasks.push({ key, subject: planned.subject, action: 'would-create' });
      continue;
    }
    const blockedBy = (blockersOf.get(key) ?? []).map((b) => idOf.get(b) as string);
    const done = planned.done === true;
    const created = await store.create(
      {
        ...createInput(planned, opts.source, subtasksOf.get(key)),
        blockedBy,
        // A done task is created held, then completed, so nothing can claim it in between.
        ...(done ? { owner: 'tasklane-plan' } : {}),
      },
      actor,
    );
    const task = done ? await store.update(created.id, { status: 'completed', owner: null }, actor) : created;
    idOf.set(key, task.id);
    for (const b of blockersOf.get(key) ?? []) addedAtCreate.add(`${b}\u0000${key}`);
    result.created.push(task);
    result.tasks.push({ key, id: task.id, subject: task.subject, action: 'created' });
  }

  for (const e of edges) {
    const blockerId = idOf.get(e.blocker);
    const blockedId = idOf.get(e.blocked);
    const edge: AppliedEdge = { blocker: e.blocker, blocked: e.blocked, added: false };
    if (blockerId !== undefined) edge.blockerId = blockerId;
    if (blockedId !== undefined) edge.blockedId = blockedId;
    if (addedAtCreate.has(`${e.blocker}\u0000${e.blocked}`)) edge.added = true;
    else if (blockerId === undefined || blockedId === undefined)
      edge.added = true; // a dry run's new task
    else if (!(byId.get(blockedId)?.blockedBy.includes(blockerId) ?? false)) {
      if (!dryRun) await store.addDependency(blockerId, blockedId, actor);
      edge.added = true;
    }
    result.edges.push(edge);
  }
  return result;
}

function createInput(task: PlanTask, source: string, subtasks: string[] | undefined): CreateInput {
  const origin: PlanOrigin = { source, key: task.key };
  if (task.phase !== undefined) origin.phase = task.phase;
  if (subtasks !== undefined && subtasks.length > 0) origin.subtasks = subtasks;
  const metadata: Record<string, unknown> = { ...(task.metadata ?? {}), plan: origin };
  if (task.agent !== undefined) metadata.agent = task.agent;
  const input: CreateInput = { subject: task.subject, metadata };
  if (task.description !== undefined) input.description = task.description;
  if (task.priority !== undefined) input.priority = task.priority;
  if (task.labels !== undefined && task.labels.length > 0) input.labels = task.labels;
  if (task.estimate !== undefined) input.estimate = task.estimate;
  if (task.verify !== undefined) input.verify = task.verify;
  return input;
}

/**
 * Refuses, before writing anything, a plan whose new edges would close a cycle through tasks the
 * list already has (someone added the reverse dependency by hand since the last run).
 */
function checkAgainstList(spec: PlanSpec, known: Map<string, Task>, byId: Map<string, Task>, source: string): void {
  if (known.size === 0) return;
  const graph = new Map<string, Task>();
  for (const t of byId.values()) graph.set(t.id, { ...t, blocks: [...t.blocks], blockedBy: [...t.blockedBy] });
  const idOf = (key: string) => known.get(key)?.id ?? `plan:${key}`;
  for (const t of spec.tasks) {
    if (!known.has(t.key)) {
      graph.set(idOf(t.key), {
        id: idOf(t.key),
        subject: t.subject,
        description: '',
        status: 'pending',
        blocks: [],
        blockedBy: [],
      });
    }
  }
  for (const e of planEdges(spec)) {
    const a = idOf(e.blocker);
    const b = idOf(e.blocked);
    const blocker = graph.get(a) as Task;
    const blocked = graph.get(b) as Task;
    if (blocker.blocks.includes(b)) continue;
    const cycle = cycleFor(graph, a, b);
    if (cycle !== undefined) {
      const name = (id: string) => (id.startsWith('plan:') ? id.slice(5) : `#${id}`);
      throw new TasklaneError(
        'CYCLE',
        `${source}: ${e.blocker} blocking ${e.blocked} would close a cycle with the list's existing dependencies: ${cycle.map(name).join(' -> ')}`,
        { file: source, cycle },
      );
    }
    blocker.blocks.push(b);
    blocked.blockedBy.push(a);
  }
}
