import type { Hono } from 'hono';
import type { EventHubs } from './events.js';
import type { GraphLayouts } from './graph.js';
import type { RunFeed } from './run-feed.js';
import type { ListStores } from './stores.js';

// What every route needs: the stores per list, who writes, and the shared live parts.

export interface BoardContext {
  stores: ListStores;
  /** The owner name the board's writes are made as (journal actor; its own claims need no override). */
  actor: string;
  version: string;
  hubs: EventHubs;
  layouts: GraphLayouts;
  /** The executor's events, when the board was started by `tasklane run --board`. */
  run?: RunFeed;
}

export type Routes = (app: Hono, board: BoardContext) => void;
