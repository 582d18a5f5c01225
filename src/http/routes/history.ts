import { assertTaskId } from '../../model/index.js';
import type { HistoryQuery } from '../../store/types.js';
import type { Routes } from '../context.js';
import { onlyQuery, queryInt } from '../input.js';
import { storeOf } from './tasks.js';

// The journal, paged forwards: `after` a seq, `limit` entries; `next` is the seq to pass as
// `after` for the following page, present when the page came back full.

export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;

export const historyRoutes: Routes = (app, board) => {
  app.get('/api/lists/:list/history', async (c) => {
    onlyQuery(c, ['task', 'after', 'limit']);
    const store = storeOf(c, board);
    const task = c.req.query('task');
    const after = queryInt(c, 'after', 0);
    const limit = queryInt(c, 'limit', 1, MAX_HISTORY_LIMIT) ?? DEFAULT_HISTORY_LIMIT;
    const query: HistoryQuery = { limit, ...(after === undefined ? {} : { after }) };
    if (task !== undefined) query.taskId = assertTaskId(task, 'task');
    const entries = await store.history(query);
    const last = entries.at(-1);
    return c.json({ entries, ...(entries.length === limit && last !== undefined ? { next: last.seq } : {}) });
  });
};
