// Where the time of `tasklane list --json` goes, in one cold process: the same modules and steps
// as the CLI (src/cli/commands/list.ts), each phase timed with performance.now(). No static
// imports, so the first mark is Node's own start-up. Prints one JSON line of milliseconds.
//
//   node dist/bench/lib/list-phases.js DIR LIST

const marks: [string, number][] = [['node bootstrap (process start to first line)', performance.now()]];
const mark = (name: string) => marks.push([name, performance.now()]);

const [dir, list] = process.argv.slice(2) as [string, string];
await import('../../src/cli/commands.js');
await import('../../src/cli/registry.js');
mark('import cli main modules (command table, errors, registry)');
await import('../../src/cli/commands/list.js');
mark('import list command (store, graph, cli context/args/output/listing)');

const { readdirSync, readFileSync } = await import('node:fs');
const { join } = await import('node:path');
const { parseTask } = await import('../../src/model/task.js');
const { openStore } = await import('../../src/store/open.js');
const { indexTasks, stateOf } = await import('../../src/model/graph.js');
const { taskJson } = await import('../../src/cli/task-view.js');
mark('(imports already loaded)');

const store = openStore({ dir, list });
const listDir = (store as unknown as { listDir: string }).listDir;
const names = readdirSync(listDir).filter((n) => n.endsWith('.json'));
mark('readdir');
const buffers = names.map((n) => readFileSync(join(listDir, n)));
mark(`readFileSync x${names.length}`);
const texts = buffers.map((b) => new TextDecoder('utf-8', { fatal: true }).decode(b));
mark('utf-8 decode');
const values = texts.map((t) => JSON.parse(t) as unknown);
mark('JSON.parse');
for (const v of values) parseTask(v);
mark('parseTask (validation)');

const all = await store.list();
mark('store.list() again, in full (readdir, read, parse, validate, sort)');
const byId = indexTasks(all);
for (const t of all) stateOf(t, byId);
mark('indexTasks + stateOf (the filter pass)');
const rows = all.map((t) => taskJson(t, byId));
mark('taskJson for each (orderTask + stateOf)');
const text = `${JSON.stringify({ list, tasks: rows }, null, 2)}\n`;
mark(`JSON.stringify (${(text.length / 1024).toFixed(0)} KB)`);
await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
mark('stdout.write');

const out: Record<string, number> = {};
for (let i = 0; i < marks.length; i++) {
  const [name, t] = marks[i] as [string, number];
  out[name] = i === 0 ? t : t - (marks[i - 1] as [string, number])[1];
}
process.stderr.write(`${JSON.stringify(out)}\n`);
