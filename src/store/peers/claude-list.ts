import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  compareIds,
  isNumericId,
  isProjectId,
  isTasklaneError,
  isTombstone,
  LIMITS,
  mayNestDeeperThan,
  parseTask,
  sanitizePathComponent,
  type Task,
  tooDeep,
} from '../../model/index.js';
import {
  buildPeerImport,
  type FieldMapping,
  type PeerImport,
  type PeerRef,
  type PeerTask,
  type Skipped,
} from './build.js';
import { decodeText, JsonLocator, parseJson, peerError, readPeerFile } from './where.js';

// A Claude Code task list: a directory of `<id>.json` files (Claude Code's schema) and its
// `.highwatermark`, e.g. `~/.claude/tasks/<list>/`. Each task is kept whole, its id included, and
// the high-water mark travels, so no id the source handed out is handed out again. Edges are made
// two-sided (a crash between Claude Code's two writes can leave one side) and an edge to a task
// that is not there is dropped, both reported. A file that is not a valid task is refused (Claude
// Code would skip it as absent: an import would lose it without a word). The history of a
// Tasklane list is not in these files: `tasklane export` carries it.

export const CLAUDE_FIELDS: FieldMapping = {
  mapped: { '*': 'the same field: each task is kept as stored, its id included' },
  metadata: [],
  description: [],
  dropped: ['the history (a Tasklane list keeps it outside the task files: use tasklane export for it)'],
};

export interface ClaudeListOptions {
  list?: string;
}

/**
 * Whether `dir` plainly is a Claude Code list: a `.highwatermark`, or `.json` files all named by
 * task id: by number (`1.json`, `2.json`), as Claude Code names them, or by a project list's
 * random id (`k3f9x2ab.json`, docs/git.md), which keeps no high-water mark. A project directory
 * (package.json) is not.
 */
export function isClaudeList(dir: string): boolean {
  try {
    const names = readdirSync(dir);
    if (names.includes('.highwatermark')) return true;
    const json = names.filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    return json.length > 0 && json.every((n) => isNumericId(n.slice(0, -5)) || isProjectId(n.slice(0, -5)));
  } catch {
    return false;
  }
}

/** Reads a Claude Code list directory into export records and a report; throws naming the file, line and field. */
export function readClaudeList(dir: string, label: string, opts: ClaudeListOptions = {}): PeerImport {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
  } catch {
    throw peerError({ file: label }, 'a Claude Code list is a directory of <id>.json task files');
  }
  const files = names.filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  files.sort((a, b) => compareIds(a.slice(0, -5), b.slice(0, -5)));
  let highestId = 0;
  if (names.includes('.highwatermark')) {
    const text = readPeerFile(join(dir, '.highwatermark'), join(label, '.highwatermark')).toString('utf8').trim();
    if (!/^\d+$/.test(text)) {
      throw peerError(
        { file: join(label, '.highwatermark'), line: 1 },
        `the high-water mark must be a whole number, got ${JSON.stringify(text.slice(0, 40))}`,
      );
    }
    highestId = Number(text);
  }
  const skipped: Skipped[] = [];
  const peers: PeerTask[] = [];
  for (const name of files) {
    const file = join(label, name);
    const text = decodeText(readPeerFile(join(dir, name), file), file);
    const value = parseJson(text, { file });
    if (mayNestDeeperThan(text, LIMITS.nestingDepth) && tooDeep(value, LIMITS.nestingDepth) !== undefined) {
      throw peerError({ file, line: 1 }, `nests more than ${LIMITS.nestingDepth} levels deep`);
    }
    if (isTombstone(value) && `${sanitizePathComponent(value.id)}.json` === name) {
      skipped.push({ task: value.id, file, why: 'a tombstone: deleted in a project list (docs/git.md)' });
      continue;
    }
    let task: Task;
    try {
      task = parseTask(value);
    } catch (err) {
      if (!isTasklaneError(err)) throw err;
      const field = err.field ?? '(root)';
      const line = new JsonLocator(text).lineOf(field === '(root)' ? [] : [field]);
      throw peerError(
        { file, ...(line === undefined ? {} : { line }) },
        err.message.replace(/^task: /, ''),
        field,
        err,
      );
    }
    if (`${sanitizePathComponent(task.id)}.json` !== name) {
      const line = new JsonLocator(text).lineOf(['id']);
      throw peerError(
        { file, ...(line === undefined ? {} : { line }) },
        `id ${JSON.stringify(task.id)} does not match the file name (Claude Code reads task ${basename(name, '.json')} from ${name})`,
        'id',
      );
    }
    const where = { file, line: 1 };
    const ref =
      (field: string) =>
      (id: string): PeerRef => ({ key: id, label: id, where, field });
    peers.push({
      key: task.id,
      label: task.id,
      where,
      subject: task.subject,
      subjectField: 'subject',
      description: task.description,
      status: task.status,
      peerStatus: task.status,
      dependsOn: task.blockedBy.map(ref('blockedBy')),
      blocks: task.blocks.map(ref('blocks')),
      keep: task,
    });
  }
  return buildPeerImport(peers, {
    from: 'claude',
    source: label,
    list: opts.list ?? basename(dir),
    fields: CLAUDE_FIELDS,
    keepIds: true,
    highestId,
    skipped,
  });
}
