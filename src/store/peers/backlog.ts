import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Status } from '../../model/index.js';
import {
  buildPeerImport,
  type FieldMapping,
  type PeerImport,
  type PeerRef,
  type PeerTask,
  type Skipped,
} from './build.js';
import {
  decodeText,
  isObject,
  isoTime,
  peerError,
  readPeerFile,
  setOwn,
  typeName,
  type Where,
  yamlValue,
} from './where.js';

// A Backlog.md folder (backlog.md 1.52): `backlog/tasks/<id> - <Title>.md`, each a Markdown file
// with YAML front matter (id, title, status, assignee, labels, dependencies, priority,
// parent_task_id, created_date, ...) and the description, acceptance criteria, plan and notes in
// its body. `config.yml` names the statuses in board order.
//
// What is read: tasks/ and completed/ (tasks `backlog cleanup` moved there: completed whatever
// their status says). Not read, and reported: drafts/ (not yet tasks: `backlog draft promote`
// them first) and archive/ (tasks taken off the board); a dependency on one of them is dropped
// and reported. Ids are matched without regard to case (`task-1` and `TASK-1` are one task, as
// Backlog.md reads them); a bare number in dependencies means the same prefix as the task's.
// Tasks come in id order: prefix, then the numbers (task-2 before task-2.1 before task-10).

const PRIORITY: Record<string, number> = { high: 1, medium: 0, low: -1 };

const MAPPED = new Set([
  'id',
  'title',
  'status',
  'assignee',
  'labels',
  'dependencies',
  'priority',
  'parent_task_id',
  'parent',
  'created_date',
  'updated_date',
  'ordinal',
]);

export const BACKLOG_FIELDS: FieldMapping = {
  mapped: {
    id: 'metadata.imported.id (renumbered)',
    title: 'subject',
    status: 'status (by config.yml: the last status completed, the first pending, any between in_progress)',
    assignee: 'owner (the first, without its @; all of them in metadata.imported.assignee)',
    labels: 'metadata.tasklane.labels',
    dependencies: 'blockedBy / blocks',
    priority: 'metadata.tasklane.priority (high 1, medium 0, low -1)',
    parent_task_id: 'the subtask blocks its parent; metadata.imported.parent',
    created_date: 'metadata.tasklane.createdAt',
    updated_date: 'metadata.tasklane.updatedAt',
    body: 'description (Markdown, without Backlog.md section markers)',
  },
  metadata: ['status and priority as written', 'every other front matter key'],
  description: ['the body: description, acceptance criteria, implementation plan and notes'],
  dropped: ['ordinal (board order)', 'drafts/ and archive/ (reported as skipped)'],
};

export interface BacklogOptions {
  list?: string;
}

/** The backlog folder within `dir`: `dir` itself when it holds tasks/, else `dir/backlog` or `dir/.backlog`. */
export function backlogFolder(dir: string): string | undefined {
  for (const candidate of [dir, join(dir, 'backlog'), join(dir, '.backlog')]) {
    if (isDir(join(candidate, 'tasks')) || existsSync(join(candidate, 'config.yml'))) return candidate;
  }
  return undefined;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Reads a Backlog.md folder into export records and a report; throws naming the file, line and field. */
export function readBacklog(dir: string, label: string, opts: BacklogOptions = {}): PeerImport {
  const folder = backlogFolder(dir);
  if (folder === undefined) {
    throw peerError(
      { file: label },
      'not a Backlog.md folder: it holds no tasks/ or config.yml, nor a backlog/ folder that does',
    );
  }
  const shown = (path: string): string => join(label, path.slice(dir.length + (dir.endsWith('/') ? 0 : 1)));
  const statuses = readStatuses(join(folder, 'config.yml'), shown(join(folder, 'config.yml')));
  const skipped: Skipped[] = [];
  const peers: PeerTask[] = [];
  for (const [sub, completed] of [
    ['tasks', false],
    ['completed', true],
  ] as const) {
    const files = markdownFiles(join(folder, sub));
    const read = files.map((f) => readTaskFile(join(folder, sub, f), shown(join(folder, sub, f)), statuses, completed));
    read.sort((a, b) => compareBacklogIds(a.key, b.key));
    peers.push(...read);
  }
  for (const [sub, why] of [
    ['drafts', 'a draft, not yet a task (promote it in Backlog.md to import it)'],
    ['archive/tasks', 'archived: taken off the board'],
    ['archive/drafts', 'an archived draft'],
  ] as const) {
    for (const f of markdownFiles(join(folder, sub))) {
      skipped.push({ task: f.split(' - ')[0] as string, file: shown(join(folder, sub, f)), why });
    }
  }
  return buildPeerImport(peers, {
    from: 'backlog',
    source: label,
    list: opts.list ?? 'backlog',
    fields: BACKLOG_FIELDS,
    skipped,
  });
}

function markdownFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.md') && !n.startsWith('.')).sort();
}

/** config.yml's statuses, in board order; Backlog.md's defaults when absent. */
function readStatuses(path: string, label: string): string[] {
  const fallback = ['To Do', 'In Progress', 'Done'];
  if (!existsSync(path)) return fallback;
  const text = decodeText(readPeerFile(path, label), label);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const err = doc.errors[0];
  if (err !== undefined)
    throw peerError(
      { file: label, line: lines.linePos(err.pos[0]).line },
      `not valid YAML (${err.message.split('\n')[0]})`,
    );
  const value = yamlValue(doc, { file: label });
  const list = isObject(value) ? value.statuses : undefined;
  if (list === undefined) return fallback;
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string')) {
    throw peerError({ file: label }, 'statuses must be a list of status names', 'statuses');
  }
  return list as string[];
}

function statusOf(peer: string, statuses: string[]): Status {
  const s = peer.trim().toLowerCase();
  const names = statuses.map((x) => x.toLowerCase());
  if (s === (names.at(-1) as string) || s === 'done') return 'completed';
  if (s === names[0] || !names.includes(s)) return 'pending';
  return 'in_progress';
}

/** Parses one task file: front matter between `---` lines, then the body. */
function readTaskFile(path: string, file: string, statuses: string[], completed: boolean): PeerTask {
  const text = decodeText(readPeerFile(path, file), file).replace(/\r\n/g, '\n');
  const lines = text.split('\n');
  if (lines[0]?.trim() !== '---')
    throw peerError({ file, line: 1 }, 'a Backlog.md task starts with a front matter block (a line ---)');
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === '---');
  if (end < 0) throw peerError({ file, line: lines.length }, 'the front matter is not closed (no second line ---)');
  const yamlText = lines.slice(1, end).join('\n');
  const counter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: counter, uniqueKeys: true });
  const lineOfPos = (pos: number): number => counter.linePos(pos).line + 1;
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    throw peerError(
      { file, line: lineOfPos(yamlError.pos[0]) },
      `the front matter is not valid YAML (${yamlError.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')})`,
    );
  }
  const fm = yamlValue(doc, { file, line: 2 });
  if (!isObject(fm))
    throw peerError({ file, line: 2 }, `the front matter must be a mapping of fields, got ${typeName(fm)}`);
  const at = (key: string): Where => {
    if (isMap(doc.contents)) {
      for (const pair of doc.contents.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range != null) {
          return { file, line: lineOfPos(pair.key.range[0]) };
        }
      }
    }
    return { file, line: 2 };
  };
  const str = (key: string, optional: boolean): string | undefined => {
    const v = fm[key];
    if ((v === undefined || v === null) && optional) return undefined;
    if (typeof v === 'number' && key !== 'title') return String(v);
    if (typeof v !== 'string' || v.trim() === '')
      throw peerError(
        at(key),
        `${key} must be a non-empty string, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`,
        key,
      );
    return v;
  };
  const id = (str('id', false) as string).trim();
  const label = id;
  const key = id.toLowerCase();
  const prefix = /^(.*?)-?\d+(\.\d+)*$/.exec(id)?.[1] ?? '';
  const refKey = (raw: unknown, where: Where, field: string): PeerRef => {
    if (typeof raw === 'number') raw = `${prefix}-${raw}`;
    if (typeof raw !== 'string' || raw.trim() === '')
      throw peerError(where, `task ${label}: ${field} must name tasks by id, found ${JSON.stringify(raw)}`, field);
    let r = raw.trim();
    if (/^\d+(\.\d+)*$/.test(r)) r = `${prefix}-${r}`;
    return { key: r.toLowerCase(), label: r, where, field };
  };
  const list = (key: string): unknown[] => {
    const v = fm[key];
    if (v === undefined || v === null || v === '') return [];
    if (Array.isArray(v)) return v;
    if (typeof v === 'string' || typeof v === 'number') return [v];
    throw peerError(at(key), `task ${label}: ${key} must be a list, got ${typeName(v)}`, key);
  };
  const title = str('title', false) as string;
  const peerStatus = str('status', true) ?? statuses[0] ?? 'To Do';
  const status = completed ? 'completed' : statusOf(peerStatus, statuses);
  const assignees = list('assignee').map((a) => {
    if (typeof a !== 'string' || a.trim() === '')
      throw peerError(at('assignee'), `task ${label}: assignee must be names, found ${JSON.stringify(a)}`, 'assignee');
    return a.trim().replace(/^@/, '');
  });
  const labels = list('labels').map((l) => {
    if (typeof l !== 'string')
      throw peerError(at('labels'), `task ${label}: labels must be strings, found ${JSON.stringify(l)}`, 'labels');
    return l;
  });
  const imported: Record<string, unknown> = {};
  if (completed) imported.folder = 'completed';
  if (assignees.length > 1) imported.assignee = assignees;
  let priority: number | undefined;
  const rawPriority = fm.priority;
  if (rawPriority !== undefined && rawPriority !== null) {
    imported.priority = rawPriority;
    priority = typeof rawPriority === 'string' ? PRIORITY[rawPriority.toLowerCase()] : undefined;
  }
  for (const [k, v] of Object.entries(fm)) if (!MAPPED.has(k)) setOwn(imported, k, v);
  const parentRaw = fm.parent_task_id ?? fm.parent;
  const parent =
    parentRaw === undefined || parentRaw === null || parentRaw === ''
      ? undefined
      : refKey(
          parentRaw,
          at(fm.parent_task_id === undefined ? 'parent' : 'parent_task_id'),
          fm.parent_task_id === undefined ? 'parent' : 'parent_task_id',
        );
  const time = (k: string): string | undefined => isoTime(fm[k]);
  const createdAt = time('created_date');
  const updatedAt = time('updated_date');
  const body = lines
    .slice(end + 1)
    .filter((l) => !/^\s*<!--\s*(SECTION:[A-Z_]+|AC|DOD):(BEGIN|END)\s*-->\s*$/.test(l))
    .join('\n')
    .trim();
  return {
    key,
    label,
    where: { file, line: 1 },
    subject: title,
    subjectField: 'title',
    description: body,
    status,
    peerStatus,
    ...(assignees[0] === undefined ? {} : { owner: assignees[0] }),
    ...(priority === undefined ? {} : { priority }),
    ...(labels.length === 0 ? {} : { labels }),
    ...(createdAt === undefined ? {} : { createdAt }),
    ...(updatedAt === undefined ? {} : { updatedAt }),
    dependsOn: list('dependencies').map((d) => refKey(d, at('dependencies'), 'dependencies')),
    ...(parent === undefined ? {} : { parent }),
    imported,
  };
}

/** Backlog ids in order: prefix, then each number (task-2 < task-2.1 < task-10). */
function compareBacklogIds(a: string, b: string): number {
  const split = (id: string): [string, number[]] => {
    const m = /^(.*?)-?(\d+(?:\.\d+)*)$/.exec(id);
    return m === null ? [id, []] : [m[1] as string, (m[2] as string).split('.').map(Number)];
  };
  const [pa, na] = split(a);
  const [pb, nb] = split(b);
  if (pa !== pb) return pa < pb ? -1 : 1;
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const x = na[i] ?? -1;
    const y = nb[i] ?? -1;
    if (x !== y) return x - y;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
