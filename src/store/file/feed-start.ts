import { statSync } from 'node:fs';
import type { Task } from '../../model/index.js';

// Where a change feed starts. Taken by the store when watch() is called, apart from the feed's
// own (larger) module, which loads only when iteration begins.

export interface FeedStart {
  journal: { offset: number; ino: number | undefined };
  snapshot: Map<string, Task>;
}

/** The journal position, then the snapshot: a change between the two is in both, and is still
 * reported from the journal (it came after the start). */
export function takeFeedStart(journalPath: string, scan: () => Map<string, Task>): FeedStart {
  let journal: FeedStart['journal'] = { offset: 0, ino: undefined };
  try {
    const st = statSync(journalPath);
    journal = { offset: st.size, ino: st.ino };
  } catch {
    // No journal yet: start from its beginning.
  }
  let snapshot: Map<string, Task>;
  try {
    snapshot = scan();
  } catch {
    snapshot = new Map();
  }
  return { journal, snapshot };
}
