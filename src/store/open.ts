import { FileStore } from './file/file-store.js';
import { type Location, type LocationInput, resolveLocation } from './location.js';
import type { TaskStore } from './types.js';

export interface OpenOptions {
  /** Called with a one-line message for each file that is not a valid task and is skipped, and similar warnings. */
  onWarning?: (message: string) => void;
}

/**
 * Opens a store: from a descriptor (`openStore('/srv/lists', 'backend')`, `openStore('file:///srv/lists')`),
 * or from where a surface resolves it (`--store`/`--dir`, `--list`, the environment, the project).
 * Only the file store today; PostgreSQL joins here later. Cheap: nothing is read until used.
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
    return new FileStore(location, maybeOptions ?? {});
  }
  const options = typeof listOrOptions === 'object' ? listOrOptions : (maybeOptions ?? {});
  const location = 'listDir' in where ? where : resolveLocation(where);
  return new FileStore(location, options);
}
