import {
  checkEstimate,
  checkLabels,
  checkMetadata,
  checkPriority,
  checkSubject,
  checkText,
  checkVerify,
  isTasklaneError,
  TasklaneError,
} from '../../model/index.js';
import { closestMatch } from './annotations.js';

// A plan as a graph of tasks keyed by stable, plan-local keys, before any task exists in a store.
// Every input (markdown, JSON, YAML, an agent's answer) becomes a PlanSpec and passes one validator.

export interface PlanTask {
  /** Stable key within the plan; the identity that makes re-applying a plan create nothing twice. */
  key: string;
  subject: string;
  description?: string;
  /** The heading the task sits under (markdown) or any grouping name. */
  phase?: string;
  /** Key of the task this one is a subtask of. The parent waits for (is blocked by) its subtasks. */
  parent?: string;
  /** Keys of the tasks that must complete before this one starts. */
  after: string[];
  priority?: number;
  labels?: string[];
  /** Expected duration in seconds. */
  estimate?: number;
  /** Which agent should run the task; stored as metadata.agent. */
  agent?: string;
  /** The task's check command (metadata.tasklane.verify): the plan author's own command. */
  verify?: string;
  /** Already done (`- [x]`): created as completed. */
  done?: boolean;
  metadata?: Record<string, unknown>;
  /** 1-based line in the plan file, when known; used in error messages only, never written. */
  line?: number;
}

export interface PlanSpec {
  title?: string;
  tasks: PlanTask[];
}

/** One dependency: `blocker` must complete before `blocked`. `via` says where the edge came from. */
export interface PlanEdge {
  blocker: string;
  blocked: string;
  via: 'after' | 'subtask';
}

const TASK_FIELDS = new Set([
  'key',
  'subject',
  'description',
  'phase',
  'parent',
  'after',
  'priority',
  'labels',
  'estimate',
  'agent',
  'verify',
  'done',
  'metadata',
]);
/**
 * How deep a plan's value may nest, metadata included (the store allows metadata 100 levels deep;
 * the plan itself takes three). Deeper values would overflow the stack of every recursive reader
 * (JSON.stringify among them) and surface as an internal error instead of naming the file.
 */
export const MAX_PLAN_DEPTH = 128;

/** Keys of metadata that applying a plan writes itself. */
export const RESERVED_METADATA = ['tasklane', 'plan'];

export interface SpecSource {
  /** The plan file (or a name such as "agent output") named in every error. */
  file: string;
  /** Line of tasks[i] in the source, when the parser knows it. */
  lineOf?: (index: number) => number | undefined;
}

function invalid(source: SpecSource, field: string, message: string, line?: number): never {
  const at = line === undefined ? source.file : `${source.file}:${line}`;
  throw new TasklaneError('INVALID_INPUT', `${at}: ${field} ${message}`, { file: source.file, field });
}

/**
 * Checks an untyped value (parsed JSON/YAML, an agent's answer) against the PlanSpec shape and
 * returns it as a PlanSpec, then runs the graph checks. Unknown fields are refused so a typo such
 * as `depends_on` does not silently drop an edge.
 */
export function parsePlanSpec(value: unknown, source: SpecSource): PlanSpec {
  checkDepth(value, source);
  const root = Array.isArray(value) ? { tasks: value } : value;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    invalid(source, '(root)', `must be an object with a "tasks" array, got ${typeName(root)}`);
  }
  const r = root as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (k !== 'title' && k !== 'tasks') invalid(source, k, 'is not a plan field (expected "title" and "tasks")');
  }
  if (r.title !== undefined && typeof r.title !== 'string') {
    invalid(source, 'title', `must be a string, got ${typeName(r.title)}`);
  }
  if (!Array.isArray(r.tasks)) {
    invalid(source, 'tasks', r.tasks === undefined ? 'is missing' : `must be an array, got ${typeName(r.tasks)}`);
  }
  const tasks = (r.tasks as unknown[]).map((raw, i) => parsePlanTask(raw, i, source));
  const spec: PlanSpec = { tasks };
  if (typeof r.title === 'string' && r.title.trim() !== '') spec.title = r.title.trim();
  checkPlan(spec, source.file);
  return spec;
}

function parsePlanTask(raw: unknown, i: number, source: SpecSource): PlanTask {
  const line = source.lineOf?.(i);
  const at = `tasks[${i}]`;
  const fail = (field: string, message: string): never => invalid(source, field, message, line);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail(at, `must be an object, got ${typeName(raw)}`);
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t)) {
    if (!TASK_FIELDS.has(k)) fail(`${at}.${k}`, `is not a task field (known: ${[...TASK_FIELDS].join(', ')})`);
  }
  const str = (k: string, required: boolean): string | undefined => {
    const v = t[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string')
      return fail(`${at}.${k}`, v === undefined ? 'is missing' : `must be a string, got ${typeName(v)}`);
    return v;
  };
  const key = str('key', true) as string;
  if (key.trim() === '' || key !== key.trim())
    fail(`${at}.key`, `must be a non-empty key without surrounding spaces, got ${JSON.stringify(key)}`);
  if (key.length > 100) fail(`${at}.key`, 'is longer than 100 characters');
  const task: PlanTask = { key, subject: str('subject', true) as string, after: [] };
  const description = str('description', false);
  if (description !== undefined) task.description = description;
  const phase = str('phase', false);
  if (phase !== undefined) task.phase = phase;
  const parent = str('parent', false);
  if (parent !== undefined) task.parent = parent;
  const agent = str('agent', false);
  if (agent !== undefined) task.agent = agent;
  const verify = str('verify', false);
  if (verify !== undefined) task.verify = verify;
  if (t.after !== undefined) {
    const after = typeof t.after === 'string' ? [t.after] : t.after;
    if (!Array.isArray(after) || after.some((k) => typeof k !== 'string')) {
      fail(`${at}.after`, `must be an array of task keys, got ${typeName(t.after)}`);
    }
    task.after = [...(after as string[])];
  }
  for (const k of ['priority', 'estimate'] as const) {
    if (t[k] === undefined) continue;
    if (typeof t[k] !== 'number') fail(`${at}.${k}`, `must be a number, got ${typeName(t[k])}`);
    task[k] = t[k] as number;
  }
  if (t.labels !== undefined) {
    if (!Array.isArray(t.labels)) fail(`${at}.labels`, `must be an array of strings, got ${typeName(t.labels)}`);
    task.labels = t.labels as string[];
  }
  if (t.done !== undefined) {
    if (typeof t.done !== 'boolean') fail(`${at}.done`, `must be true or false, got ${typeName(t.done)}`);
    task.done = t.done as boolean;
  }
  if (t.metadata !== undefined) task.metadata = t.metadata as Record<string, unknown>;
  if (line !== undefined) task.line = line;
  return task;
}

/**
 * The graph checks every plan passes before anything is written: field values within the store's
 * limits, unique keys, references that resolve, and no cycle. Throws INVALID_INPUT naming the file,
 * line and field, or CYCLE with the path.
 */
export function checkPlan(spec: PlanSpec, file: string): void {
  const byKey = new Map<string, { task: PlanTask; index: number }>();
  spec.tasks.forEach((task, index) => {
    const where = (field: string) => `tasks[${index}].${field}`;
    const at = task.line === undefined ? file : `${file}:${task.line}`;
    const label = `${at}: task ${JSON.stringify(task.key)}`;
    const first = byKey.get(task.key);
    if (first !== undefined) {
      const firstAt = first.task.line === undefined ? `tasks[${first.index}]` : `line ${first.task.line}`;
      throw new TasklaneError(
        'INVALID_INPUT',
        `${at}: duplicate key ${JSON.stringify(task.key)} (first used at ${firstAt})`,
        {
          file,
          field: where('key'),
        },
      );
    }
    byKey.set(task.key, { task, index });
    // Reuse the store's own checks so a plan that validates is a plan the store will accept.
    const checks: [string, () => void][] = [
      ['subject', () => checkSubject(task.subject)],
      ['description', () => checkText('description', task.description)],
      ['priority', () => checkPriority(task.priority)],
      ['labels', () => checkLabels(task.labels)],
      ['estimate', () => checkEstimate(task.estimate)],
      ['verify', () => checkVerify(task.verify)],
      ['metadata', () => checkMetadata(task.metadata)],
    ];
    for (const [field, check] of checks) {
      try {
        check();
      } catch (err) {
        if (!isTasklaneError(err)) throw err;
        const detail = err.message.startsWith(field) ? err.message.slice(field.length).trim() : err.message;
        throw new TasklaneError('INVALID_INPUT', `${label}: ${field} ${detail}`, {
          file,
          field: where(field),
          cause: err,
        });
      }
    }
    for (const reserved of RESERVED_METADATA) {
      if (task.metadata !== undefined && Object.hasOwn(task.metadata, reserved)) {
        throw new TasklaneError('INVALID_INPUT', `${label}: metadata.${reserved} is reserved for Tasklane`, {
          file,
          field: where(`metadata.${reserved}`),
        });
      }
    }
    if (task.agent !== undefined && task.agent.trim() === '') {
      throw new TasklaneError('INVALID_INPUT', `${label}: agent must be a non-empty string`, {
        file,
        field: where('agent'),
      });
    }
  });
  const keys = [...byKey.keys()];
  spec.tasks.forEach((task, index) => {
    const at = task.line === undefined ? file : `${file}:${task.line}`;
    const refs: [string, string][] = task.after.map((k, j) => [`tasks[${index}].after[${j}]`, k]);
    if (task.parent !== undefined) refs.push([`tasks[${index}].parent`, task.parent]);
    for (const [field, ref] of refs) {
      if (ref === task.key) {
        throw new TasklaneError(
          'INVALID_INPUT',
          `${at}: task ${JSON.stringify(task.key)} cannot depend on itself (${field})`,
          {
            file,
            field,
          },
        );
      }
      if (!byKey.has(ref)) {
        const near = closestMatch(ref, keys);
        const hint = near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`;
        throw new TasklaneError(
          'INVALID_INPUT',
          `${at}: task ${JSON.stringify(task.key)} refers to unknown task key ${JSON.stringify(ref)} in ${field}${hint}`,
          { file, field },
        );
      }
    }
  });
  const cycle = findCycle(spec);
  if (cycle !== undefined) {
    const lineOf = (k: string) => byKey.get(k)?.task.line;
    const path = cycle.keys.map((k) => (lineOf(k) === undefined ? k : `${k} (line ${lineOf(k)})`)).join(' -> ');
    const hint = cycle.viaSubtask
      ? '; a task with subtasks completes after them, so a subtask cannot wait for its parent'
      : '';
    throw new TasklaneError('CYCLE', `${file}: dependency cycle: ${path} (each blocks the next)${hint}`, {
      file,
      cycle: cycle.keys,
    });
  }
}

/** Every dependency of the plan: `after` references, and each subtask blocking its parent. */
export function planEdges(spec: PlanSpec): PlanEdge[] {
  const edges: PlanEdge[] = [];
  const seen = new Set<string>();
  const add = (blocker: string, blocked: string, via: PlanEdge['via']) => {
    const id = `${blocker}\u0000${blocked}`;
    if (seen.has(id)) return;
    seen.add(id);
    edges.push({ blocker, blocked, via });
  };
  for (const task of spec.tasks) {
    for (const blocker of task.after) add(blocker, task.key, 'after');
    if (task.parent !== undefined) add(task.key, task.parent, 'subtask');
  }
  return edges;
}

/** The first cycle found, as keys from a task back to itself along "blocks" edges. */
export function findCycle(spec: PlanSpec): { keys: string[]; viaSubtask: boolean } | undefined {
  const out = new Map<string, PlanEdge[]>();
  for (const e of planEdges(spec)) {
    const list = out.get(e.blocker) ?? [];
    list.push(e);
    out.set(e.blocker, list);
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: PlanEdge[] = [];
  // Iterative DFS so a long chain (thousands of tasks) cannot overflow the call stack.
  for (const start of spec.tasks.map((t) => t.key)) {
    if (state.has(start)) continue;
    const frames: { key: string; next: number }[] = [{ key: start, next: 0 }];
    state.set(start, 'open');
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as (typeof frames)[number];
      const edges = out.get(frame.key) ?? [];
      const edge = edges[frame.next++];
      if (edge === undefined) {
        state.set(frame.key, 'done');
        frames.pop();
        stack.pop();
        continue;
      }
      const s = state.get(edge.blocked);
      if (s === 'open') {
        const from = frames.findIndex((f) => f.key === edge.blocked);
        const cycleEdges = [...stack.slice(from), edge];
        const keys = [...frames.slice(from).map((f) => f.key), edge.blocked];
        return { keys, viaSubtask: cycleEdges.some((e) => e.via === 'subtask') };
      }
      if (s === 'done') continue;
      state.set(edge.blocked, 'open');
      stack.push(edge);
      frames.push({ key: edge.blocked, next: 0 });
    }
  }
  return undefined;
}

/** Keys in dependency order (blockers first), ties broken by the order of the plan. Assumes no cycle. */
export function planOrder(spec: PlanSpec): string[] {
  const index = new Map(spec.tasks.map((t, i) => [t.key, i]));
  const indegree = new Map(spec.tasks.map((t) => [t.key, 0]));
  const out = new Map<string, string[]>();
  for (const e of planEdges(spec)) {
    indegree.set(e.blocked, (indegree.get(e.blocked) ?? 0) + 1);
    out.set(e.blocker, [...(out.get(e.blocker) ?? []), e.blocked]);
  }
  const ready = spec.tasks.filter((t) => indegree.get(t.key) === 0).map((t) => t.key);
  const order: string[] = [];
  while (ready.length > 0) {
    // Small plans: a sorted array is simpler than a heap and fast enough for thousands of tasks.
    ready.sort((a, b) => (index.get(a) ?? 0) - (index.get(b) ?? 0));
    const key = ready.shift() as string;
    order.push(key);
    for (const next of out.get(key) ?? []) {
      const d = (indegree.get(next) ?? 0) - 1;
      indegree.set(next, d);
      if (d === 0) ready.push(next);
    }
  }
  return order;
}

/** The spec as it should be printed or saved: no parser-only fields, and loadable again as JSON. */
export function specForOutput(spec: PlanSpec): PlanSpec {
  const out: PlanSpec = { ...(spec.title === undefined ? {} : { title: spec.title }), tasks: [] };
  for (const { line: _line, ...task } of spec.tasks) out.tasks.push(task);
  return out;
}

/** Refuses a value nested deeper than MAX_PLAN_DEPTH; iterative, so any depth is measured safely. */
function checkDepth(value: unknown, source: SpecSource): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_PLAN_DEPTH) invalid(source, '(root)', `nests more than ${MAX_PLAN_DEPTH} levels deep`);
    for (const item of Array.isArray(v) ? v : Object.values(v)) stack.push([item, depth + 1]);
  }
}

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}
