import { assertTaskId } from '../../model/index.js';
import type { Routes } from '../context.js';
import { invalidInput } from '../errors.js';
import { jsonBody, onlyQuery, requiredStr } from '../input.js';
import { storeOf } from './tasks.js';

// Edges: `blocker` blocks `blocked`. A cycle is refused with the cycle's ids (409, error.cycle).

export const dependencyRoutes: Routes = (app, board) => {
  app.post('/api/lists/:list/dependencies', async (c) => {
    const store = storeOf(c, board);
    const body = await jsonBody(c, ['blocker', 'blocked']);
    const blocker = assertTaskId(requiredStr(body, 'blocker'), 'blocker');
    const blocked = assertTaskId(requiredStr(body, 'blocked'), 'blocked');
    await store.addDependency(blocker, blocked, { actor: board.actor });
    return c.json({}, 201);
  });

  app.delete('/api/lists/:list/dependencies', async (c) => {
    onlyQuery(c, ['blocker', 'blocked']);
    const store = storeOf(c, board);
    const param = (key: string): string => {
      const v = c.req.query(key);
      if (v === undefined) throw invalidInput(key, `${key} is required (?blocker=A&blocked=B)`);
      return assertTaskId(v, key);
    };
    await store.removeDependency(param('blocker'), param('blocked'), { actor: board.actor });
    return c.json({});
  });
};
