import { listDirName } from '../model/ids.js';
import { openStore } from '../store/open.js';
import type { TaskStore } from '../store/types.js';

// One store per list the board shows: the list it was opened on, and the others opened from the
// same store descriptor on first use, kept for the server's life and closed at shutdown.

export class ListStores {
  private readonly opened = new Map<string, TaskStore>();

  constructor(
    readonly home: TaskStore,
    private readonly onWarning?: (message: string) => void,
  ) {}

  /** The store of list `list`; throws INVALID_LIST_ID for an id that could never name a list. */
  get(list: string): TaskStore {
    if (list === this.home.listId) return this.home;
    listDirName(list);
    let store = this.opened.get(list);
    if (store === undefined) {
      store = openStore(this.home.descriptor, list, this.onWarning === undefined ? {} : { onWarning: this.onWarning });
      this.opened.set(list, store);
    }
    return store;
  }

  /** Closes the stores this opened (the home store belongs to the caller). */
  async close(): Promise<void> {
    const stores = [...this.opened.values()];
    this.opened.clear();
    await Promise.allSettled(stores.map((s) => s.close()));
  }
}
