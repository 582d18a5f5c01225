import { createReadStream, fstatSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { TasklaneError } from '../../model/errors.js';
import { readExport } from '../../store/export-format.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { inert } from '../inert-text.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: "Load a 'tasklane export' into the list (refused when the list is not empty)",
  help: `Usage: tasklane import [FILE|-] [--replace]

Reads an export (JSON lines written by 'tasklane export', from any store) from FILE, or from
stdin when FILE is '-' or absent, and writes it into the list: every task with its id,
dependencies (both sides), metadata and result, the whole history with its seqs (so 'tasklane
history' and 'tasklane restore' work on it), and the id high-water mark (new tasks get ids
above it). The list the export came from need not have the same name.

All or nothing: every line is checked as it is read (valid JSON, a known record, a task that
passes the task schema and limits, ids unique, history in rising seq order), then the whole
(the list record present, every dependency on both tasks, no cycle), before anything is
written; a bad line is reported with the file and line number and the list is left exactly as
it was. The write itself is made like every other change: flushed, then renamed into place
under the list's lock.

A list that already has tasks or history is refused (exit 4): an import would mix two lists.

Options:
  --replace  import into a list that is not empty: its tasks and its history are replaced by
             the export's, and new ids stay above both lists' ids. Export the list first to keep
             a copy (the file store also keeps the old history files in
             <journal dir>/replaced-<time>/). Stop the list's workers and watchers first

Examples:
  tasklane --list copy import backup.jsonl
  tasklane export | tasklane --store postgres://db.example/tasks import
  tasklane import backup.jsonl --replace --json

JSON (--json): {"list": ID, "tasks": N, "entries": N, "highestId": N}.

Exit codes: 1 for an input that is not a valid export (the message names FILE:LINE, and
"field" in --json names the field), 4 when the list is not empty and --replace is not given.`,

  async run(io) {
    const ctx = context(io, 'import', { replace: { type: 'boolean' } });
    ctx.args.expectPositionals(0, 1, 'FILE');
    const file = ctx.args.positionals[0] ?? '-';
    const label = file === '-' ? 'stdin' : file;
    const force = ctx.args.flag('replace');
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
    println(
      io,
      `Imported into list ${inert(store.listId)}: ${report.tasks} task${report.tasks === 1 ? '' : 's'}, ${report.entries} history entr${report.entries === 1 ? 'y' : 'ies'}; new ids start after ${report.highestId}`,
    );
    return EXIT.OK;
  },
};

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
