import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { TasklaneError } from '../../model/index.js';
import type { FrontMatter } from './markdown-tree.js';
import { type PlanAmbiguity, uniqueKey } from './shape.js';
import type { PlanTask } from './spec.js';

// Front matter, read as YAML (JSON is YAML): the plan's title, and the `todos:` plan-mode plugins
// write (`id`, `content`, `status`, `dependencies`), which are then the plan's tasks.

export interface FrontMatterPlan {
  title?: string;
  /** Undefined when the front matter has no todos list. */
  todos?: PlanTask[];
  /** Todos left out for their status (cancelled, skipped). */
  dropped?: { line: number; subject: string; status: string }[];
}

const CONTENT = ['content', 'title', 'subject', 'task', 'name', 'text'];
const DETAIL = ['description', 'details', 'notes', 'body'];
const DEPENDS = ['dependencies', 'depends_on', 'dependsOn', 'blockedBy', 'blocked_by', 'after'];
const DONE = new Set(['completed', 'complete', 'done', 'finished']);
const DROPPED = new Set(['cancelled', 'canceled', 'skipped', 'wontfix', "won't do"]);

export function readFrontMatter(front: FrontMatter, file: string, ambiguities: PlanAmbiguity[]): FrontMatterPlan {
  const lineCounter = new LineCounter();
  const doc = parseDocument(front.text, { lineCounter, uniqueKeys: true });
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? front.line : front.line - 1 + lineCounter.linePos(offset).line;
  const bad = (line: number, message: string): never => {
    throw new TasklaneError('INVALID_INPUT', `${file}:${line}: front matter ${message}`, {
      file,
      field: 'front matter',
    });
  };
  const first = doc.errors[0];
  if (first !== undefined) bad(lineAt(first.pos[0]), `is not valid YAML: ${first.message.split('\n')[0]}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    bad(front.line, `is not usable YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  const fm = value as Record<string, unknown>;
  const out: FrontMatterPlan = {};
  const title = typeof fm.title === 'string' ? fm.title : typeof fm.name === 'string' ? fm.name : undefined;
  if (title !== undefined && title.trim() !== '') out.title = title.trim();
  const raw = fm.todos ?? fm.tasks;
  if (raw === undefined) return out;
  const node = isMap(doc.contents) ? doc.contents.get(fm.todos === undefined ? 'tasks' : 'todos', true) : undefined;
  const lines = isSeq(node) ? node.items.map((n) => lineAt((n as { range?: number[] }).range?.[0])) : [];
  if (!Array.isArray(raw)) bad(lines[0] ?? front.line, '`todos` must be a list');

  const taken = new Set<string>();
  const byId = new Map<string, string>();
  const dropped = new Set<string>();
  const todos: { task: PlanTask; deps: string[]; line: number }[] = [];
  (raw as unknown[]).forEach((entry, i) => {
    const line = lines[i] ?? front.line;
    const todo: Record<string, unknown> =
      typeof entry === 'string'
        ? { content: entry }
        : entry !== null && typeof entry === 'object'
          ? (entry as Record<string, unknown>)
          : {};
    const text = CONTENT.map((k) => todo[k]).find((v) => typeof v === 'string' && v.trim() !== '') as
      | string
      | undefined;
    if (text === undefined) bad(line, `todo ${i + 1} has no content (one of: ${CONTENT.join(', ')})`);
    const status = typeof todo.status === 'string' ? todo.status.trim().toLowerCase() : '';
    if (DROPPED.has(status)) {
      // Left out, and said so in the reading's skipped list; what waits for it does not wait.
      if (todo.id !== undefined) dropped.add(String(todo.id));
      out.dropped = [
        ...(out.dropped ?? []),
        { line, subject: (text as string).trim().split('\n')[0] as string, status },
      ];
      return;
    }
    const [subject, ...rest] = (text as string).trim().split('\n');
    const id = todo.id === undefined ? undefined : String(todo.id);
    const task: PlanTask = {
      key: id === undefined ? uniqueKey(subject as string, taken) : uniqueKey(id, taken, true),
      subject: (subject as string).trim(),
      after: [],
      line,
    };
    const detail = [
      rest.join('\n').trim(),
      ...DETAIL.map((k) => todo[k]).filter((v): v is string => typeof v === 'string'),
    ]
      .map((d) => d.trim())
      .filter((d) => d !== '');
    if (detail.length > 0) task.description = detail.join('\n\n');
    if (DONE.has(status)) task.done = true;
    if (id !== undefined) byId.set(id, task.key);
    const depsRaw = DEPENDS.map((k) => todo[k]).find((v) => v !== undefined);
    const deps = depsRaw === undefined ? [] : (Array.isArray(depsRaw) ? depsRaw : [depsRaw]).map(String);
    todos.push({ task, deps, line });
  });
  for (const { task, deps, line } of todos) {
    for (const dep of deps) {
      const key = byId.get(dep) ?? todos.find((t) => t.task.key === dep)?.task.key;
      if (key === undefined && dropped.has(dep)) continue;
      if (key === undefined)
        ambiguities.push({
          line,
          message: `todo ${JSON.stringify(task.key)} depends on ${JSON.stringify(dep)}, which no todo has as its id`,
        });
      else if (key !== task.key && !task.after.includes(key)) task.after.push(key);
    }
  }
  out.todos = todos.map((t) => t.task);
  return out;
}
