import { compareIds, type Task, TasklaneError } from '../../model/index.js';
import { ImportChecker } from '../export-format.js';
import type { ExportRecord, ImportOptions, ImportReport, JournalEntry } from '../types.js';
import { insertEntries, NOTIFY_CHANNEL, updateCriticalPaths, upsertTasks } from './commit.js';
import type { Db, Tx } from './db.js';
import { lockEdges } from './graph-snapshot.js';

// exportList and importList for a PostgreSQL list (the records of ExportRecord in types.ts).
// Export reads in pages (tasks by id, then journal entries by seq) inside one REPEATABLE READ
// transaction, so the records are one consistent moment of the list, and memory holds a page.
// Import checks every record before writing (export-format.ts's ImportChecker, as the file store), then writes the tasks as given (revisions and
// fingerprints kept: the bytes of a re-export are the same), the journal entries with their seqs,
// the list's seq (the last entry's) and id high-water mark, all in one transaction.

const PAGE = 500;

export function exportRecords(ready: () => Promise<Db>, list: string): AsyncIterable<ExportRecord> {
  return {
    async *[Symbol.asyncIterator]() {
      const db = await ready();
      const session = await db.session(
        () => {},
        () => {},
      );
      try {
        await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const head = await session.query<{ last_id: string | null }>(
          'SELECT last_id::text FROM tasklane_ids WHERE list = $1',
          [list],
        );
        yield {
          type: 'list',
          list,
          version: 1,
          highestId: Number(head[0]?.last_id ?? 0),
          exportedAt: new Date().toISOString(),
        };
        // Ids in compareIds order (numeric ones by value, then the others by code point), by cursor.
        await session.query(
          `DECLARE tasklane_export_tasks NO SCROLL CURSOR FOR SELECT doc FROM tasklane_tasks WHERE list = $1
           ORDER BY id_num NULLS LAST, id COLLATE "C"`,
          [list],
        );
        for (;;) {
          const rows = await session.query<{ doc: Task }>(`FETCH ${PAGE} FROM tasklane_export_tasks`);
          for (const r of rows) yield { type: 'task', task: r.doc };
          if (rows.length < PAGE) break;
        }
        await session.query(
          'DECLARE tasklane_export_journal NO SCROLL CURSOR FOR SELECT entry FROM tasklane_journal WHERE list = $1 ORDER BY seq',
          [list],
        );
        for (;;) {
          const rows = await session.query<{ entry: JournalEntry }>(`FETCH ${PAGE} FROM tasklane_export_journal`);
          for (const r of rows) yield { type: 'journal', entry: r.entry };
          if (rows.length < PAGE) break;
        }
        await session.query('COMMIT');
      } finally {
        await session.close();
      }
    },
  };
}

export interface ImportHost {
  list: string;
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  noNotify: boolean;
}

export async function importRecords(
  records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
  opts: ImportOptions,
  host: ImportHost,
): Promise<ImportReport> {
  // Checked whole before anything is written, by the same checks the file store's import runs
  // (export-format.ts): all or nothing.
  const checker = new ImportChecker();
  const tasks = new Map<string, Task>();
  const entries: JournalEntry[] = [];
  for await (const raw of records) {
    // Stored as given (its key order is what a re-export gives back); the checker only judges it.
    checker.check(raw);
    if (raw.type === 'task') tasks.set(raw.task.id, raw.task);
    else if (raw.type === 'journal') entries.push(raw.entry);
  }
  const { highestId } = checker.finish();
  const lastSeq = entries.at(-1)?.seq ?? 0;

  await host.write(async (tx) => {
    await lockEdges(tx, host.list);
    await tx.query('SELECT 1 FROM tasklane_lists WHERE id = $1 FOR UPDATE', [host.list]);
    const present = await tx.query<{ n: string; j: string }>(
      `SELECT (SELECT count(*) FROM tasklane_tasks WHERE list = $1)::text AS n,
              (SELECT count(*) FROM tasklane_journal WHERE list = $1)::text AS j`,
      [host.list],
    );
    const nonEmpty = Number(present[0]?.n) > 0 || Number(present[0]?.j) > 0;
    if (nonEmpty && opts.force !== true) {
      throw new TasklaneError(
        'CONFLICT',
        `list ${host.list} is not empty (${present[0]?.n} tasks, ${present[0]?.j} history entries); importing would mix two lists: import into an empty list, or force it to replace this one`,
        { list: host.list },
      );
    }
    for (const table of ['tasklane_edges', 'tasklane_tasks', 'tasklane_journal']) {
      await tx.query(`DELETE FROM ${table} WHERE list = $1`, [host.list]);
    }
    const ordered = [...tasks.values()].sort((a, b) => compareIds(a.id, b.id));
    for (let i = 0; i < ordered.length; i += PAGE) await upsertTasks(tx, host.list, ordered.slice(i, i + PAGE));
    const blockers: string[] = [];
    const blocked: string[] = [];
    for (const t of ordered) {
      for (const b of t.blockedBy) {
        blockers.push(b);
        blocked.push(t.id);
      }
    }
    await tx.query(
      'INSERT INTO tasklane_edges (list, blocker, blocked) SELECT $1, * FROM unnest($2::text[], $3::text[])',
      [host.list, blockers, blocked],
    );
    await tx.query(
      `UPDATE tasklane_tasks t SET open_blockers = (
         SELECT count(*) FROM tasklane_edges e JOIN tasklane_tasks b ON b.list = e.list AND b.id = e.blocker
         WHERE e.list = t.list AND e.blocked = t.id AND b.status <> 'completed') WHERE t.list = $1`,
      [host.list],
    );
    await tx.query('UPDATE tasklane_tasks SET cp = -1 WHERE list = $1', [host.list]);
    await updateCriticalPaths(
      tx,
      host.list,
      ordered.map((t) => t.id),
    );
    for (let i = 0; i < entries.length; i += PAGE) await insertEntries(tx, host.list, entries.slice(i, i + PAGE));
    // The seq continues from the history imported (or from where this list was, if that is higher:
    // a watcher's cursor must never see seqs go down).
    const seq = await tx.query<{ seq: string }>(
      'UPDATE tasklane_lists SET seq = GREATEST(seq, $2), updated_at = now() WHERE id = $1 RETURNING seq::text',
      [host.list, lastSeq],
    );
    await tx.query('UPDATE tasklane_ids SET last_id = GREATEST(last_id, $2) WHERE list = $1', [host.list, highestId]);
    if (!host.noNotify) {
      await tx.query('SELECT pg_notify($1, $2)', [
        NOTIFY_CHANNEL,
        JSON.stringify({ list: host.list, seq: Number(seq[0]?.seq) }),
      ]);
    }
  });
  return { tasks: tasks.size, entries: entries.length, highestId };
}
