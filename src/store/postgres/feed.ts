import { revisionOf, sealRevision, type Task, tasklaneFields, withTasklaneFields } from '../../model/index.js';
import { assertCursorInHistory } from '../feed-cursor.js';
import type { Change, JournalEntry, WatchOptions } from '../types.js';
import { NOTIFY_CHANNEL } from './commit.js';
import { type Db, isConnectionLost, type Queryable, type Session } from './db.js';

// The change feed of a PostgreSQL list. The journal table is the feed: a reader keeps a cursor
// (the last seq it delivered) and reads `seq > cursor` in order, so it never misses nor repeats a
// change. NOTIFY only says "read now": each write transaction sends one small payload
// ({"list","seq"}) on the `tasklane` channel, received on a connection of this feed's own (a
// LISTEN belongs to a session; a pooled connection would be handed to other queries, and a
// transaction-pooling proxy drops it). A lost notification, or a LISTEN connection that died,
// costs at most the polling floor (POLL_MS): the reader reads anyway. A dead LISTEN connection is
// made again with backoff (RECONNECT_MS doubling to RECONNECT_MAX_MS), and the next read picks up
// from the cursor.

export const POLL_MS = 1000;
const RECONNECT_MS = 100;
const RECONNECT_MAX_MS = 5000;
const PAGE = 500;

export interface FeedHost {
  list: string;
  ready(): Promise<Db>;
  readAll(): Promise<Map<string, Task>>;
  /** LISTEN sessions open now, for the store's close() to end whatever a feed left. */
  sessions: Set<Session>;
  onEnd(): void;
}

/** The list's changes: `since` replayed first, `initial` tasks reported, then every change live. */
export function watchList(host: FeedHost, opts: WatchOptions & { signal: AbortSignal }): AsyncIterable<Change> {
  // The cursor of a feed without `since` is taken at the call, not at the first read.
  const start: Promise<number> =
    opts.since !== undefined ? Promise.resolve(opts.since) : host.ready().then(async (db) => currentSeq(db, host.list));
  start.catch(() => {});
  return {
    [Symbol.asyncIterator]: () => follow(host, opts, start),
  };
}

async function currentSeq(q: Queryable, list: string): Promise<number> {
  const rows = await q.query<{ seq: string }>('SELECT seq::text FROM tasklane_lists WHERE id = $1', [list]);
  return Number(rows[0]?.seq ?? 0);
}

async function* follow(
  host: FeedHost,
  opts: WatchOptions & { signal: AbortSignal },
  start: Promise<number>,
): AsyncGenerator<Change> {
  const { signal } = opts;
  let wake: (() => void) | undefined;
  let dirty = true;
  const poke = (): void => {
    dirty = true;
    wake?.();
  };
  signal.addEventListener('abort', poke, { once: true });
  let session: Session | undefined;
  let reconnectAt = 0;
  let reconnectDelay = RECONNECT_MS;
  let timer: NodeJS.Timeout | undefined;
  const known = new Map<string, Task>();
  try {
    const db = await host.ready();
    const listen = async (): Promise<void> => {
      try {
        const s = await db.session(
          (payload) => {
            if (mentions(payload, host.list)) poke();
          },
          () => {
            if (session === s) session = undefined;
            host.sessions.delete(s);
            reconnectAt = Date.now() + reconnectDelay;
            reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
            poke();
          },
        );
        session = s;
        host.sessions.add(s);
        await s.query(`LISTEN ${NOTIFY_CHANNEL}`);
        reconnectDelay = RECONNECT_MS;
        // Whatever was written while the connection was down is read now, from the cursor.
        poke();
      } catch {
        reconnectAt = Date.now() + reconnectDelay;
        reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
      }
    };
    // Listening before the first read: a change committed after it is read by a later pass.
    await listen();
    let cursor = await start;
    if (opts.since !== undefined) assertCursorInHistory(host.list, opts.since, await currentSeq(db, host.list));
    if (opts.initial === true) {
      const tasks = await host.readAll();
      const at = new Date().toISOString();
      for (const task of tasks.values()) {
        if (signal.aborted) return;
        known.set(task.id, task);
        yield { kind: 'created', list: host.list, taskId: task.id, task, rev: revisionOf(task), at, seq: cursor };
      }
    }
    while (!signal.aborted) {
      if (session === undefined && Date.now() >= reconnectAt) await listen();
      if (dirty) {
        dirty = false;
        for (;;) {
          let changes: Change[];
          let rows: { entry: JournalEntry }[];
          try {
            rows = await db.query<{ entry: JournalEntry }>(
              'SELECT entry FROM tasklane_journal WHERE list = $1 AND seq > $2 ORDER BY seq LIMIT $3',
              [host.list, cursor, PAGE],
            );
            changes = [];
            for (const { entry } of rows) {
              const change = await toChange(db, host.list, entry, known);
              if (change !== undefined) changes.push(change);
            }
          } catch (err) {
            if (signal.aborted) return;
            // The database is out of reach (a restart, a failover, the network): read again from
            // the cursor after a pause, as a lost LISTEN connection does.
            if (!isConnectionLost((err as { cause?: unknown }).cause ?? err)) throw err;
            dirty = true;
            await sleepUnless(signal, reconnectDelay);
            reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
            break;
          }
          for (const change of changes) {
            yield change;
            cursor = change.seq;
            if (signal.aborted) return;
          }
          if (rows.length > 0) cursor = Math.max(cursor, (rows.at(-1) as { entry: JournalEntry }).entry.seq);
          if (rows.length < PAGE) break;
        }
      }
      if (signal.aborted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(() => {
          dirty = true;
          resolve();
        }, POLL_MS);
        if (dirty) resolve();
      });
      wake = undefined;
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', poke);
    if (session !== undefined) {
      host.sessions.delete(session);
      await session.close();
    }
    host.onEnd();
  }
}

/** A journal entry as a Change; a heartbeat's fields applied to the task as last known. */
async function toChange(
  q: Queryable,
  list: string,
  e: JournalEntry,
  known: Map<string, Task>,
): Promise<Change | undefined> {
  let task = e.task;
  if (task === undefined) {
    let base = known.get(e.taskId);
    if (base === undefined) {
      const rows = await q.query<{ entry: JournalEntry }>(
        `SELECT entry FROM tasklane_journal WHERE list = $1 AND task_id = $2 AND seq < $3 AND kind <> 'heartbeat'
         ORDER BY seq DESC LIMIT 1`,
        [list, e.taskId, e.seq],
      );
      base = rows[0]?.entry.task;
    }
    if (base === undefined || e.fields === undefined) return undefined;
    // The stored task again: the fields on the last full copy, its fingerprint sealed anew.
    const { fp: _fp, ...fields } = tasklaneFields(base);
    task = sealRevision(withTasklaneFields(base, { ...fields, ...e.fields }));
  }
  if (e.kind === 'deleted') known.delete(e.taskId);
  else known.set(e.taskId, task);
  return { kind: e.kind, list, taskId: e.taskId, task, rev: revisionOf(task), at: e.at, seq: e.seq };
}

function mentions(payload: string, list: string): boolean {
  try {
    const p = JSON.parse(payload) as { list?: unknown };
    return typeof p.list !== 'string' || p.list === list;
  } catch {
    return true;
  }
}

function sleepUnless(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
