import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTasklaneError } from '../src/model/index.js';
import { exportLine } from '../src/store/export-format.js';
import type { ExportRecord, TaskStore } from '../src/store/types.js';
import type { StoreFactory } from './store-contract.js';

// exportList and importList as every store must behave, through the TaskStore interface only, so
// it runs against each store (test/export-import.test.ts runs it on the file store; a store's own
// test file adds one line: runTransferContract('postgres', factory)). Two lists of one store
// stand for two stores: the records are the same whatever holds them.

async function records(store: TaskStore): Promise<ExportRecord[]> {
  const out: ExportRecord[] = [];
  for await (const r of store.exportList()) out.push(r);
  return out;
}

/** The export's lines after the list record, which names the list and the time. */
async function body(store: TaskStore): Promise<string[]> {
  return (await records(store)).slice(1).map(exportLine);
}

async function sourceList(store: TaskStore): Promise<void> {
  const a = await store.create({ subject: 'a', metadata: { k: { z: 1, a: 2 } }, priority: 2 });
  const b = await store.create({ subject: 'b', blockedBy: [a.id], labels: ['x'] });
  await store.create({ subject: 'c', blockedBy: [a.id, b.id] });
  const gone = await store.create({ subject: 'gone' });
  await store.delete(gone.id);
  const claim = await store.claim({ owner: 'w', taskId: a.id });
  assert.ok(claim);
  await store.complete(a.id, { owner: 'w', token: claim.token, result: 'done' });
}

export function runTransferContract(name: string, makeStore: StoreFactory): void {
  describe(`TaskStore export and import: ${name}`, () => {
    it('exports the list record, then tasks in id order, then history in seq order; imported elsewhere it exports the same records', async () => {
      const src = await makeStore('transfer-src');
      await sourceList(src);
      const out = await records(src);
      const head = out[0];
      assert.equal(head?.type, 'list');
      assert.equal(head.type === 'list' && head.highestId, 4);
      assert.deepEqual(
        out.filter((r) => r.type === 'task').map((r) => r.type === 'task' && r.task.id),
        ['1', '2', '3'],
      );
      const seqs = out.flatMap((r) => (r.type === 'journal' ? [r.entry.seq] : []));
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      );
      assert.ok(seqs.length >= 7);

      const dst = await makeStore('transfer-dst', src);
      const report = await dst.importList(out);
      assert.deepEqual(report, { tasks: 3, entries: seqs.length, highestId: 4 });
      assert.deepEqual(await body(dst), await body(src));
      const again = (await records(dst))[0];
      assert.equal(again?.type === 'list' && again.list, dst.listId);
    });

    it('after an import: edges on both sides, metadata, history and restore work, and new ids go above the high-water mark', async () => {
      const src = await makeStore('transfer-src2');
      await sourceList(src);
      const dst = await makeStore('transfer-dst2', src);
      await dst.importList(src.exportList());
      const c = await dst.get('3');
      assert.deepEqual(c.blockedBy, ['1', '2']);
      assert.deepEqual((await dst.get('1')).blocks, ['2', '3']);
      assert.deepEqual((await dst.get('1')).metadata?.k, { z: 1, a: 2 });
      assert.deepEqual(
        (await dst.ready()).map((t) => t.id),
        (await src.ready()).map((t) => t.id),
      );
      assert.deepEqual(
        (await dst.history({ taskId: '4' })).map((e) => e.kind),
        ['created', 'deleted'],
      );
      const restored = await dst.restore(['4']);
      assert.equal(restored[0]?.subject, 'gone');
      assert.equal((await dst.create({ subject: 'next' })).id, '5');
    });

    it('a list with tasks or history is refused (CONFLICT) unless forced; forced, its tasks are replaced', async () => {
      const src = await makeStore('transfer-src3');
      await sourceList(src);
      const out = await records(src);
      const dst = await makeStore('transfer-dst3', src);
      await dst.create({ subject: 'already here' });
      await assert.rejects(dst.importList(out), (err: unknown) => isTasklaneError(err, 'CONFLICT'));
      assert.deepEqual(
        (await dst.list()).map((t) => t.subject),
        ['already here'],
      );
      await dst.importList(out, { force: true });
      assert.deepEqual(await body(dst), await body(src));
    });

    it('a bad record anywhere (a duplicate id, a one-sided edge, a seq out of order, no list record) changes nothing', async () => {
      const src = await makeStore('transfer-src4');
      await sourceList(src);
      const out = await records(src);
      const firstTask = out.findIndex((r) => r.type === 'task');
      const entries = out.filter((r) => r.type === 'journal');
      const oneSided = out.map((r) =>
        r.type === 'task' && r.task.id === '3' ? { type: 'task' as const, task: { ...r.task, blockedBy: ['1'] } } : r,
      );
      const bad: [string, ExportRecord[]][] = [
        ['a duplicate id', [...out, out[firstTask] as ExportRecord]],
        ['a one-sided edge', oneSided],
        ['a seq out of order', [...out, entries[0] as ExportRecord]],
        ['no list record', out.slice(1)],
      ];
      const dst = await makeStore('transfer-dst4', src);
      await dst.create({ subject: 'kept' });
      const before = await body(dst);
      for (const [what, input] of bad) {
        await assert.rejects(
          dst.importList(input, { force: true }),
          (err: unknown) => isTasklaneError(err, 'INVALID_INPUT'),
          what,
        );
        assert.deepEqual(await body(dst), before, `${what}: the list is as it was`);
      }
      const empty = await makeStore('transfer-dst5', src);
      await assert.rejects(empty.importList(oneSided), (err: unknown) => isTasklaneError(err, 'INVALID_INPUT'));
      assert.deepEqual(await empty.list(), []);
      assert.deepEqual(await empty.history(), []);
    });
    it('keeps top-level keys Tasklane does not model, in their place, through import, get, list, update and export', async () => {
      const src = await makeStore('transfer-src6');
      await sourceList(src);
      // Task 2 as a newer Claude Code might have written it: a key between the known ones, one after them.
      const out = (await records(src)).map((r) => {
        if (r.type !== 'task' || r.task.id !== '2') return r;
        const { metadata, ...known } = r.task;
        const task = { ...known, createdBy: 'session-abc', metadata, futureField: { n: 42, deep: [[1]] } };
        return { type: 'task' as const, task: task as typeof r.task };
      });
      const dst = await makeStore('transfer-dst6', src);
      await dst.importList(out);
      const extra = (t: object): Record<string, unknown> =>
        Object.fromEntries(Object.entries(t).filter(([k]) => k === 'createdBy' || k === 'futureField'));
      const expected = { createdBy: 'session-abc', futureField: { n: 42, deep: [[1]] } };
      assert.deepEqual(extra(await dst.get('2')), expected);
      assert.deepEqual(extra((await dst.list()).find((t) => t.id === '2') ?? {}), expected);
      const updated = await dst.update('2', { subject: 'b, renamed', priority: 3 });
      assert.deepEqual(extra(updated), expected);
      const again = await dst.get('2');
      assert.deepEqual(extra(again), expected);
      assert.deepEqual(Object.keys(again), [
        'id',
        'subject',
        'description',
        'status',
        'blocks',
        'blockedBy',
        'createdBy',
        'metadata',
        'futureField',
      ]);
      const exported = (await records(dst)).find((r) => r.type === 'task' && r.task.id === '2');
      assert.ok(exported?.type === 'task');
      assert.deepEqual(extra(exported.task), expected);
      assert.match(
        exportLine(exported),
        /"blockedBy":\["1"\],"createdBy":"session-abc","metadata":\{.*\},"futureField":\{/,
      );
    });
  });
}
