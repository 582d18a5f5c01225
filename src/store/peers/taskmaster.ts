import type { Status } from '../../model/index.js';
import { buildPeerImport, type FieldMapping, type PeerImport, type PeerRef, type PeerTask } from './build.js';
import {
  decodeText,
  isObject,
  isoTime,
  JsonLocator,
  lazyWhere,
  parseJson,
  peerError,
  readPeerFile,
  typeName,
  type Where,
} from './where.js';

// Task Master's tasks.json (task-master-ai 0.43): `{"<tag>": {"tasks": [...], "metadata": {...}}}`,
// one entry per tag, or the older `{"tasks": [...]}` (read as the tag `master`). Ids are unique
// only within a tag, so each task's key is `<tag>:<id>`, subtasks `<tag>:<id>.<sub>`; the report
// and metadata.imported name them without the tag when a single tag is imported.
//
// Task order: tags in file order, tasks in file order, each task followed by its subtasks.
// Dependencies follow Task Master's own reading: in a task, `3` is task 3 and `"3.2"` subtask 2 of
// task 3; in a subtask, `"3.2"` is that subtask and a bare number n below 100 is the sibling
// subtask n (task 3 falls back to top-level task 3 when there is no such sibling), as
// task-master's dependency checks read it; 100 and up are top-level tasks. Dependencies never
// cross tags.

const STATUS: Record<string, Status> = {
  pending: 'pending',
  'in-progress': 'in_progress',
  review: 'in_progress',
  done: 'completed',
  completed: 'completed',
  deferred: 'pending',
  cancelled: 'completed',
  blocked: 'pending',
};

const PRIORITY: Record<string, number> = { critical: 2, high: 1, medium: 0, low: -1 };

const KNOWN = new Set([
  'id',
  'title',
  'description',
  'details',
  'testStrategy',
  'status',
  'dependencies',
  'priority',
  'subtasks',
  'assignee',
  'parentTaskId',
  'parentId',
  'complexity',
  'createdAt',
  'updatedAt',
]);

export const TASKMASTER_FIELDS: FieldMapping = {
  mapped: {
    id: 'metadata.imported.id (renumbered)',
    title: 'subject',
    description: 'description',
    status: 'status',
    dependencies: 'blockedBy / blocks',
    priority: 'metadata.tasklane.priority (high 1, medium 0, low -1, critical 2)',
    assignee: 'owner',
    subtasks: 'tasks of their own, each blocking its parent',
  },
  metadata: ['tag', 'priority (as written)', 'complexity'],
  description: ['details (## Details)', 'testStrategy (## Test strategy)'],
  dropped: ['the tag metadata (created, updated, description)'],
};

export interface TaskmasterOptions {
  /** Import only these tags; default every tag. */
  tags?: string[];
  list?: string;
}

/** Reads a tasks.json into export records and a report; throws naming the file, line and field. */
export function readTaskmaster(path: string, label: string, opts: TaskmasterOptions = {}): PeerImport {
  const text = decodeText(readPeerFile(path, label), label);
  const root = parseJson(text, { file: label });
  const locator = new JsonLocator(text);
  const where = (p: (string | number)[]): Where => lazyWhere(label, () => locator.lineOf(p));
  if (!isObject(root))
    throw peerError({ file: label, line: 1 }, `a tasks.json holds a JSON object, got ${typeName(root)}`);

  // Tag name -> [path to its tasks array, the array].
  const tags: { name: string; path: (string | number)[]; tasks: unknown }[] = [];
  if (Array.isArray(root.tasks)) {
    tags.push({ name: 'master', path: ['tasks'], tasks: root.tasks });
  } else {
    for (const [name, value] of Object.entries(root)) {
      if (!isObject(value) || !Array.isArray(value.tasks)) {
        throw peerError(
          where([name]),
          `"${name}" is not a tag: Task Master's tasks.json holds {"<tag>": {"tasks": [...]}} (or the older {"tasks": [...]}); got ${isObject(value) ? 'an object without a tasks array' : typeName(value)}`,
          name,
        );
      }
      tags.push({ name, path: [name, 'tasks'], tasks: value.tasks });
    }
  }
  let chosen = tags;
  if (opts.tags !== undefined && opts.tags.length > 0) {
    const names = new Set(tags.map((t) => t.name));
    const unknown = opts.tags.filter((t) => !names.has(t));
    if (unknown.length > 0) {
      throw peerError(
        { file: label },
        `no tag ${unknown.map((t) => JSON.stringify(t)).join(', ')} in it; its tags are ${[...names].join(', ') || '(none)'}`,
        'tag',
      );
    }
    chosen = tags.filter((t) => (opts.tags as string[]).includes(t.name));
  }
  const prefixed = chosen.length > 1;
  const unknownFields = new Set<string>();
  const peers: PeerTask[] = [];

  for (const tag of chosen) {
    const tasks = tag.tasks as unknown[];
    const show = (id: string): string => (prefixed ? `${tag.name}:${id}` : id);
    const keyOf = (id: string): string => `${tag.name}:${id}`;
    // Subtask ids of each task, to read a subtask's bare numbers as Task Master does.
    const subIds = new Map<string, Set<string>>();
    tasks.forEach((t, i) => {
      const task = expectTask(t, where([...tag.path, i]), `${tag.name} task ${i + 1}`);
      const id = idText(task.id, where([...tag.path, i, 'id']), 'id');
      const subs = Array.isArray(task.subtasks) ? task.subtasks : [];
      subIds.set(id, new Set(subs.map((s) => (isObject(s) ? String(s.id) : ''))));
    });

    tasks.forEach((t, i) => {
      const path = [...tag.path, i];
      const task = t as Record<string, unknown>;
      const id = idText(task.id, where([...path, 'id']), 'id');
      const deps = (value: unknown, depPath: (string | number)[], owner: string, parentId?: string): PeerRef[] => {
        if (value === undefined || value === null) return [];
        if (!Array.isArray(value))
          throw peerError(
            where(depPath),
            `task ${owner}: dependencies must be an array of ids, got ${typeName(value)}`,
            'dependencies',
          );
        return value.map((d, j) => {
          const w = where([...depPath, j]);
          const raw = idText(d, w, 'dependencies');
          let target = raw;
          if (parentId !== undefined && !raw.includes('.')) {
            const n = Number(raw);
            if (n < 100 && subIds.get(parentId)?.has(raw) === true) target = `${parentId}.${raw}`;
          }
          return { key: keyOf(target), label: show(target), where: w, field: 'dependencies' };
        });
      };
      peers.push(
        toPeer(
          task,
          path,
          show(id),
          keyOf(id),
          tag.name,
          where,
          deps(task.dependencies, [...path, 'dependencies'], show(id)),
          undefined,
          unknownFields,
        ),
      );
      const subs = task.subtasks;
      if (subs === undefined || subs === null) return;
      if (!Array.isArray(subs))
        throw peerError(
          where([...path, 'subtasks']),
          `task ${show(id)}: subtasks must be an array, got ${typeName(subs)}`,
          'subtasks',
        );
      subs.forEach((s, j) => {
        const sPath = [...path, 'subtasks', j];
        const sub = expectTask(s, where(sPath), `subtask ${j + 1} of task ${show(id)}`);
        const subId = `${id}.${idText(sub.id, where([...sPath, 'id']), 'id')}`;
        const parent: PeerRef = { key: keyOf(id), label: show(id), where: where(sPath), field: 'subtasks' };
        peers.push(
          toPeer(
            sub,
            sPath,
            show(subId),
            keyOf(subId),
            tag.name,
            where,
            deps(sub.dependencies, [...sPath, 'dependencies'], show(subId), id),
            parent,
            unknownFields,
          ),
        );
      });
    });
  }

  const fields: FieldMapping = {
    ...TASKMASTER_FIELDS,
    dropped: [
      ...TASKMASTER_FIELDS.dropped,
      ...[...unknownFields].sort().map((f) => `${f} (not a Task Master field this reads)`),
    ],
  };
  return buildPeerImport(peers, {
    from: 'taskmaster',
    source: label,
    list: opts.list ?? chosen.map((t) => t.name).join('+'),
    fields,
  });
}

function expectTask(value: unknown, where: Where, what: string): Record<string, unknown> {
  if (!isObject(value)) throw peerError(where, `${what} must be an object, got ${typeName(value)}`);
  return value;
}

/** An id as Task Master writes it: a whole number, or a string of one (subtask refs "3.2"). */
function idText(value: unknown, where: Where, field: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim())) return value.trim();
  throw peerError(
    where,
    `${field}: ${JSON.stringify(value)} is not a Task Master id (a whole number, or "N.M" for a subtask)`,
    field,
  );
}

function toPeer(
  t: Record<string, unknown>,
  path: (string | number)[],
  label: string,
  key: string,
  tag: string,
  where: (p: (string | number)[]) => Where,
  dependsOn: PeerRef[],
  parent: PeerRef | undefined,
  unknownFields: Set<string>,
): PeerTask {
  for (const k of Object.keys(t)) if (!KNOWN.has(k)) unknownFields.add(k);
  const text = (field: string, optional: boolean): string => {
    const v = t[field];
    if ((v === undefined || v === null) && optional) return '';
    if (typeof v !== 'string')
      throw peerError(
        where([...path, field]),
        `task ${label}: ${field} must be a string, got ${v === undefined ? 'nothing' : typeName(v)}`,
        field,
      );
    return v;
  };
  const title = text('title', false);
  const sections = [text('description', true).trim()];
  const details = text('details', true).trim();
  if (details !== '') sections.push(`## Details\n\n${details}`);
  const testStrategy = text('testStrategy', true).trim();
  if (testStrategy !== '') sections.push(`## Test strategy\n\n${testStrategy}`);
  const peerStatus = t.status === undefined ? 'pending' : t.status;
  if (typeof peerStatus !== 'string' || STATUS[peerStatus] === undefined) {
    throw peerError(
      where([...path, 'status']),
      `task ${label}: status must be one of ${Object.keys(STATUS).join(', ')}; got ${JSON.stringify(peerStatus)}`,
      'status',
    );
  }
  const imported: Record<string, unknown> = { tag };
  let priority: number | undefined;
  if (t.priority !== undefined && t.priority !== null) {
    const p = typeof t.priority === 'string' ? PRIORITY[t.priority] : undefined;
    if (p === undefined) {
      throw peerError(
        where([...path, 'priority']),
        `task ${label}: priority must be one of ${Object.keys(PRIORITY).join(', ')}; got ${JSON.stringify(t.priority)}`,
        'priority',
      );
    }
    priority = p;
    imported.priority = t.priority;
  }
  if (t.complexity !== undefined) imported.complexity = t.complexity;
  const owner = typeof t.assignee === 'string' && t.assignee !== '' ? t.assignee : undefined;
  return {
    key,
    label,
    where: where(path),
    subject: title,
    subjectField: 'title',
    description: sections.filter((s) => s !== '').join('\n\n'),
    status: STATUS[peerStatus] as Status,
    peerStatus,
    ...(owner === undefined ? {} : { owner }),
    ...(priority === undefined ? {} : { priority }),
    ...(isoTime(t.createdAt) === undefined ? {} : { createdAt: isoTime(t.createdAt) as string }),
    ...(isoTime(t.updatedAt) === undefined ? {} : { updatedAt: isoTime(t.updatedAt) as string }),
    dependsOn,
    ...(parent === undefined ? {} : { parent }),
    imported,
  };
}
