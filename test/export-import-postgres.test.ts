import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import type { TaskStore } from '../src/store/types.js';
import { cliIn, explain, run } from './cli-run.js';
import { freshSchemaUrl, type PostgresServer, startPostgres } from './pg-server.js';
import { runTransferContract } from './store-transfer-contract.js';

// Export and import with the PostgreSQL store: the transfer contract against it, and the issue's
// acceptance (file store -> export -> import into PostgreSQL -> export: the same bytes).

let server: PostgresServer;
let databaseUrl: string;
const opened: TaskStore[] = [];

before(async () => {
  server = await startPostgres();
  databaseUrl = await server.createDatabase('export_import_test');
});

after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await server?.stop();
});

/** The test database with its tables in a fresh schema: an empty store. */
const freshStoreUrl = (): Promise<string> => freshSchemaUrl(databaseUrl);

runTransferContract('PostgreSQL store', async (list = 'transfer', sameStoreAs) => {
  const store = openStore(sameStoreAs === undefined ? await freshStoreUrl() : sameStoreAs.descriptor, list);
  opened.push(store);
  return store;
});

describe('tasklane export and import between the file store and PostgreSQL', () => {
  it('file store -> export -> import into PostgreSQL -> export: the same bytes; and back into files', async () => {
    const src = cliIn();
    const store = openStore(src.dir, 'default');
    const a = await store.create({ subject: 'a', metadata: { z: 1, a: { y: 2, b: [3, { c: null }] } } });
    const b = await store.create({ subject: 'b', blockedBy: [a.id], labels: ['l'], priority: 2 });
    const claim = await store.claim({ owner: 'w', taskId: a.id });
    assert.ok(claim);
    await store.heartbeat(a.id, { owner: 'w', token: claim.token });
    await store.complete(a.id, { owner: 'w', token: claim.token, result: 'ok' });
    const gone = await store.create({ subject: 'gone', blocks: [b.id] });
    await store.delete(gone.id);
    const env = { SOURCE_DATE_EPOCH: '1800000000' };
    const first = src.tl(['export'], { env });
    assert.equal(first.status, 0, explain(first));

    const url = await freshStoreUrl();
    const imported = run(['--store', url, 'import', '--json'], { input: first.stdout });
    assert.equal(imported.status, 0, explain(imported));
    assert.deepEqual(imported.json(), { list: 'default', tasks: 2, entries: imported.json().entries, highestId: 3 });
    const again = run(['--store', url, 'export'], { env });
    assert.equal(again.status, 0, explain(again));
    assert.equal(again.stdout, first.stdout, 'the same bytes');
    const restored = run(['--store', url, 'restore', '3', '--json']);
    assert.equal(restored.status, 0, explain(restored));
    assert.equal(run(['--store', url, 'create', 'next', '--json']).json().task.id, '4');

    const back = cliIn();
    const home = back.tl(['import'], { input: first.stdout });
    assert.equal(home.status, 0, explain(home));
    assert.equal(back.tl(['export'], { env }).stdout, first.stdout);
  });

  it('a malformed export is refused naming its line, and the PostgreSQL list is left as it was', async () => {
    const src = cliIn();
    await openStore(src.dir, 'default').create({ subject: 'a' });
    const text = src.tl(['export']).stdout.replace('"status":"pending"', '"status":"x"');
    const url = await freshStoreUrl();
    assert.equal(run(['--store', url, 'create', 'kept']).status, 0);
    const before = run(['--store', url, 'export'], { env: { SOURCE_DATE_EPOCH: '0' } }).stdout;
    const r = run(['--store', url, 'import', '--replace'], { input: text });
    assert.equal(r.status, 1, explain(r));
    assert.match(r.stderr, /stdin:2: task 1: status must be one of pending, in_progress, completed; got "x"/);
    assert.equal(run(['--store', url, 'export'], { env: { SOURCE_DATE_EPOCH: '0' } }).stdout, before);
  });
});
