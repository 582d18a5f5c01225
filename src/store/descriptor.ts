import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TasklaneError } from '../model/errors.js';

// A store descriptor names a store as one string, the same for every surface and process:
// `--store`, `TASKLANE_STORE`, and what the executor hands to the agents it starts.
//   /path/to/root, ./root    a directory that holds one directory per list (the file store)
//   file:///path/to/root      the same, as a URL
//   postgres://…              the PostgreSQL store (a later issue): refused with a clear error
// A descriptor may hold credentials (a database URL), so errors name its scheme, never the text.

export type StoreDescriptor = { kind: 'file'; root: string };

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
    throw new TasklaneError(
      'USAGE',
      `${where}: ${scheme}:// stores are not supported yet (the PostgreSQL store comes in a later version); use a directory path or a file:// URL`,
      { field: where },
    );
  }
  throw new TasklaneError(
    'USAGE',
    `${where}: unknown store scheme ${scheme}://; use a directory path or a file:// URL`,
    { field: where },
  );
}

/** The descriptor that opens the same store again from any working directory: an absolute path for the file store. */
export function formatStoreDescriptor(d: StoreDescriptor): string {
  return d.root;
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
