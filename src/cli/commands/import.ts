import { createReadStream, fstatSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { TasklaneError } from '../../model/errors.js';
import { compareIds } from '../../model/ids.js';
import { ImportChecker, readExport } from '../../store/export-format.js';
import {
  detectFormat,
  PEER_FORMATS,
  type PeerFormat,
  type PeerReport,
  peerName,
  readPeer,
} from '../../store/peers/index.js';
import type { ImportReport } from '../../store/types.js';
import { usageError } from '../args.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { inert } from '../inert-text.js';
import { printJson, println } from '../output.js';
import type { Command, CommandIO } from '../registry.js';

const FORMATS = ['tasklane', ...PEER_FORMATS, 'auto'] as const;
type FormatChoice = (typeof FORMATS)[number];

export const command: Command = {
  summary:
    "Load a 'tasklane export', or Task Master, Backlog.md, Beads or Claude Code tasks (--from), into an empty list",
  help: `Usage: tasklane import [FILE|-] [--replace]
       tasklane import --from FORMAT FILE_OR_DIR [--tag TAG]... [--dry-run] [--replace]

Reads an export (JSON lines written by 'tasklane export', from any store) from FILE, or from
stdin when FILE is '-' or absent, and writes it into the list: every task with its id,
dependencies (both sides), metadata and result, the whole history with its seqs (so 'tasklane
history' and 'tasklane restore' work on it), and the id high-water mark (new tasks get ids
above it). The list the export came from need not have the same name.

With --from, reads another tool's tasks instead (docs/import.md has every mapping):
  taskmaster  Task Master's tasks.json (FILE, or a project directory holding
              .taskmaster/tasks/tasks.json); every tag, or those named with --tag
  backlog     a Backlog.md folder (the project directory or its backlog/): tasks/ and
              completed/; drafts/ and archive/ are reported, not imported
  beads       Beads' JSONL export (.beads/issues.jsonl, or a project directory holding it)
  claude      a Claude Code list directory of <id>.json files (e.g. ~/.claude/tasks/LIST)
  auto        whichever of these (or an export) the input plainly is; refused when unclear
Ids are renumbered 1..N in the peer's order (a Claude Code list keeps its own), the peer's id
kept in metadata.imported.id; dependencies become edges on both tasks; statuses map to pending,
in_progress and completed (the peer's status kept in metadata.imported.status); owners, text,
priority and labels come along. A report says what mapped how: counts, statuses, ids, what was
skipped or dropped. A dependency on a task that is not imported (or on the task itself) is
dropped and reported; a duplicate id or a cycle is refused.

All or nothing: every line (or file) is checked as it is read (valid JSON, a known record, a task
that passes the task schema and limits, ids unique, history in rising seq order), then the whole
(the list record present, every dependency on both tasks, no cycle), before anything is
written; a bad line is reported with the file and line number and the list is left exactly as
it was. The write itself is made like every other change: flushed, then renamed into place
under the list's lock.

A list that already has tasks or history is refused (exit 4): an import would mix two lists.

Options:
  --from FORMAT  tasklane (the default: an export), taskmaster, backlog, beads, claude, auto
  --tag TAG      with --from taskmaster: import only this tag (repeatable; default every tag)
  --dry-run      with --from: read and check everything and print the report; write nothing
                 (a list that is not empty is refused as the import would be, unless --replace)
  --replace      import into a list that is not empty: its tasks and its history are replaced by
                 the import's, and new ids stay above both lists' ids. Export the list first to keep
                 a copy (the file store also keeps the old history files in
                 <journal dir>/replaced-<time>/). Stop the list's workers and watchers first

Examples:
  tasklane --list copy import backup.jsonl
  tasklane export | tasklane --store postgres://db.example/tasks import
  tasklane import backup.jsonl --replace --json
  tasklane import --from taskmaster .taskmaster/tasks/tasks.json --dry-run
  tasklane --list billing import --from taskmaster tasks.json --tag feature-billing
  tasklane import --from backlog .            # the project holding backlog/
  tasklane import --from beads .beads/issues.jsonl --json
  tasklane --list copy import --from claude ~/.claude/tasks/my-list

JSON (--json): {"list": ID, "tasks": N, "entries": N, "highestId": N}; with --from also
"from", "source", "ids" ("renumbered" or "kept"), "idMap" {peer id: id}, "statuses" [{"from",
"to", "count"}], "edges", "parentEdges", "skipped" [{"task", "file", "line", "why"}], "dropped"
[{"task", "file", "line", "field", "names", "why"}], "fields" {"mapped", "metadata",
"description", "dropped"}, and "dryRun" when given.

Exit codes: 1 for an input that is not valid (the message names FILE:LINE, and "field" in --json
names the field), 2 for a usage error (a peer's input without --from says which --from to use), 4
when the list is not empty and --replace is not given.`,

  async run(io) {
    const ctx = context(io, 'import', {
      replace: { type: 'boolean' },
      from: { type: 'string' },
      tag: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
    });
    ctx.args.expectPositionals(0, 1, 'FILE');
    const file = ctx.args.positionals[0] ?? '-';
    const label = file === '-' ? 'stdin' : file;
    const force = ctx.args.flag('replace');
    const dryRun = ctx.args.flag('dry-run');
    const tags = ctx.args.list('tag');
    let from: FormatChoice = ctx.args.choice('from', FORMATS) ?? 'tasklane';
    const explicit = ctx.args.has('from');
    const path = file === '-' ? undefined : resolve(io.cwd, file);

    if (from === 'auto') {
      if (path === undefined) throw usageError('--from auto reads a file or directory, not stdin', '--from');
      const found = detectFormat(path);
      if (found === undefined) {
        throw usageError(
          `cannot tell what ${label} is; name its format with --from ${PEER_FORMATS.join('|')}`,
          '--from',
        );
      }
      from = found;
    } else if (!explicit && path !== undefined) {
      // Today's default stays the export; a peer's input gets a hint instead of a puzzling error.
      const found = detectFormat(path);
      if (found !== undefined && found !== 'tasklane') {
        throw usageError(
          `${label} looks like ${peerName(found)}'s, not a tasklane export: add --from ${found}`,
          '--from',
        );
      }
    }
    if (from !== 'tasklane') return importPeer(io, ctx, from, path, label, { force, dryRun, tags });
    if (tags.length > 0) throw usageError('--tag is for --from taskmaster', '--tag');
    if (dryRun) throw usageError('--dry-run is for --from FORMAT (a peer import)', '--dry-run');

    const store = ctx.store();
    let input: NodeJS.ReadableStream;
    if (file === '-') {
      if (io.stdin.isTTY === true)
        io.stderr.write('tasklane: reading the export from the terminal; end it with Ctrl-D\n');
      input = io.stdin;
    } else {
      input = openInput(resolve(io.cwd, file), file);
    }
    const report = await store.importList(readExport(input as AsyncIterable<Buffer>, label), { force });
    if (ctx.json) {
      printJson(io, { list: store.listId, ...report });
      return EXIT.OK;
    }
    println(io, importedLine(store.listId, report));
    return EXIT.OK;
  },
};

function importedLine(list: string, report: ImportReport): string {
  return `Imported into list ${inert(list)}: ${report.tasks} task${report.tasks === 1 ? '' : 's'}, ${report.entries} history entr${report.entries === 1 ? 'y' : 'ies'}; new ids start after ${report.highestId}`;
}

async function importPeer(
  io: CommandIO,
  ctx: ReturnType<typeof context>,
  from: PeerFormat,
  path: string | undefined,
  label: string,
  opts: { force: boolean; dryRun: boolean; tags: string[] },
): Promise<number> {
  if (path === undefined) throw usageError(`--from ${from} reads a file or directory, not stdin`, 'FILE');
  const { records, report } = readPeer(from, path, label, { tags: opts.tags });
  const store = ctx.store();
  let result: ImportReport;
  if (opts.dryRun) {
    // What the import would say of a list that is not empty, then the store's own checks, without its write.
    if (!opts.force && ((await store.list()).length > 0 || (await store.history({ limit: 1 })).length > 0)) {
      throw new TasklaneError(
        'CONFLICT',
        `list ${store.listId} is not empty: the import would be refused. Import into a new list (--list NAME), or add --replace to replace its tasks and history`,
        { list: store.listId },
      );
    }
    const checker = new ImportChecker(label);
    for (const [i, r] of records.entries()) checker.check(r, i + 1);
    const summary = checker.finish();
    result = { tasks: summary.tasks, entries: summary.entries, highestId: summary.highestId };
  } else {
    result = await store.importList(records, { force: opts.force });
  }
  const { highestId: _h, ...rest } = report;
  if (ctx.json) {
    printJson(io, {
      list: store.listId,
      ...result,
      ...rest,
      ...(opts.dryRun ? { dryRun: true } : {}),
    });
    return EXIT.OK;
  }
  printPeerReport(io, store.listId, report, result, opts.dryRun);
  return EXIT.OK;
}

/** Shown in text: the first few of a long list, then how many more. */
const SHOW = 10;

function printPeerReport(io: CommandIO, list: string, r: PeerReport, result: ImportReport, dryRun: boolean): void {
  const n = (k: number, one: string, many = one.concat('s')): string => `${k} ${k === 1 ? one : many}`;
  const head = dryRun ? `Would import into list ${inert(list)}` : `Imported into list ${inert(list)}`;
  println(
    io,
    `${head} from ${peerName(r.from)} (${inert(r.source)}): ${n(result.tasks, 'task')}, ${n(r.edges, 'dependency', 'dependencies')}${r.parentEdges > 0 ? ` (${r.parentEdges} subtask-blocks-parent)` : ''}; new ids start after ${result.highestId}`,
  );
  if (r.ids === 'kept') {
    println(io, 'Ids: kept as in the source list');
  } else {
    const pairs = Object.entries(r.idMap).sort((a, b) => compareIds(a[1], b[1]));
    const sample = pairs
      .slice(0, 5)
      .map(([peer, id]) => `${inert(peer)} -> ${id}`)
      .join(', ');
    println(
      io,
      `Ids: renumbered 1..${pairs.length}; each task's ${peerName(r.from)} id is in metadata.imported.id${pairs.length > 0 ? ` (${sample}${pairs.length > 5 ? ', ...' : ''})` : ''}`,
    );
  }
  if (r.statuses.length > 0) {
    println(io, `Statuses: ${r.statuses.map((s) => `${inert(s.from)} -> ${s.to} (${s.count})`).join(', ')}`);
  }
  if (r.skipped.length > 0) {
    println(io, `Skipped, not imported: ${r.skipped.length}`);
    for (const s of r.skipped.slice(0, SHOW)) {
      println(
        io,
        `  ${inert(s.file)}${s.line === undefined ? '' : `:${s.line}`}: ${s.task === undefined ? '' : `${inert(s.task)}: `}${s.why}`,
      );
    }
    if (r.skipped.length > SHOW) println(io, `  and ${r.skipped.length - SHOW} more (--json lists them all)`);
  }
  if (r.dropped.length > 0) {
    println(io, `Dropped: ${n(r.dropped.length, 'dependency', 'dependencies')}`);
    for (const d of r.dropped.slice(0, SHOW)) {
      println(
        io,
        `  ${inert(d.file)}${d.line === undefined ? '' : `:${d.line}`}: ${inert(d.task)} ${inert(d.field)} names ${inert(d.names)}: ${d.why}`,
      );
    }
    if (r.dropped.length > SHOW) println(io, `  and ${r.dropped.length - SHOW} more (--json lists them all)`);
  }
  if (r.fields.description.length > 0) println(io, `Into the description: ${r.fields.description.join(', ')}`);
  if (r.fields.metadata.length > 0) println(io, `Kept in metadata.imported: ${r.fields.metadata.join(', ')}`);
  if (r.fields.dropped.length > 0) println(io, `Not imported: ${r.fields.dropped.map((f) => inert(f)).join(', ')}`);
}

/** The file as a stream, opened now so that a missing or unreadable file is named at once. */
function openInput(path: string, label: string): NodeJS.ReadableStream {
  let fd: number;
  try {
    fd = openSync(path, 'r');
    if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('it is a directory'), { code: 'EISDIR' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new TasklaneError('IO', `cannot read the export ${label}: ${why}`, { file: label, cause: err });
  }
  return createReadStream('', { fd });
}
