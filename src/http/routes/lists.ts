import type { Routes } from '../context.js';
import { onlyQuery } from '../input.js';

// GET /api/info and GET /api/lists: what the board is on, and every list of its store.

export const listRoutes: Routes = (app, board) => {
  app.get('/api/info', (c) => {
    onlyQuery(c, []);
    const home = board.stores.home;
    return c.json({
      version: board.version,
      store: { location: home.location },
      list: home.listId,
      actor: board.actor,
    });
  });

  app.get('/api/lists', async (c) => {
    onlyQuery(c, []);
    return c.json({ lists: await board.stores.home.lists() });
  });
};
