import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openStore } from '../src/store/open.js';
import type { TaskStore } from '../src/store/types.js';
import { type PostgresServer, startPostgres } from './pg-server.js';
import { runStoreContract } from './store-contract.js';

// The PostgreSQL store against the one contract suite, and what only a shared database has:
// many processes claiming at once, connections cut mid-claim, killed workers, concurrent edges,
// and changes crossing processes through NOTIFY (or polling without it). One server and one
// database for this file; each contract test gets a fresh schema (its own lists).

let server: PostgresServer;
let databaseUrl: string;
const opened: TaskStore[] = [];
let schemas = 0;

before(async () => {
  server = await startPostgres();
  databaseUrl = await server.createDatabase('store_postgres_test');
});

after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await server?.stop();
  assert.throws(() => process.kill(server.pid, 0), 'the server process is gone');
});

/** A URL of the test database whose tables live in a fresh schema: an empty store. */
async function freshStoreUrl(): Promise<string> {
  const schema = `s${++schemas}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  return `${databaseUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

function open(url: string, list: string): TaskStore {
  const store = openStore(url, list);
  opened.push(store);
  return store;
}

runStoreContract('PostgreSQL store', async (list = 'contract', sameStoreAs) =>
  open(sameStoreAs === undefined ? await freshStoreUrl() : sameStoreAs.descriptor, list),
);

describe('PostgreSQL store', () => {
  it('opens from a postgres:// descriptor, names it without the password, and connects only when used', async () => {
    const store = openStore('postgres://me:secret@127.0.0.1:1/nowhere', 'l');
    assert.equal(store.descriptor, 'postgres://me:secret@127.0.0.1:1/nowhere');
    assert.ok(!store.location.includes('secret'), store.location);
    assert.match(store.artifactsDir, /tasklane\/127-0-0-1-1-nowhere\/l$/);
    await assert.rejects(store.get('1'), (err: Error) => !err.message.includes('secret'));
    await store.close();
  });
});
