import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';

// A real PostgreSQL for tests: its own data and socket directories under a fresh /tmp directory,
// on a free port on 127.0.0.1, stopped (and its directory removed) by stop(). PostgreSQL refuses
// to run as root, and tests and CI run as root: then the server runs as the `postgres` system
// user (made if missing), and its directory is chowned to it (a server running as another user
// cannot enter root's home, so never under the repository or $HOME). The binaries are Debian's
// (/usr/lib/postgresql/<version>/bin; scripts/test.sh installs the package when they are missing).
// With `netns`, the server runs inside that network namespace (`ip netns exec`, see netns.ts),
// listening on `listen` there; the test process reaches it through its Unix socket (a socket file
// is reached from any network namespace of the machine), clients on the test hosts by `url`.

export interface PostgresOptions {
  /** A network namespace to run the server in (made by the caller; needs root). */
  netns?: string;
  /** The address it listens on (default 127.0.0.1). */
  listen?: string;
  /** Clients from this network (CIDR) are trusted too (initdb trusts only 127.0.0.1 and ::1). */
  trust?: string;
}

export interface PostgresServer {
  /** The URL of database `db` on this server over TCP (user postgres, trust authentication). */
  url(db: string): string;
  /** The URL of database `db` through the server's Unix socket, from any network namespace here. */
  socketUrl(db: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** The server's process id (tests check it is gone after stop). */
  readonly pid: number;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const listen = opts.listen ?? '127.0.0.1';
  const bin = postgresBinDir();
  if (bin === undefined) {
    throw new Error(
      "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install Debian's postgresql package; scripts/test.sh does)",
    );
  }
  const asRoot = process.getuid?.() === 0;
  let uid: number | undefined;
  let gid: number | undefined;
  if (asRoot) {
    if (spawnSync('id', ['-u', 'postgres']).status !== 0) {
      spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], {
        stdio: 'inherit',
      });
    }
    uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  }
  const dir = mkdtempSync('/tmp/tasklane-pg-');
  const data = join(dir, 'data');
  const socket = join(dir, 'socket');
  mkdirSync(socket);
  chmodSync(dir, 0o700);
  if (uid !== undefined && gid !== undefined) {
    chownSync(dir, uid, gid);
    chownSync(socket, uid, gid);
  }
  const options = uid === undefined ? {} : { uid, gid };
  // In a namespace: `ip netns exec` (as root) enters it and execs setpriv, which takes the
  // postgres user and execs the server: the child's pid is the server's.
  const asUser = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions'],
    { ...options, encoding: 'utf8', cwd: dir },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr}`);
  }
  if (opts.trust !== undefined) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${opts.trust} trust\n`);
  const port = await freePort();
  const argv = [
    join(bin, 'postgres'),
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    socket,
    '-c',
    `listen_addresses=${listen}`,
    '-c',
    'max_connections=200',
    '-c',
    'shared_buffers=32MB',
  ];
  const [command, ...args] = opts.netns === undefined ? argv : ['ip', 'netns', 'exec', opts.netns, ...asUser, ...argv];
  const child: ChildProcess = spawn(command as string, args, {
    ...(opts.netns === undefined ? options : {}),
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test process that dies without stop() must not leave the server running.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const url = (db: string): string => `postgres://postgres@${listen}:${port}/${encodeURIComponent(db)}`;
  const socketUrl = (db: string): string =>
    `postgres://postgres@localhost:${port}/${encodeURIComponent(db)}?host=${encodeURIComponent(socket)}`;
  // The test process may be in another namespace than the server: it waits and administers through the socket.
  const adminUrl = opts.netns === undefined ? url : socketUrl;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: adminUrl('postgres') });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => {});
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${String(err)}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    socketUrl,
    pid: child.pid as number,
    async createDatabase(name: string): Promise<string> {
      const client = new pg.Client({ connectionString: adminUrl('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        // Fast shutdown: rolls back open transactions and ends every connection.
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        process.removeListener('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let schemaCount = 0;

/**
 * The URL of the database at `url` with its tables in a schema made fresh for the caller (by
 * search_path): an empty store, apart from every other test's on the same database.
 */
export async function freshSchemaUrl(url: string): Promise<string> {
  const schema = `s${++schemaCount}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  return `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}
