import { homedir } from 'node:os';
import { join } from 'node:path';
import { listDirName, sanitizePathComponent } from '../../model/ids.js';

// A PostgreSQL list's run artifacts (agent logs, result files, the agents' bin/) stay on the
// machine that runs them: $XDG_STATE_HOME/tasklane/<host>-<port>-<database>/<list>, by default
// ~/.local/state/tasklane/…, never inside a repository (a worktree would commit them) and never
// in the database (they are large, local and short-lived).

/** The local artifacts directory of `list` in the database at `url`. */
export function postgresArtifactsDir(url: string, list: string, env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : undefined;
  const base = join(state ?? join(homedir(), '.local', 'state'), 'tasklane');
  let where = 'postgres';
  try {
    const u = new URL(url);
    const host = u.hostname !== '' ? u.hostname : (u.searchParams.get('host') ?? 'local');
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
    where = [host, u.port || '5432', db].join('-');
  } catch {
    // parseStoreDescriptor refused such a URL before; keep a fixed name rather than fail here.
  }
  return join(base, sanitizePathComponent(where), listDirName(list));
}
