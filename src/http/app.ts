import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { TaskStore } from '../store/types.js';
import { assetRoutes, findBoardDir } from './assets.js';
import type { BoardContext } from './context.js';
import { handleError } from './errors.js';
import { EventHubs, eventRoutes } from './events.js';
import { GraphLayouts } from './graph.js';
import { MAX_BODY_BYTES } from './input.js';
import { dependencyRoutes } from './routes/dependencies.js';
import { graphRoutes } from './routes/graph.js';
import { historyRoutes } from './routes/history.js';
import { listRoutes } from './routes/lists.js';
import { runRoutes } from './routes/run.js';
import { taskRoutes } from './routes/tasks.js';
import { type RunEventSource, RunFeed } from './run-feed.js';
import { security, securityHeaders } from './security.js';
import { ListStores } from './stores.js';

// The board's HTTP app: security first, then the API, the stream and the web app's files.
// Tests drive it with `app.request()`; server.ts serves it on a socket.

export const DEFAULT_ACTOR = 'board';

export interface BoardOptions {
  /** The store and list the board opens on; other lists of the same store open on demand. */
  store: TaskStore;
  /** Owner name for the board's writes (journal actor; its own claims move without override). Default "board". */
  actor?: string;
  /** Reported by /api/info. */
  version?: string;
  /** The bound address (default 127.0.0.1): with the port, what the Host allow-list accepts. */
  host?: string;
  /** The bound port, or a function giving it once the server listens (port 0 binds a free one). */
  port?: number | (() => number | undefined);
  /** The access token: required when `host` is not loopback. */
  token?: string;
  /** The built web app's directory; default dist/board beside the code; null: serve the not-built page. */
  assetsDir?: string | null;
  /** The executor's events for `run --board`, and the list they concern (default the store's). */
  run?: { source: RunEventSource; list?: string };
  /** How long a list's feed runs on after its last tab leaves (default 30 s): a reconnect within it resumes exactly. */
  lingerMs?: number;
  /** Warnings about files skipped in lists the board opens. */
  onWarning?: (message: string) => void;
}

export interface BoardApp {
  app: Hono;
  board: BoardContext;
  /** Ends every stream, stops every feed and the run source, closes the lists it opened. */
  close(): Promise<void>;
}

export function createBoardApp(options: BoardOptions): BoardApp {
  const stores = new ListStores(options.store, options.onWarning);
  const hubs = new EventHubs(stores, options.lingerMs);
  const board: BoardContext = {
    stores,
    actor: options.actor ?? DEFAULT_ACTOR,
    version: options.version ?? '0.0.0-unknown',
    hubs,
    layouts: new GraphLayouts(),
  };
  if (options.run !== undefined) {
    const list = options.run.list ?? options.store.listId;
    board.run = new RunFeed(list, options.run.source, (event) =>
      hubs.broadcast(list, { event: 'run', data: JSON.stringify(event) }),
    );
  }
  const port = options.port;
  const app = new Hono();
  app.onError(handleError);
  app.use('*', securityHeaders());
  // Before anything reads a body: a chunked body with no length is cut off at the limit too.
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json(
          { error: { code: 'INVALID_INPUT', message: `the body is over ${MAX_BODY_BYTES} bytes`, field: '(body)' } },
          413,
        ),
    }),
  );
  app.use(
    '*',
    security({
      host: options.host ?? '127.0.0.1',
      port: typeof port === 'function' ? port : () => port,
      ...(options.token === undefined ? {} : { token: options.token }),
    }),
  );
  for (const routes of [listRoutes, taskRoutes, dependencyRoutes, historyRoutes, graphRoutes, runRoutes]) {
    routes(app, board);
  }
  eventRoutes(app, hubs, stores);
  assetRoutes(app, options.assetsDir === null ? undefined : (options.assetsDir ?? findBoardDir()));
  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: `no such route: ${c.req.method} ${c.req.path}` } }, 404),
  );

  return {
    app,
    board,
    async close() {
      board.run?.close();
      await hubs.close();
      await stores.close();
    },
  };
}
