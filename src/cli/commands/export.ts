import { once } from 'node:events';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { TasklaneError } from '../../model/errors.js';
import { exportLine } from '../../store/export-format.js';
import type { ExportRecord } from '../../store/types.js';
import { usageError } from '../args.js';
import { context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { jsonInert } from '../inert-text.js';
import { printJson, println } from '../output.js';
import type { Command } from '../registry.js';

/** Lines are written in batches of about this many bytes. */
const BATCH = 64 * 1024;

export const command: Command = {
  summary: 'Write the whole list (tasks, history, id high-water mark) as JSON lines',
  help: `Usage: tasklane export [--output FILE]

Writes the list as JSON lines, one record a line, to stdout (or FILE): first the list record,
then every task exactly as stored, in id order, then the whole history in seq order. It carries
ids, dependencies, metadata, results, history and the id high-water mark, so 'tasklane import'
rebuilds the same list in any store (a directory, PostgreSQL). The list is read as it streams
out, in constant memory per task; export a list nobody is changing for an exact copy.

  {"type":"list","list":ID,"version":1,"highestId":N,"exportedAt":ISO_TIME}
  {"type":"task","task":STORED_TASK}
  {"type":"journal","entry":ENTRY}

Keys are always in the same order, so exporting, importing and exporting again gives the same
bytes, except exportedAt (the time of the export). Set SOURCE_DATE_EPOCH (seconds since 1970,
the reproducible-builds convention) to fix exportedAt and get identical files.

Options:
  --output FILE  write to FILE instead of stdout; FILE appears only once the export is
                 complete (written beside it, flushed, renamed), so a failed export leaves none

Examples:
  tasklane export > backup.jsonl
  tasklane export --output backup.jsonl
  tasklane --list old export | tasklane --list new import

JSON (--json, with --output): {"list", "tasks", "entries", "highestId", "output"}. Without
--output the export itself is the output.`,

  async run(io) {
    const ctx = context(io, 'export', { output: { type: 'string' } });
    ctx.args.expectPositionals(0, 0, '');
    const output = ctx.args.string('output');
    const exportedAt = fixedTime(io.env.SOURCE_DATE_EPOCH);
    const store = ctx.store();
    const counts = { tasks: 0, entries: 0, highestId: 0 };
    const lines = async function* (): AsyncGenerator<string> {
      for await (const record of store.exportList()) {
        let r: ExportRecord = record;
        if (r.type === 'list') {
          if (exportedAt !== undefined) r = { ...r, exportedAt };
          counts.highestId = r.highestId;
        } else if (r.type === 'task') counts.tasks++;
        else counts.entries++;
        // Inert on a terminal, and the same bytes everywhere: DEL, C1 and bidi characters as \\u escapes.
        yield jsonInert(exportLine(r));
      }
    };
    if (output === undefined) {
      let batch = '';
      for await (const line of lines()) {
        batch += line;
        if (batch.length < BATCH) continue;
        // Waits for a slow reader instead of buffering the list; a reader that left ends the
        // process quietly (main.ts), as with 'tasklane list | head'.
        if (!io.stdout.write(batch)) await once(io.stdout, 'drain');
        batch = '';
      }
      if (batch !== '') io.stdout.write(batch);
      return EXIT.OK;
    }
    const target = resolve(io.cwd, output);
    await writeWhole(target, lines());
    if (ctx.json) printJson(io, { list: store.listId, ...counts, output: target });
    else {
      println(
        io,
        `Exported list ${store.listId}: ${counts.tasks} task${counts.tasks === 1 ? '' : 's'}, ${counts.entries} history entr${counts.entries === 1 ? 'y' : 'ies'}, ids up to ${counts.highestId}, to ${target}`,
      );
    }
    return EXIT.OK;
  },
};

/** SOURCE_DATE_EPOCH as an ISO time, or undefined when unset. */
function fixedTime(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seconds) || seconds * 1000 > 8.64e15) {
    throw usageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got ${JSON.stringify(value)}`);
  }
  return new Date(seconds * 1000).toISOString();
}

/** Writes the lines to a temp file beside `target`, flushes it and renames it into place; on failure removes it. */
async function writeWhole(target: string, lines: AsyncIterable<string>): Promise<void> {
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o644);
    let batch = '';
    const flush = (): void => {
      const buf = Buffer.from(batch);
      let off = 0;
      while (off < buf.length) off += writeSync(fd as number, buf, off, buf.length - off);
      batch = '';
    };
    for await (const line of lines) {
      batch += line;
      if (batch.length >= BATCH) flush();
    }
    flush();
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    // The temp file is ours, not the user's: a failure on it is named by the path they gave.
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.path === tmp) {
      const reason = e.message.replace(/^[A-Z]+: /, '').split(',')[0] ?? e.message;
      throw new TasklaneError('IO', `cannot write ${target}: ${reason} (${e.code})`, { file: target, cause: err });
    }
    throw err;
  }
}
