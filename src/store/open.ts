import { FileStore } from './file/file-store.js';
import { type Location, type LocationInput, resolveLocation } from './location.js';
import { PostgresStore } from './postgres/pg-store.js';
import type { TaskStore } from './types.js';

export interface OpenOptions {
  /** Called with a one-line message for each file that is not a valid task and is skipped, and similar warnings. */
  onWarning?: (message: string) => void;
}

/**
 * Opens a store: from a descriptor (`openStore('/srv/lists', 'backend')`, `openStore('file:///srv/lists')`),
 * or from where a surface resolves it (`--store`/`--dir`, `--list`, the environment, the project).
 * The file store, or PostgreSQL for a postgres:// descriptor. Cheap: nothing is read (or
 * connected to) until used.
 */
export function openStore(descriptor: string, list?: string, options?: OpenOptions): TaskStore;
export function openStore(where?: Location | LocationInput, options?: OpenOptions): TaskStore;
export function openStore(
  where: string | Location | LocationInput = {},
  listOrOptions?: string | OpenOptions,
  maybeOptions?: OpenOptions,
): TaskStore {
  if (typeof where === 'string') {
    const list = typeof listOrOptions === 'string' ? listOrOptions : undefined;
    // An explicit descriptor stands alone: only the list may still come from the environment.
    const location = resolveLocation({ store: where, ...(list === undefined ? {} : { list }) });
    return fromLocation(location, maybeOptions ?? {});
  }
  const options = typeof listOrOptions === 'object' ? listOrOptions : (maybeOptions ?? {});
  const location = 'listDir' in where ? where : resolveLocation(where);
  return fromLocation(location, options);
}

function fromLocation(location: Location, options: OpenOptions): TaskStore {
  if (location.database !== undefined) return new PostgresStore(location.database, location.list, options);
  return new FileStore(location, options);
}
