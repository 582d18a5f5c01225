import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TasklaneError } from '../model/errors.js';

// A store descriptor names a store as one string, the same for every surface and process:
// `--store`, `TASKLANE_STORE`, and what the executor hands to the agents it starts.
//   /path/to/root, ./root    a directory that holds one directory per list (the file store)
//   file:///path/to/root      the same, as a URL
//   postgres://…, postgresql://…   the PostgreSQL store (src/store/postgres/), the URL kept as given
// A descriptor may hold credentials (a database URL), so errors name its scheme, never the text.

export type StoreDescriptor = { kind: 'file'; root: string } | { kind: 'postgres'; url: string };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/** Parses a descriptor; `where` names its origin for errors (`--store`, `TASKLANE_STORE`). */
export function parseStoreDescriptor(text: string, cwd: string, where: string): StoreDescriptor {
  if (text.includes('\0')) {
    throw new TasklaneError('USAGE', `${where}: a store descriptor cannot hold a NUL character`, { field: where });
  }
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (/^file:/i.test(text)) {
      throw new TasklaneError('USAGE', `${where}: a file URL is file:///absolute/path (or give the directory itself)`, {
        field: where,
      });
    }
    // `postgres:/user:pw@host/db` (a slash short) is a mistyped URL, not a directory to create
    // and print: refuse anything that starts like a scheme, naming only the scheme.
    const schemeLike = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(text)?.[1];
    if (schemeLike !== undefined) {
      throw new TasklaneError(
        'USAGE',
        `${where}: starts with "${schemeLike}:" but is not a URL of the form ${schemeLike.toLowerCase()}://…; for a directory whose name has a colon, write ./ before it`,
        { field: where },
      );
    }
    return { kind: 'file', root: resolve(cwd, text) };
  }
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(text);
    } catch (cause) {
      throw new TasklaneError(
        'USAGE',
        `${where}: ${JSON.stringify(text)} is not a usable file:// URL (${(cause as Error).message}); write file:///absolute/path or a plain directory path`,
        { field: where, cause },
      );
    }
    if (!isAbsolute(path)) {
      throw new TasklaneError('USAGE', `${where}: a file:// URL must hold an absolute path`, { field: where });
    }
    return { kind: 'file', root: path };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      // The URL error quotes the input: left out, it may hold a password.
      throw new TasklaneError(
        'USAGE',
        `${where}: not a usable ${scheme}:// URL; write ${scheme}://user:password@host:port/database`,
        { field: where },
      );
    }
    if (url.pathname.replace(/^\//, '') === '' && !url.searchParams.has('host')) {
      throw new TasklaneError(
        'USAGE',
        `${where}: a ${scheme}:// URL must name the database (${scheme}://host/database)`,
        {
          field: where,
        },
      );
    }
    return { kind: 'postgres', url: text };
  }
  throw new TasklaneError(
    'USAGE',
    `${where}: unknown store scheme ${scheme}://; use a directory path, a file:// URL or a postgres:// URL`,
    { field: where },
  );
}

/** The descriptor that opens the same store again from any working directory: an absolute path for the file store. */
export function formatStoreDescriptor(d: StoreDescriptor): string {
  return d.kind === 'file' ? d.root : d.url;
}

/** A postgres:// URL fit to show: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    for (const key of ['password', 'sslpassword']) if (u.searchParams.has(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * The environment that makes a child process's `tasklane` (or the library's openStore) open the
 * same store: TASKLANE_STORE, and TASKLANE_DIR as well when the store is a directory, for
 * scripts written before --store. The list goes in TASKLANE_LIST, set by the caller.
 */
export function storeEnv(store: { descriptor: string }): Record<string, string> {
  const isDirectory = !SCHEME.test(store.descriptor);
  return { TASKLANE_STORE: store.descriptor, ...(isDirectory ? { TASKLANE_DIR: store.descriptor } : {}) };
}
