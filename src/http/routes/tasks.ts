import type { Context } from 'hono';
import {
  assertTaskId,
  MOVE_TARGETS,
  type MoveTarget,
  planMove,
  STATUSES,
  type Task,
  taskJson,
  unblockedBy,
} from '../../model/index.js';
import { singleTaskJson, withBlockers } from '../../store/task-json.js';
import type { CreateInput, TaskStore, UpdateInput } from '../../store/types.js';
import type { BoardContext, Routes } from '../context.js';
import { invalidInput } from '../errors.js';
import { bool, jsonBody, nullableStr, num, object, onlyQuery, requiredStr, str, strings, taskIds } from '../input.js';

// Tasks of a list: read, create, edit, delete, and the board's moves (a drag between columns)
// and retry. The store checks every value and changes nothing when one is wrong.

const CREATE_FIELDS = [
  'subject',
  'description',
  'activeForm',
  'blockedBy',
  'blocks',
  'owner',
  'metadata',
  'priority',
  'labels',
  'estimate',
  'verify',
] as const;

const UPDATE_FIELDS = [
  'subject',
  'description',
  'activeForm',
  'status',
  'owner',
  'metadata',
  'priority',
  'labels',
  'estimate',
  'verify',
  'addBlocks',
  'addBlockedBy',
  'removeBlocks',
  'removeBlockedBy',
  'ifRev',
] as const;

export const taskRoutes: Routes = (app, board) => {
  const base = '/api/lists/:list/tasks';

  app.get(base, async (c) => {
    onlyQuery(c, []);
    const store = storeOf(c, board);
    // The cursor first: the tasks read after it are at least as new as it says.
    const seq = (await store.history({ limit: 1 }))[0]?.seq ?? 0;
    const view = await store.listView();
    return c.json({ list: store.listId, seq, tasks: view.tasks.map((t) => taskJson(t, view.judgedBy)) });
  });

  app.post(base, async (c) => {
    const store = storeOf(c, board);
    const body = await jsonBody(c, CREATE_FIELDS);
    const input: CreateInput = { subject: requiredStr(body, 'subject') };
    const put = <K extends keyof CreateInput>(key: K, value: CreateInput[K] | undefined): void => {
      if (value !== undefined) input[key] = value;
    };
    put('description', str(body, 'description'));
    put('activeForm', str(body, 'activeForm'));
    put('blockedBy', taskIds(body, 'blockedBy'));
    put('blocks', taskIds(body, 'blocks'));
    put('owner', str(body, 'owner'));
    put('metadata', object(body, 'metadata'));
    put('priority', num(body, 'priority', { integer: true }));
    put('labels', strings(body, 'labels'));
    put('estimate', num(body, 'estimate', { min: 0 }));
    put('verify', str(body, 'verify'));
    const task = await store.create(input, { actor: board.actor });
    return c.json(await singleTaskJson(store, task), 201);
  });

  app.get(`${base}/:id`, async (c) => {
    onlyQuery(c, []);
    const store = storeOf(c, board);
    const task = await store.get(idOf(c));
    const view = await store.listView();
    return c.json({ task: taskJson(task, view.judgedBy), unblocks: unblockedBy(task, view.judgedBy) });
  });

  app.patch(`${base}/:id`, async (c) => {
    const store = storeOf(c, board);
    const id = idOf(c);
    const body = await jsonBody(c, UPDATE_FIELDS);
    const patch: UpdateInput = {};
    const put = <K extends keyof UpdateInput>(key: K, value: UpdateInput[K] | undefined): void => {
      if (value !== undefined) patch[key] = value;
    };
    put('subject', str(body, 'subject'));
    put('description', str(body, 'description'));
    put('activeForm', str(body, 'activeForm'));
    const status = str(body, 'status');
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw invalidInput('status', `status must be one of ${STATUSES.join(', ')}; got ${JSON.stringify(status)}`);
    }
    put('status', status as Task['status'] | undefined);
    put('owner', nullableStr(body, 'owner'));
    put('metadata', object(body, 'metadata'));
    put('priority', num(body, 'priority', { integer: true }));
    put('labels', strings(body, 'labels'));
    put('estimate', num(body, 'estimate', { min: 0 }));
    put('verify', nullableStr(body, 'verify'));
    put('addBlocks', taskIds(body, 'addBlocks'));
    put('addBlockedBy', taskIds(body, 'addBlockedBy'));
    put('removeBlocks', taskIds(body, 'removeBlocks'));
    put('removeBlockedBy', taskIds(body, 'removeBlockedBy'));
    const ifRev = num(body, 'ifRev', { integer: true, min: 0 });
    if (Object.keys(patch).length === 0) throw invalidInput('(body)', 'nothing to change: give at least one field');
    const task = await store.update(id, patch, {
      actor: board.actor,
      ...(ifRev === undefined ? {} : { expectedRev: ifRev }),
    });
    return c.json(await singleTaskJson(store, task));
  });

  app.delete(`${base}/:id`, async (c) => {
    onlyQuery(c, []);
    const store = storeOf(c, board);
    const task = await store.delete(idOf(c), { actor: board.actor });
    return c.json({ task: taskJson(task, await withBlockers(store, task)) });
  });

  app.post(`${base}/:id/move`, async (c) => {
    const store = storeOf(c, board);
    const id = idOf(c);
    const body = await jsonBody(c, ['to', 'override', 'reason']);
    const to = requiredStr(body, 'to');
    if (!(MOVE_TARGETS as readonly string[]).includes(to)) {
      throw invalidInput('to', `to must be one of ${MOVE_TARGETS.join(', ')}; got ${JSON.stringify(to)}`);
    }
    const override = bool(body, 'override');
    const reason = str(body, 'reason');
    const task = await move(store, id, {
      to: to as MoveTarget,
      actor: board.actor,
      ...(override === undefined ? {} : { override }),
      ...(reason === undefined ? {} : { reason }),
    });
    return c.json(await singleTaskJson(store, task));
  });

  app.post(`${base}/:id/retry`, async (c) => {
    const store = storeOf(c, board);
    const id = idOf(c);
    await jsonBody(c, [], true);
    const task = await store.retry(id, { actor: board.actor });
    return c.json(await singleTaskJson(store, task));
  });
};

/** A drag between columns, as the one transition the model says it is (model/move.ts). */
async function move(
  store: TaskStore,
  id: string,
  req: { to: MoveTarget; actor: string; override?: boolean; reason?: string },
): Promise<Task> {
  const task = await store.get(id);
  const plan = planMove(task, await withBlockers(store, task), req, new Date());
  const opts = { actor: req.actor };
  switch (plan.op) {
    case 'none':
      return task;
    case 'complete':
      return store.complete(id, plan.holder);
    case 'fail':
      return store.fail(id, { ...plan.holder, reason: plan.reason });
    case 'release':
      return store.release(id, plan.holder);
    case 'retry':
      return store.retry(id, opts);
    case 'claim': {
      const claim = await store.claim({ owner: plan.owner, taskId: id });
      if (claim === null) return store.get(id);
      return claim.task;
    }
    case 'edit':
      return store.update(id, { status: plan.status, owner: plan.owner }, { ...opts, expectedRev: plan.expectedRev });
  }
}

export function storeOf(c: Context, board: BoardContext): TaskStore {
  return board.stores.get(c.req.param('list') ?? '');
}

function idOf(c: Context): string {
  return assertTaskId(c.req.param('id'), 'id');
}
