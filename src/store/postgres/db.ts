import type pg from 'pg';
import { TasklaneError } from '../../model/errors.js';
import { redactUrl } from '../descriptor.js';

// The one module that imports `pg`: the rest of the PostgreSQL store talks to the small `Db` and
// `Tx` interfaces below (as pg-boss keeps its driver behind one module).

export interface Queryable {
  /** With `name`, a prepared statement (parsed and planned once per connection): for the hot paths. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    name?: string,
  ): Promise<R[]>;
}

function statement(text: string, values: unknown[], name: string | undefined) {
  return name === undefined ? { text, values } : { name, text, values };
}

// Round trips: BEGIN is not sent alone. It goes with the transaction's first statement when that
// is a simple one (no parameters: values as literals), else just before its first statement; a
// transaction that only writes at COMMIT sends BEGIN, its statements and COMMIT in one. So a claim
// is two round trips (BEGIN with the pick, the writes with COMMIT) where it was four: under load
// each round trip is a wake-up of the client and of its server process.

export interface Tx extends Queryable {
  /**
   * A write that needs no answer, sent with COMMIT (simple protocol: values as literals, see
   * `literal`), before the `commitWith` statement. Nothing later in the transaction may read what
   * it writes.
   */
  defer(sql: string): void;
  /**
   * A last statement sent with COMMIT in one round trip (simple protocol: no parameters, values
   * as literals, see `literal`). What a change locks last (the list row) is then held only while
   * the server runs that statement and commits, not while the client wakes up to send COMMIT.
   */
  commitWith(sql: string): void;
}

/**
 * A string as an SQL literal: an escape string (E'...'), so it reads the same whatever the
 * server's standard_conforming_strings. NUL, which no PostgreSQL text holds, is refused.
 */
export function literal(text: string): string {
  if (text.includes('\0')) throw new TasklaneError('INVALID_INPUT', 'text for PostgreSQL cannot hold a NUL character');
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** An array of text (or NULL for null) as an SQL literal of type `type`, e.g. `text[]`. */
export function arrayLiteral(values: (string | null)[], type: string): string {
  return `ARRAY[${values.map((v) => (v === null ? 'NULL' : literal(v))).join(',')}]::${type}`;
}

/** SQLSTATEs after which the whole transaction is safely run again: nothing of it was committed. */
const RETRYABLE = new Set([
  '40P01', // deadlock detected: locks taken in a different order by two transactions
  '40001', // serialization failure
  '55P03', // lock not available
]);
/**
 * SQLSTATEs of a connection the server ended (pg_terminate_backend, a restart, a failover, a
 * session idle inside a transaction or idle too long: 25P03, 57P05).
 */
const CONNECTION_LOST = new Set([
  '57P01',
  '57P02',
  '57P03',
  '57P05',
  '25P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

const TX_ATTEMPTS = 8;

/**
 * The server ends a session that sits this long inside a transaction without sending its next
 * statement (idle_in_transaction_session_timeout, sent at connect). A client cut off from the
 * network between two statements of a change (a host whose link went down) otherwise leaves its
 * row locks held until the server's TCP keepalive gives up on it, two hours by default: claims
 * skip the locked task (SKIP LOCKED) and writes to it wait, long after its lease ran out. Half the
 * default lease, so that a task so locked is free before its lease would have run out; far above
 * any pause between two statements of one change. A URL's `?idle_in_transaction_session_timeout=MS`
 * overrides it (0: never).
 */
export const IDLE_IN_TRANSACTION_MS = 30_000;

/**
 * How long closing waits for a connection still busy with a query before it destroys its socket.
 * A query on a connection whose network went away (link down, pulled cable) gets no answer until
 * the kernel's TCP retransmissions give up, about 15 minutes (tcp_retries2); pg's `pool.end()`
 * and `client.end()` wait for it, and its socket keeps the process alive. A query on a working
 * connection answers in milliseconds; whoever still awaits one at close gets a connection error.
 */
export const CLOSE_GRACE_MS = 1_000;

export interface DbOptions {
  /** Largest number of pooled connections (default 4: a CLI command needs one, the executor a few). */
  max?: number;
}

export class Db implements Queryable {
  readonly url: string;
  private pool: pg.Pool | undefined;
  private readonly options: DbOptions;
  /** Every open connection (pooled or a session), so that closing can destroy one that hangs. */
  private readonly clients = new Set<pg.Client>();
  private closed = false;

  constructor(url: string, options: DbOptions = {}) {
    this.url = url;
    this.options = options;
  }

  /** The pool, made on first use: opening a store connects to nothing (and loads no driver). */
  private async connections(): Promise<pg.Pool> {
    if (this.pool === undefined) {
      // A closed store makes no new pool: a query retried after close (its connection destroyed
      // there) would otherwise open connections nothing ends.
      if (this.closed) throw this.closedError();
      const { default: driver } = await import('pg');
      if (this.closed) throw this.closedError();
      if (this.pool !== undefined) return this.pool; // made by a concurrent first call meanwhile
      this.pool = new driver.Pool({
        connectionString: this.url,
        max: this.options.max ?? 4,
        idleTimeoutMillis: 10_000,
        // The URL's own value, when it gives one, wins (pg lets connection-string keys override).
        idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
        // An idle connection the server drops must not crash the process; the next query reconnects.
        allowExitOnIdle: true,
      });
      this.pool.on('error', () => {});
      // A connection the server ends while it is checked out (pg_terminate_backend, a failover)
      // emits 'error' on its client: the query in flight fails and is handled; the event must not
      // crash the process.
      this.pool.on('connect', (client) => {
        client.on('error', () => {});
        this.track(client);
      });
    }
    return this.pool;
  }

  async query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    name?: string,
  ): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await (await this.connections()).query(statement(sql, params, name));
        return result.rows as R[];
      } catch (err) {
        // A read (or a single-statement write, which commits as one) on a connection that was cut
        // before it answered: run it once more on a fresh connection.
        if (attempt < 3 && isConnectionLost(err)) continue;
        throw asStoreError(err, this.url);
      }
    }
  }

  /**
   * Runs `fn` in one transaction (READ COMMITTED; row locks do the isolating). A deadlock, a
   * serialization failure, or a connection lost before COMMIT was sent runs it again from the
   * start, up to TX_ATTEMPTS times with jittered backoff: nothing of the failed attempt was
   * committed. A connection lost during COMMIT cannot tell whether it committed: that is an IO
   * error saying so (a claim so lost is held on its lease, which runs out; nothing is taken twice).
   */
  async tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await (await this.connections()).connect();
      } catch (err) {
        if (attempt < TX_ATTEMPTS && isConnectionLost(err)) {
          await backoff(attempt);
          continue;
        }
        throw asStoreError(err, this.url);
      }
      let committing = false;
      let broken: unknown;
      let begun = false;
      let last: string | undefined;
      const deferred: string[] = [];
      try {
        const tx: Tx = {
          query: async (sql, params = [], name) => {
            if (begun) return (await client.query(statement(sql, params, name))).rows;
            begun = true;
            if (params.length > 0 || name !== undefined) {
              await client.query('BEGIN');
              return (await client.query(statement(sql, params, name))).rows;
            }
            // One simple query, two statements: the answer is the second's.
            const results = (await client.query(`BEGIN;\n${sql}`)) as unknown as pg.QueryResult[];
            return (results[1]?.rows ?? []) as never[];
          },
          defer: (sql) => {
            deferred.push(sql);
          },
          commitWith: (sql) => {
            if (last !== undefined) throw new Error('one change per transaction: commitWith was already called');
            last = sql;
          },
        };
        const value = await fn(tx);
        const statements = [...deferred, ...(last === undefined ? [] : [last])];
        if (begun || statements.length > 0) {
          const begin = begun ? [] : ['BEGIN'];
          begun = true; // a statement failing in there leaves the transaction open and aborted: ROLLBACK
          committing = true;
          await client.query([...begin, ...statements, 'COMMIT'].join(';\n'));
        }
        return value;
      } catch (err) {
        const lost = isConnectionLost(err);
        if (lost) broken = err;
        else if (begun) await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
        if (committing && lost) {
          throw new TasklaneError(
            'IO',
            `the connection to ${redactUrl(this.url)} was lost while committing; the change may or may not have been made`,
            { cause: err, transient: true },
          );
        }
        const code = sqlState(err);
        if (attempt < TX_ATTEMPTS && (lost || (code !== undefined && RETRYABLE.has(code)))) {
          await backoff(attempt);
          continue;
        }
        throw asStoreError(err, this.url);
      } finally {
        client.release(broken === undefined ? undefined : (broken as Error));
      }
    }
  }

  /**
   * A connection of its own, outside the pool, for LISTEN: a notification arrives on the session
   * that listens, so it cannot be a pooled connection handed to other queries.
   */
  async session(onNotify: (payload: string) => void, onEnd: (err?: Error) => void): Promise<Session> {
    const { default: driver } = await import('pg');
    if (this.closed) throw this.closedError();
    const client = new driver.Client({ connectionString: this.url });
    this.track(client);
    let ended = false;
    const end = (err?: Error): void => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    client.on('notification', (n) => onNotify(n.payload ?? ''));
    client.on('error', (err) => end(err));
    client.on('end', () => end());
    try {
      await client.connect();
    } catch (err) {
      ended = true;
      client.end().catch(() => {});
      throw asStoreError(err, this.url);
    }
    return {
      query: async (sql, params = []) => (await client.query(sql, params)).rows,
      close: async () => {
        ended = true;
        await this.ended(
          client.end().catch(() => {}),
          [client],
        );
      },
    };
  }

  /** Ends every connection; one whose query hangs is destroyed after CLOSE_GRACE_MS. Later queries fail. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await this.ended(pool.end(), this.clients);
  }

  private track(client: pg.Client): void {
    this.clients.add(client);
    client.once('end', () => this.clients.delete(client));
  }

  /** Waits for `ending`; if it has not settled after CLOSE_GRACE_MS, destroys the sockets of `clients` and waits again. */
  private async ended(ending: Promise<void>, clients: Iterable<pg.Client>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      ending.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!late) return;
    // pg offers no way to drop a connection without the server's goodbye: its socket, destroyed,
    // fails the query in flight ("Connection terminated unexpectedly") and lets the end complete.
    for (const client of [...clients]) {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
    await ending;
  }

  private closedError(): TasklaneError {
    return new TasklaneError('IO', `PostgreSQL at ${redactUrl(this.url)}: the store was closed`);
  }
}

export interface Session extends Queryable {
  close(): Promise<void>;
}

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isConnectionLost(err: unknown): boolean {
  const code = sqlState(err);
  if (code !== undefined) return CONNECTION_LOST.has(code);
  const message = err instanceof Error ? err.message : '';
  const errno = (err as { code?: unknown } | null)?.code;
  return (
    errno === 'ECONNRESET' ||
    errno === 'ECONNREFUSED' ||
    errno === 'EPIPE' ||
    /Connection terminated|terminating connection|Client was closed|Client has encountered a connection error/i.test(
      message,
    )
  );
}

/**
 * Whether a failure may pass by itself: the connection lost or never made (the network, a
 * restart, a failover), the server short of resources (class 53) or shutting down (57P), a
 * transaction ended for idling; not a refusal of the statement itself (bad data, permissions).
 */
function isTransient(err: unknown): boolean {
  if (isConnectionLost(err)) return true;
  const code = sqlState(err);
  if (code !== undefined) return code.startsWith('08') || code.startsWith('53') || code.startsWith('57P');
  const errno = (err as { code?: unknown } | null)?.code;
  return (
    typeof errno === 'string' &&
    ['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ENOTCONN', 'EAI_AGAIN', 'ECONNABORTED'].includes(errno)
  );
}

/** A driver error as a TasklaneError (kept as is when it already is one), never quoting the URL's password. */
function asStoreError(err: unknown, url: string): Error {
  if (err instanceof TasklaneError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = sqlState(err);
  return new TasklaneError(
    'IO',
    `PostgreSQL at ${redactUrl(url)}: ${message.split(url).join(redactUrl(url))}${code === undefined ? '' : ` (SQLSTATE ${code})`}`,
    { cause: err, transient: isTransient(err) },
  );
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1000, 5 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((r) => setTimeout(r, ms));
}
