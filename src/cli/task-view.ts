import { formatDuration, tookMs } from '../model/duration.js';
import { openBlockers, stateOf } from '../model/graph.js';
import { labelsOf, priorityOf, revisionOf, type Task, type TaskState, tasklaneFields } from '../model/task.js';
import { inert } from './inert-text.js';
import { type Cell, formatTable, oneLine, type Palette, paintState } from './output.js';
import type { CommandIO } from './registry.js';

// How a task is shown: as JSON (the stored task plus its derived state) or as text for people.

export { type TaskJson, taskJson } from '../model/task-json.js';
export { singleTaskJson, withBlockers } from '../store/task-json.js';

export function terminalWidth(io: CommandIO): number | undefined {
  // Only cut lines for a person at a terminal; a pipe or file gets the whole text.
  return io.stdout.isTTY === true && typeof io.stdout.columns === 'number' ? io.stdout.columns : undefined;
}

/** The table every listing prints: ID STATE PRI OWNER SUBJECT BLOCKED BY. */
export function taskTable(
  tasks: Task[],
  byId: ReadonlyMap<string, Task>,
  p: Palette,
  width: number | undefined,
): string {
  const rows: Cell[][] = tasks.map((t) => {
    const state = stateOf(t, byId);
    const paint = paintState(p, state);
    const blockers = openBlockers(t, byId);
    return [
      { text: `#${t.id}`, paint: p.bold },
      { text: state, paint },
      { text: String(priorityOf(t)) },
      { text: t.owner ?? '-', paint: t.owner === undefined ? p.dim : undefined },
      { text: t.subject, paint: state === 'completed' ? p.dim : undefined },
      { text: blockers.map((b) => `#${b}`).join(', '), paint: p.yellow },
    ];
  });
  return formatTable(['ID', 'STATE', 'PRI', 'OWNER', 'SUBJECT', 'BLOCKED BY'], rows, { p, width, flex: 4 });
}

/** One line naming a task and its state: `#4 Write API [ready]`. */
export function taskLine(task: Task, state: TaskState, p: Palette): string {
  return `${p.bold(`#${oneLine(task.id)}`)} ${oneLine(task.subject)} ${paintState(p, state)(`[${state}]`)}`;
}

/** The full view of one task for `show`. */
export function taskDetail(task: Task, byId: ReadonlyMap<string, Task>, p: Palette): string {
  const f = tasklaneFields(task);
  const state = stateOf(task, byId);
  const rows: [string, string][] = [[`state`, paintState(p, state)(state)]];
  // Every value may hold text from the task file: one line, control characters made visible.
  const add = (label: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') rows.push([label, oneLine(value)]);
  };
  add('status', task.status);
  add('owner', task.owner);
  add('active form', task.activeForm);
  if (priorityOf(task) !== 0) add('priority', String(priorityOf(task)));
  add('labels', labelsOf(task).join(', '));
  if (f.estimate !== undefined) add('estimate', formatDuration(f.estimate * 1000));
  if (typeof f.verify === 'string') add('check', f.verify);
  add(
    'blocked by',
    task.blockedBy
      .map((id) => {
        const b = byId.get(id);
        return `#${id} (${b === undefined ? 'missing' : b.status})`;
      })
      .join(', '),
  );
  add('blocks', task.blocks.map((id) => `#${id}`).join(', '));
  if (f.attempts !== undefined) add('attempts', String(f.attempts));
  if (f.lease !== undefined) add('lease', `${f.lease.owner} until ${f.lease.expiresAt}`);
  if (f.failure !== undefined) add('failure', `${f.failure.reason} (attempt ${f.failure.attempt}, ${f.failure.at})`);
  if (f.failures !== undefined && f.failures.length > 0) add('earlier failures', String(f.failures.length));
  add('created', f.createdAt);
  add('updated', f.updatedAt);
  add('started', f.startedAt);
  add('completed', f.completedAt);
  const took = task.status === 'completed' ? tookMs(f) : undefined;
  if (took !== undefined) add('took', formatDuration(took));
  if (f.rev !== undefined || f.fp !== undefined) add('revision', String(revisionOf(task)));
  const user = Object.keys(task.metadata ?? {}).filter((k) => k !== 'tasklane');
  for (const k of user) add(`meta ${oneLine(k)}`, JSON.stringify(task.metadata?.[k]));
  const labelWidth = Math.max(...rows.map(([l]) => l.length));
  const out = [`${p.bold(`#${oneLine(task.id)}`)} ${p.bold(oneLine(task.subject))}`];
  for (const [label, value] of rows) out.push(`  ${p.dim(label.padEnd(labelWidth))}  ${value}`);
  if (task.description !== '')
    out.push('', p.bold('Description'), indent(inert(task.description, { multiline: true })));
  if (f.result !== undefined) out.push('', p.bold('Result'), indent(inert(f.result, { multiline: true })));
  return out.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
