import type { Routes } from '../context.js';
import { onlyQuery } from '../input.js';
import { storeOf } from './tasks.js';

// The list's dependency graph, laid out, with the critical path marked (graph.ts).

export const graphRoutes: Routes = (app, board) => {
  app.get('/api/lists/:list/graph', async (c) => {
    onlyQuery(c, []);
    const store = storeOf(c, board);
    const view = await store.listView();
    const readable = new Set(view.tasks.map((t) => t.id));
    const hidden = new Set([...view.judgedBy.keys()].filter((id) => !readable.has(id)));
    return c.json(board.layouts.layout(store.listId, view.judgedBy, hidden));
  });
};
