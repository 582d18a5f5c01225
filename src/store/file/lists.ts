import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { countByState } from '../../model/index.js';
import type { ListSummary } from '../types.js';
import { scanList, taskFileNames } from './task-files.js';

// The lists of a file store's root, for `tasklane lists` and list switchers: every directory
// whose name a list id can have (Claude Code's own lists included). Tasklane's `.tasklane`, lock
// and temp entries start with a dot and are never lists; plain files are not either.

const LIST_NAME = /^[a-zA-Z0-9_-]+$/;

export function listSummaries(root: string): ListSummary[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: ListSummary[] = [];
  for (const name of names.sort()) {
    if (!LIST_NAME.test(name)) continue;
    const dir = join(root, name);
    let latest: number;
    try {
      const st = statSync(dir);
      if (!st.isDirectory()) continue;
      latest = st.mtimeMs;
    } catch {
      continue; // removed while we looked
    }
    // The directory's time moves on every create, delete and atomic rewrite; a file's own on an
    // in-place write (Claude Code up to 2.1.112).
    for (const file of taskFileNames(dir)) {
      try {
        latest = Math.max(latest, statSync(join(dir, file)).mtimeMs);
      } catch {}
    }
    const byId = scanList(dir).tasks;
    const byState = countByState(byId.values(), byId);
    out.push({ id: name, total: byId.size, byState, lastChange: new Date(latest).toISOString() });
  }
  return out;
}
