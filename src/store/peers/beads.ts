import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Status } from '../../model/index.js';
import {
  buildPeerImport,
  type FieldMapping,
  type PeerImport,
  type PeerRef,
  type PeerTask,
  type Skipped,
} from './build.js';
import { decodeText, isObject, isoTime, parseJson, peerError, readPeerFile, typeName, type Where } from './where.js';

// Beads' JSONL export (`.beads/issues.jsonl`, older `.beads/beads.jsonl`): one issue a line, as
// bd writes it (internal/types Issue: id, title, description, design, acceptance_criteria, notes,
// status, priority 0-4, issue_type, assignee, estimated_minutes, created_at, updated_at,
// closed_at, labels, dependencies [{issue_id, depends_on_id, type}], comments, ...).
//
// Only `blocks` dependencies become edges (depends_on_id blocks issue_id). `parent-child` makes
// the child block its parent (an epic waits for its children, as `bd epic close-eligible` has
// it); Beads' other reading, that the children of a blocked epic are not ready, is not carried.
// `related`, `discovered-from` and any other type are kept as links in metadata.imported.links,
// not edges: they do not order work. Tombstones (deleted issues) are skipped and reported.
// Issues come in file order (bd writes them sorted by id).

const STATUS: Record<string, Status> = {
  open: 'pending',
  in_progress: 'in_progress',
  blocked: 'pending',
  deferred: 'pending',
  pinned: 'pending',
  hooked: 'in_progress',
  closed: 'completed',
};

export const BEADS_FIELDS: FieldMapping = {
  mapped: {
    id: 'metadata.imported.id (renumbered)',
    title: 'subject',
    description: 'description',
    status:
      'status (open, blocked, deferred, pinned pending; in_progress, hooked in_progress; closed completed; others pending)',
    priority: 'metadata.tasklane.priority (2 - priority: P0 2, P2 0, P4 -2)',
    assignee: 'owner',
    labels: 'metadata.tasklane.labels',
    estimated_minutes: 'metadata.tasklane.estimate (seconds)',
    'dependencies (blocks)': 'blockedBy / blocks',
    'dependencies (parent-child)': 'the child blocks its parent; metadata.imported.parent',
    created_at: 'metadata.tasklane.createdAt',
    updated_at: 'metadata.tasklane.updatedAt',
    closed_at: 'metadata.tasklane.completedAt',
  },
  metadata: [
    'status and priority as written',
    'issue_type (type)',
    'dependencies of other types (links: related, discovered-from, ...)',
    'close_reason',
    'external_ref',
  ],
  description: ['design (## Design)', 'acceptance_criteria (## Acceptance criteria)', 'notes (## Notes)'],
  dropped: ['comments', 'compaction fields', 'tombstones (deleted issues, reported as skipped)'],
};

/** The JSONL file: `path` itself, or a project's `.beads/issues.jsonl` (or `beads.jsonl`). */
export function beadsFile(path: string): string | undefined {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    return undefined;
  }
  if (!dir) return path;
  for (const candidate of [
    join(path, '.beads', 'issues.jsonl'),
    join(path, '.beads', 'beads.jsonl'),
    join(path, 'issues.jsonl'),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface BeadsOptions {
  list?: string;
}

/** Reads a Beads JSONL export into export records and a report; throws naming the file, line and field. */
export function readBeads(path: string, label: string, opts: BeadsOptions = {}): PeerImport {
  const file = beadsFile(path);
  if (file === undefined)
    throw peerError({ file: label }, 'no Beads export here: neither a file nor a directory with .beads/issues.jsonl');
  const shown = file === path ? label : join(label, file.slice(path.length + (path.endsWith('/') ? 0 : 1)));
  const text = decodeText(readPeerFile(file, shown), shown);
  const peers: PeerTask[] = [];
  const skipped: Skipped[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const where: Where = { file: shown, line: i + 1 };
    const value = parseJson(line, where);
    if (!isObject(value)) throw peerError(where, `an issue must be a JSON object, got ${typeName(value)}`);
    const issue = toPeer(value, where);
    if (issue === 'tombstone') {
      skipped.push({ task: String(value.id), file: shown, line: i + 1, why: 'a tombstone: deleted in Beads' });
      return;
    }
    peers.push(issue);
  });
  return buildPeerImport(peers, {
    from: 'beads',
    source: label,
    list: opts.list ?? 'beads',
    fields: BEADS_FIELDS,
    skipped,
  });
}

function toPeer(v: Record<string, unknown>, where: Where): PeerTask | 'tombstone' {
  const str = (key: string, optional: boolean): string | undefined => {
    const x = v[key];
    if ((x === undefined || x === null) && optional) return undefined;
    if (typeof x !== 'string') {
      const who = typeof v.id === 'string' && key !== 'id' ? `issue ${v.id}: ` : '';
      throw peerError(where, `${who}${key} must be a string, got ${x === undefined ? 'nothing' : typeName(x)}`, key);
    }
    return x;
  };
  const id = str('id', false) as string;
  if (id.trim() === '') throw peerError(where, 'id must be a non-empty string', 'id');
  const peerStatus = str('status', true) ?? 'open';
  if (peerStatus === 'tombstone') return 'tombstone';
  const title = str('title', false) as string;
  const sections = [(str('description', true) ?? '').trim()];
  for (const [key, head] of [
    ['design', 'Design'],
    ['acceptance_criteria', 'Acceptance criteria'],
    ['notes', 'Notes'],
  ] as const) {
    const text = (str(key, true) ?? '').trim();
    if (text !== '') sections.push(`## ${head}\n\n${text}`);
  }
  const imported: Record<string, unknown> = {};
  let priority: number | undefined;
  if (v.priority !== undefined && v.priority !== null) {
    if (typeof v.priority !== 'number' || !Number.isInteger(v.priority) || v.priority < 0 || v.priority > 4) {
      throw peerError(
        where,
        `issue ${id}: priority must be a whole number from 0 to 4, got ${JSON.stringify(v.priority)}`,
        'priority',
      );
    }
    priority = 2 - v.priority;
    imported.priority = v.priority;
  }
  const type = str('issue_type', true);
  if (type !== undefined) imported.type = type;
  for (const key of ['close_reason', 'external_ref'] as const) {
    const x = str(key, true);
    if (x !== undefined && x !== '') imported[key] = x;
  }
  const labels = v.labels === undefined || v.labels === null ? undefined : v.labels;
  if (labels !== undefined && (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string'))) {
    throw peerError(where, `issue ${id}: labels must be an array of strings, got ${typeName(labels)}`, 'labels');
  }
  let estimate: number | undefined;
  if (v.estimated_minutes !== undefined && v.estimated_minutes !== null) {
    if (typeof v.estimated_minutes !== 'number' || !(v.estimated_minutes >= 0)) {
      throw peerError(
        where,
        `issue ${id}: estimated_minutes must be a number of minutes, got ${JSON.stringify(v.estimated_minutes)}`,
        'estimated_minutes',
      );
    }
    if (v.estimated_minutes > 0) estimate = v.estimated_minutes * 60;
  }
  const deps = v.dependencies === undefined || v.dependencies === null ? [] : v.dependencies;
  if (!Array.isArray(deps))
    throw peerError(where, `issue ${id}: dependencies must be an array, got ${typeName(deps)}`, 'dependencies');
  const dependsOn: PeerRef[] = [];
  const links: { type: string; id: string }[] = [];
  let parent: PeerRef | undefined;
  deps.forEach((d, j) => {
    const field = `dependencies[${j}]`;
    if (!isObject(d))
      throw peerError(
        where,
        `issue ${id}: ${field} must be an object {issue_id, depends_on_id, type}, got ${typeName(d)}`,
        field,
      );
    if (typeof d.depends_on_id !== 'string' || d.depends_on_id === '') {
      throw peerError(
        where,
        `issue ${id}: ${field}.depends_on_id must be an issue id, got ${JSON.stringify(d.depends_on_id)}`,
        `${field}.depends_on_id`,
      );
    }
    if (d.issue_id !== undefined && d.issue_id !== id) {
      throw peerError(
        where,
        `issue ${id}: ${field}.issue_id is ${JSON.stringify(d.issue_id)}, not this issue's id`,
        `${field}.issue_id`,
      );
    }
    const kind = d.type === undefined ? 'blocks' : d.type;
    if (typeof kind !== 'string')
      throw peerError(where, `issue ${id}: ${field}.type must be a string`, `${field}.type`);
    const ref: PeerRef = { key: d.depends_on_id, label: d.depends_on_id, where, field: `${field} (${kind})` };
    if (kind === 'blocks') dependsOn.push(ref);
    else if (kind === 'parent-child' && parent === undefined) parent = ref;
    else links.push({ type: kind, id: d.depends_on_id });
  });
  if (links.length > 0) imported.links = links;
  const time = (key: string): string | undefined => isoTime(v[key]);
  const createdAt = time('created_at');
  const updatedAt = time('updated_at');
  const completedAt = time('closed_at');
  const owner = str('assignee', true);
  return {
    key: id,
    label: id,
    where,
    subject: title,
    subjectField: 'title',
    description: sections.filter((s) => s !== '').join('\n\n'),
    status: STATUS[peerStatus] ?? 'pending',
    peerStatus,
    ...(owner === undefined || owner === '' ? {} : { owner }),
    ...(priority === undefined ? {} : { priority }),
    ...(labels === undefined || labels.length === 0 ? {} : { labels: labels as string[] }),
    ...(estimate === undefined ? {} : { estimate }),
    ...(createdAt === undefined ? {} : { createdAt }),
    ...(updatedAt === undefined ? {} : { updatedAt }),
    ...(completedAt === undefined ? {} : { completedAt }),
    dependsOn,
    ...(parent === undefined ? {} : { parent }),
    imported,
  };
}
