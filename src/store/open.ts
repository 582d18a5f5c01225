import { FileStore } from './file/file-store.js';
import { type Location, type LocationInput, resolveLocation } from './location.js';
import type { TaskStore } from './types.js';

export interface OpenOptions {
  /** Called with a one-line message for each file that is not a valid task and is skipped, and similar warnings. */
  onWarning?: (message: string) => void;
}

/** Opens the store for a location (the file store; PostgreSQL joins here later). Cheap: nothing is read until used. */
export function openStore(where: Location | LocationInput = {}, options: OpenOptions = {}): TaskStore {
  const location = 'listDir' in where ? where : resolveLocation(where);
  return new FileStore(location, options);
}
