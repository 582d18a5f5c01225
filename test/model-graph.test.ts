import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MinHeap } from '../src/model/heap.js';
import {
  assertNoCycle,
  blockedSet,
  claimOrder,
  criticalPaths,
  cycleFor,
  estimateOf,
  indexTasks,
  isTasklaneError,
  readySet,
  type Task,
  topologicalOrder,
} from '../src/model/index.js';

// The graph's functions on hand-made lists, and on random graphs checked against brute force.

type Spec = { after?: string[]; status?: Task['status']; owner?: string; estimate?: number; priority?: number };

/** Tasks from id -> spec, with `blocks` filled in from `after` as the store keeps both sides. */
function graph(specs: Record<string, Spec>): Map<string, Task> {
  const tasks = Object.entries(specs).map(
    ([id, s]): Task => ({
      id,
      subject: `task ${id}`,
      description: '',
      status: s.status ?? 'pending',
      blocks: [],
      blockedBy: s.after ?? [],
      ...(s.owner === undefined ? {} : { owner: s.owner }),
      metadata: {
        tasklane: { estimate: s.estimate ?? 1, ...(s.priority === undefined ? {} : { priority: s.priority }) },
      },
    }),
  );
  const byId = indexTasks(tasks);
  for (const t of tasks) for (const b of t.blockedBy) byId.get(b)?.blocks.push(t.id);
  return byId;
}

/** A seeded random DAG: edges only from lower to higher index, so no cycles. */
function randomDag(n: number, seed: number): Map<string, Task> {
  let x = seed;
  const rand = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  const specs: Record<string, Spec> = {};
  for (let i = 1; i <= n; i++) {
    const after = new Set<string>();
    const k = Math.floor(rand() * 4);
    for (let j = 0; j < k && i > 1; j++) after.add(String(1 + Math.floor(rand() * (i - 1))));
    specs[String(i)] = {
      after: [...after],
      estimate: 1 + Math.floor(rand() * 9),
      status: rand() < 0.2 ? 'completed' : 'pending',
    };
  }
  return graph(specs);
}

describe('graph', () => {
  it('ready, blocked and what blocks each', () => {
    const g = graph({
      '1': { status: 'completed' },
      '2': { after: ['1'] },
      '3': { after: ['2'] },
      '4': { owner: 'w1' },
      '5': { after: ['1', '9'] }, // 9 does not exist: a missing blocker does not block
    });
    assert.deepEqual(
      readySet(g).map((t) => t.id),
      ['2', '5'],
    );
    assert.deepEqual(
      blockedSet(g).map((b) => [b.task.id, b.blockers]),
      [['3', ['2']]],
    );
  });

  it('refuses an edge that closes a cycle and says the cycle', () => {
    const g = graph({ '3': {}, '5': { after: ['3'] }, '7': { after: ['5'] } });
    assert.deepEqual(cycleFor(g, '5', '3'), ['5', '3', '5']);
    assert.deepEqual(cycleFor(g, '7', '3'), ['7', '3', '5', '7']);
    assert.deepEqual(cycleFor(g, '3', '3'), ['3', '3']);
    assert.equal(cycleFor(g, '3', '7'), undefined);
    assert.throws(
      () => assertNoCycle(g, '7', '3'),
      (e) => isTasklaneError(e) && /7 -> 3 -> 5 -> 7/.test(e.message),
    );
  });

  it('topological order: blockers first, smallest id first among the free, cycles at the end', () => {
    const g = graph({ '10': {}, '2': { after: ['10'] }, '3': {}, '4': { after: ['5'] }, '5': { after: ['4'] } });
    const { order, cyclic } = topologicalOrder(g);
    assert.deepEqual(
      order.map((t) => t.id),
      ['3', '10', '2', '4', '5'],
    );
    assert.deepEqual(cyclic, ['4', '5']);
  });

  it('critical paths: own estimate plus the longest chain it blocks; completed weigh 0; every task, cycles too', () => {
    const g = graph({
      '1': { estimate: 2 },
      '2': { after: ['1'], estimate: 3 },
      '3': { after: ['1'], estimate: 10, status: 'completed' },
      '4': { after: ['2', '3'], estimate: 5 },
      '8': { after: ['9'], estimate: 1 },
      '9': { after: ['8'], estimate: 1 },
    });
    const paths = criticalPaths(g);
    assert.equal(paths.get('4'), 5);
    assert.equal(paths.get('3'), 5);
    assert.equal(paths.get('2'), 8);
    assert.equal(paths.get('1'), 10);
    assert.ok(paths.has('8') && paths.has('9'), 'tasks on a cycle get a length too');
  });

  it('claim order: priority, then critical path, then id', () => {
    const g = graph({
      '1': { estimate: 1 },
      '2': { estimate: 1, priority: 1 },
      '3': { estimate: 4 },
      '4': { estimate: 4 },
      '5': { after: ['1'], estimate: 9 },
    });
    const order = claimOrder(readySet(g), criticalPaths(g)).map((t) => t.id);
    assert.deepEqual(order, ['2', '1', '3', '4']);
  });

  it('on random graphs of 2,000 tasks, orders respect every edge and paths match brute force', () => {
    for (const seed of [1, 2, 3]) {
      const g = randomDag(2000, seed);
      const { order, cyclic } = topologicalOrder(g);
      assert.deepEqual(cyclic, []);
      assert.equal(order.length, g.size);
      const at = new Map(order.map((t, i) => [t.id, i]));
      for (const t of g.values())
        for (const b of t.blockedBy) assert.ok((at.get(b) as number) < (at.get(t.id) as number));
      const paths = criticalPaths(g);
      const memo = new Map<string, number>();
      const brute = (id: string): number => {
        const known = memo.get(id);
        if (known !== undefined) return known;
        const t = g.get(id) as Task;
        const own = t.status === 'completed' ? 0 : estimateOf(t);
        const v = own + Math.max(0, ...t.blocks.map(brute));
        memo.set(id, v);
        return v;
      };
      // Brute force in id order from the end keeps its recursion shallow (edges go up in id).
      for (let i = g.size; i >= 1; i--) brute(String(i));
      for (const id of g.keys()) assert.equal(paths.get(id), memo.get(id), `seed ${seed}, task ${id}`);
    }
  });

  it('min-heap pops in order', () => {
    const heap = new MinHeap<number>((a, b) => a - b);
    const xs = Array.from({ length: 500 }, (_, i) => (i * 7919) % 503);
    for (const x of xs) heap.push(x);
    const out: number[] = [];
    for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x);
    assert.deepEqual(
      out,
      [...xs].sort((a, b) => a - b),
    );
    assert.equal(heap.size, 0);
  });
});
