import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliIn, explain, type Json, run } from './cli-run.js';
import { repoRoot } from './helpers.js';
import { freshSchemaUrl, type PostgresServer, postgresBinDir, startPostgres } from './pg-server.js';

// tasklane import --from PEER into the PostgreSQL store: the same tasks, edges, statuses and ids
// as into the file store (the readers hand both stores the same records), and a malformed input
// leaves the PostgreSQL list empty.

const fixtures = join(repoRoot, 'test', 'fixtures', 'peers');
const INPUTS: [string, string][] = [
  ['taskmaster', join(fixtures, 'taskmaster', 'tasks.json')],
  ['backlog', join(fixtures, 'backlog')],
  ['beads', join(fixtures, 'beads')],
];

describe('peer imports into PostgreSQL', {
  skip: postgresBinDir() === undefined ? 'no PostgreSQL binaries here' : false,
}, () => {
  let server: PostgresServer;
  let url: string;
  before(async () => {
    server = await startPostgres();
    url = await server.createDatabase('import_peers_test');
  });
  after(async () => {
    await server?.stop();
  });
  const freshStore = (): Promise<string> => freshSchemaUrl(url);

  const listed = (args: string[]): Json =>
    run([...args, 'list', '--all', '--json'])
      .json()
      .tasks.map((t: Json) => ({
        id: t.id,
        subject: t.subject,
        status: t.status,
        blocks: t.blocks,
        blockedBy: t.blockedBy,
        owner: t.owner,
        imported: t.metadata?.imported,
      }));

  for (const [from, input] of INPUTS) {
    it(`${from}: the same list as in the file store`, async () => {
      const store = await freshStore();
      const r = run(['--store', store, 'import', '--from', from, input, '--json']);
      assert.equal(r.status, 0, explain(r));
      const files = cliIn();
      assert.equal(files.tl(['import', '--from', from, input]).status, 0);
      assert.deepEqual(listed(['--store', store]), listed(['--dir', files.dir]));
      const doctor = run(['--store', store, 'doctor', '--json']);
      assert.equal(doctor.json().consistent, true, doctor.stdout);
    });
  }

  it('a malformed input is refused naming its line, and the PostgreSQL list stays empty', async () => {
    const store = await freshStore();
    const input = join(fixtures, 'malformed', 'beads-bad-priority.jsonl');
    const r = run(['--store', store, 'import', '--from', 'beads', input]);
    assert.equal(r.status, 1, explain(r));
    assert.ok(r.stderr.includes(`${input}:2: `), r.stderr);
    assert.deepEqual(run(['--store', store, 'list', '--all', '--json']).json().tasks, []);
  });
});
