import { isAbsolute, relative, resolve, sep } from 'node:path';
import { planWithAgent } from '../../engine/plan/agent.js';
import { type ApplyResult, applyPlan } from '../../engine/plan/apply.js';
import { MAX_PLAN_BYTES, type PlanFormat, readPlan } from '../../engine/plan/load.js';
import { ambiguityError } from '../../engine/plan/markdown.js';
import type { ChosenShape, PlanReading } from '../../engine/plan/shape.js';
import { type PlanSpec, planEdges, planOrder, specForOutput } from '../../engine/plan/spec.js';
import { formatDuration, TasklaneError } from '../../model/index.js';
import { type Context, context, planBase } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { type Cell, formatTable, oneLine, printJson, println } from '../output.js';
import { planTooLarge, readPlanFile, readStreamBounded } from '../read-input.js';
import type { Command } from '../registry.js';

const FORMATS: Record<string, PlanFormat> = { md: 'md', markdown: 'md', json: 'json', yaml: 'yaml', yml: 'yaml' };

export const command: Command = {
  summary: 'Turn a plan (markdown, JSON or YAML) into tasks with dependencies',
  help: `Usage: tasklane plan FILE [options]

Turns a plan into tasks with dependencies. A markdown plan is read as CommonMark, in the shape it
is written in (docs/plans.md, "Shapes"):
  phases       "## Phase 1: ...", "## Step 2: ...", "## Milestone 3": one task per phase, each
               waiting for the one before unless it says otherwise ("Depends on: Phase 1",
               "(parallel)"); its text is the description; the commands in backticks under
               "Automated Verification" become its check (verify); manual checks stay in the text
  steps        a list under "Implementation Steps", "Tasks", "Todo", "Work Items": one task per
               step, with the dependencies written in words ("(depends on step 2)", "(after steps
               1 and 3)", "once the schema is done", "blocked by ...", "requires ..."); a numbered
               list that writes none runs in order, a bulleted one all at once
  todos        front matter "todos:" with id, content, status, dependencies (YAML or JSON);
               status completed/done is created completed
  items        Tasklane's own dialect: headings are phases (each waits for the one before unless
               "(parallel)"), list and checklist items are tasks, nested items subtasks, "after #2",
               "depends on: Design API", "(after: api, schema)" add dependencies, "- [x]" is done
Sections that are not work (Overview, Context, Current State, What We're NOT Doing, Out of Scope,
Non-goals, Risks, Open Questions, References, Files to Create/Modify, Testing Strategy, ...) are
skipped; --dry-run says which and why. A plan that mixes phases and a step list, or a written
dependency that names nothing, is refused until you say how to read it: --phases, --steps, or
--agent. JSON and YAML give the graph directly: {"tasks": [{"key": "api", "subject": "...",
"after": ["schema"]}]}. Full syntax: docs/plans.md.

Running the same plan again creates nothing twice: each task records metadata.plan =
{source, key}, and tasks already made from the plan are reused; only new tasks and missing
dependencies are added. Existing tasks are otherwise left as they are.

Options:
  --dry-run          print the reading (shape, tasks, dependencies, checks, creation order,
                     skipped sections, ambiguities) and write nothing
  --phases           read a markdown plan as phases, whatever else it holds
  --steps            read a markdown plan as its step list(s); a written dependency that names
                     nothing is dropped (the dry run lists it)
  --format FORMAT    md, json or yaml (default: from the file's extension, else md)
  --source NAME      the plan's identity in metadata.plan.source (default: the file's path
                     relative to the project, or to the current directory)
  --agent[=CMD]      have an agent write the graph for a free-form plan, as JSON; it is validated
                     before anything is written. CMD default: TASKLANE_AGENT, else CLAUDE_CODE,
                     else claude (run as 'claude -p --output-format json', the prompt on stdin);
                     any other command gets the prompt on stdin and answers on stdout
  --timeout DURATION how long the agent may take (default 10m)

FILE '-' reads the plan from stdin.

Examples:
  tasklane plan thoughts/plans/rate-limiter.md --dry-run     # see how the plan reads
  tasklane plan thoughts/plans/rate-limiter.md               # create the tasks
  tasklane plan plan.md --steps                              # the step list, not the phases
  tasklane plan examples/webapp.md
  tasklane plan roadmap.yaml --json
  tasklane plan notes.txt --agent --dry-run --json > plan.json   # review, then: tasklane plan plan.json

JSON (--json): {"source", "list", "shape", "skipped": [SKIPPED], "created": [ID], "existing":
[ID], "tasks": [{"key", "id", "subject", "action": "created"|"existing"}], "edges": [{"blocker",
"blocked", "blockerId", "blockedId", "added"}], "stale": [ID]}. With --dry-run: {"dryRun": true,
"source", "list", "shape", "plan": PLAN, "order": [KEY], "tasks": [{"key", "id"?, "subject",
"action": "would-create"|"existing"}], "edges": [...], "skipped": [SKIPPED], "ambiguities":
[{"line", "message"}]}; SHAPE is phases, steps, todos, items, json, yaml or agent; SKIPPED is
{"heading", "line", "reason"}; PLAN is loadable again as a JSON plan.

Exit codes: 0 done (a dry run of an ambiguous plan too: it shows the ambiguities); 1 an invalid or
ambiguous plan, an agent that failed or answered badly, a cycle, an unreadable file; 2 bad usage.`,

  async run(io) {
    // --agent takes an optional value, which parseArgs cannot express: lift --agent=CMD out first.
    let agentCommand: string | undefined;
    const argv = io.argv.map((a) => {
      if (!a.startsWith('--agent=')) return a;
      agentCommand = a.slice('--agent='.length);
      return '--agent';
    });
    const ctx = context({ ...io, argv }, 'plan', {
      'dry-run': { type: 'boolean' },
      format: { type: 'string' },
      source: { type: 'string' },
      agent: { type: 'boolean' },
      timeout: { type: 'string' },
      phases: { type: 'boolean' },
      steps: { type: 'boolean' },
    });
    const a = ctx.args;
    a.expectPositionals(1, 1, 'FILE');
    const file = a.positionals[0] as string;
    const formatName = a.choice('format', Object.keys(FORMATS));
    const format = formatName === undefined ? undefined : FORMATS[formatName];
    const timeout = a.seconds('timeout');
    const useAgent = a.flag('agent');
    if (agentCommand !== undefined && agentCommand.trim() === '') {
      throw new TasklaneError('USAGE', '--agent= needs a command, e.g. --agent="claude"', { field: '--agent' });
    }
    let shape: ChosenShape | undefined;
    if (a.flag('phases') && a.flag('steps')) {
      throw new TasklaneError('USAGE', '--phases and --steps exclude each other: choose one reading', {
        field: '--phases',
      });
    }
    if (a.flag('phases')) shape = 'phases';
    if (a.flag('steps')) shape = 'steps';
    if (shape !== undefined && useAgent) {
      throw new TasklaneError('USAGE', `--${shape} reads the plan itself; with --agent the agent does: choose one`, {
        field: `--${shape}`,
      });
    }
    if (timeout !== undefined && !useAgent) {
      throw new TasklaneError('USAGE', '--timeout applies only with --agent', { field: '--timeout' });
    }

    const text = await readPlanText(ctx, file);
    const label = file === '-' ? 'stdin' : file;
    let spec: PlanSpec;
    let reading: PlanReading;
    if (useAgent) {
      if (!ctx.json) io.stderr.write(`tasklane: asking the agent to turn ${label} into tasks…\n`);
      // The agent runs in its own process group, out of reach of the terminal's Ctrl-C: pass it on.
      const interrupt = new AbortController();
      const onSignal = () => interrupt.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await planWithAgent(text, {
          file: label,
          env: io.env,
          cwd: io.cwd,
          signal: interrupt.signal,
          ...(agentCommand === undefined ? {} : { agent: agentCommand }),
          ...(timeout === undefined ? {} : { timeoutMs: timeout * 1000 }),
        });
        spec = result.spec;
        reading = { spec, shape: 'agent', skipped: [], ambiguities: [] };
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    } else {
      reading = readPlan(text, label, format, shape);
      if (reading.shape !== 'phases' && reading.shape !== 'steps' && shape !== undefined) {
        throw new TasklaneError('USAGE', `--${shape} applies only to a markdown plan`, { field: `--${shape}` });
      }
      // A plan the reader would have to guess at: the dry run shows the reading; a real run refuses.
      if (reading.ambiguities.length > 0 && shape === undefined && !a.flag('dry-run')) {
        throw ambiguityError(reading, label);
      }
      spec = reading.spec;
    }
    if (spec.tasks.length === 0) {
      throw new TasklaneError(
        'INVALID_INPUT',
        useAgent
          ? `${label}: the agent's plan has no tasks; nothing was written`
          : `${label}: no tasks found (a task is a list item such as "- Design the API", a "## Phase 1: ..." heading, a step under "## Implementation Steps", or a front-matter todo)${skippedNote(reading)}; for a free-form plan, let an agent write the tasks: tasklane plan ${file} --agent`,
        { file: label },
      );
    }

    const source = a.string('source') ?? defaultSource(ctx, file);
    const store = ctx.store();
    const result = await applyPlan(store, spec, { source, dryRun: a.flag('dry-run'), actor: 'tasklane plan' });
    if (ctx.json) {
      printJson(
        io,
        result.dryRun ? dryRunJson(spec, reading, result, store.listId) : appliedJson(reading, result, store.listId),
      );
      return EXIT.OK;
    }
    if (result.dryRun) printDryRun(ctx, spec, reading, result, store.listId, shape !== undefined);
    else printApplied(ctx, result, store.listId);
    return EXIT.OK;
  },
};

/** The plan's text, read no further than the plan limit. */
async function readPlanText(ctx: Context, file: string): Promise<string> {
  let bytes: Buffer;
  try {
    if (file === '-' && ctx.io.stdin.isTTY === true) {
      ctx.io.stderr.write('tasklane: reading the plan from the terminal; end it with Ctrl-D\n');
    }
    if (file === '-') {
      const read = await readStreamBounded(ctx.io.stdin, MAX_PLAN_BYTES);
      if ('over' in read) throw planTooLarge('stdin', read, MAX_PLAN_BYTES);
      bytes = read.bytes;
    } else {
      bytes = readPlanFile(resolve(ctx.io.cwd, file), file, MAX_PLAN_BYTES);
    }
  } catch (err) {
    if (err instanceof TasklaneError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new TasklaneError('IO', `cannot read the plan ${file}: ${why}`, { file, cause: err });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TasklaneError('INVALID_INPUT', `${file}: not valid UTF-8; a plan must be UTF-8 text`, { file });
  }
}

/**
 * The plan's identity across runs: its path relative to the project (the directory holding
 * .tasklane when the list lives there), else to the current directory, with '/' separators, so
 * teammates and other working directories name it alike.
 */
function defaultSource(ctx: Context, file: string): string {
  if (file === '-') return 'stdin';
  const base = planBase(ctx.io, ctx.args.globals);
  const absolute = resolve(ctx.io.cwd, file);
  const rel = relative(base, absolute);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return absolute.split(sep).join('/');
  return rel.split(sep).join('/');
}

/** "; skipped: Overview (line 3), ..." when sections were skipped, so an empty reading explains itself. */
function skippedNote(reading: PlanReading): string {
  if (reading.skipped.length === 0) return '';
  const names = reading.skipped.slice(0, 5).map((s) => `${oneLine(s.heading)} (line ${s.line})`);
  return `; skipped as not work: ${names.join(', ')}${reading.skipped.length > 5 ? ', ...' : ''}`;
}

function dryRunJson(spec: PlanSpec, reading: PlanReading, result: ApplyResult, list: string): Record<string, unknown> {
  return {
    dryRun: true,
    source: result.source,
    list,
    shape: reading.shape,
    plan: specForOutput(spec),
    order: planOrder(spec),
    tasks: result.tasks,
    edges: result.edges,
    skipped: reading.skipped,
    ambiguities: reading.ambiguities,
  };
}

function appliedJson(reading: PlanReading, result: ApplyResult, list: string): Record<string, unknown> {
  return {
    source: result.source,
    list,
    shape: reading.shape,
    skipped: reading.skipped,
    created: result.created.map((t) => t.id),
    existing: result.existing.map((t) => t.id),
    tasks: result.tasks,
    edges: result.edges,
    stale: result.stale.map((t) => t.id),
  };
}

const SHAPE_NAMES: Record<PlanReading['shape'], string> = {
  phases: 'a phased plan: one task per phase',
  steps: 'a step list: one task per step',
  todos: 'front-matter todos: one task per todo',
  items: 'list items: one task per item',
  json: 'a JSON plan',
  yaml: 'a YAML plan',
  agent: "the agent's graph",
};

function printDryRun(
  ctx: Context,
  spec: PlanSpec,
  reading: PlanReading,
  result: ApplyResult,
  list: string,
  chosen: boolean,
): void {
  const { io, p } = ctx;
  const number = new Map(spec.tasks.map((t, i) => [t.key, i + 1]));
  const byKey = new Map(result.tasks.map((t) => [t.key, t]));
  const blockers = new Map<string, string[]>();
  for (const e of planEdges(spec)) blockers.set(e.blocked, [...(blockers.get(e.blocked) ?? []), e.blocker]);
  const parentOf = new Map(spec.tasks.map((t) => [t.key, t.parent]));
  const depth = (key: string): number => {
    let d = 0;
    for (let k = parentOf.get(key); k !== undefined; k = parentOf.get(k)) d++;
    return d;
  };

  const title = spec.title === undefined ? '' : ` "${oneLine(spec.title)}"`;
  const edgeCount = result.edges.length;
  println(
    io,
    p.bold(
      `Plan ${result.source}${title}: ${spec.tasks.length} tasks, ${edgeCount} dependencies (dry run: nothing written)`,
    ),
  );
  println(io, `Read as ${SHAPE_NAMES[reading.shape]}.`);

  const phases: (string | undefined)[] = [];
  for (const t of spec.tasks) if (!phases.includes(t.phase)) phases.push(t.phase);
  for (const phase of phases) {
    println(io);
    if (phase !== undefined || phases.length > 1) println(io, p.bold(phase ?? '(no phase)'));
    const rows: Cell[][] = spec.tasks
      .filter((t) => t.phase === phase)
      .map((t) => {
        const applied = byKey.get(t.key);
        const id = applied?.id === undefined ? (t.done ? 'new, done' : 'new') : `#${applied.id}`;
        const extras = [
          t.priority === undefined ? '' : `!${t.priority}`,
          t.estimate === undefined ? '' : `~${formatDuration(t.estimate * 1000)}`,
          ...(t.labels ?? []).map((l) => `#${l}`),
        ].filter((x) => x !== '');
        const subject = `${'  '.repeat(depth(t.key))}${t.subject}${extras.length > 0 ? `  ${extras.join(' ')}` : ''}`;
        const waits = (blockers.get(t.key) ?? []).map((k) => String(number.get(k))).join(', ');
        return [
          { text: String(number.get(t.key)), paint: p.bold },
          { text: t.key, paint: p.cyan },
          { text: id, paint: applied?.id === undefined ? p.green : p.dim },
          { text: subject },
          { text: waits === '' ? '-' : waits, paint: waits === '' ? p.dim : p.yellow },
        ];
      });
    println(io, formatTable(['N', 'KEY', 'TASK', 'SUBJECT', 'WAITS FOR'], rows, { p }));
  }
  println(io);
  println(
    io,
    `${p.bold('Creation order:')} ${planOrder(spec)
      .map((k) => number.get(k))
      .join(' ')}`,
  );
  const checks = spec.tasks.filter((t) => t.verify !== undefined);
  if (checks.length > 0) {
    println(io, p.bold('Checks:'));
    for (const t of checks) println(io, `  ${number.get(t.key)} ${oneLine(t.key)}: ${oneLine(t.verify as string)}`);
  }
  if (reading.skipped.length > 0) {
    println(io, p.bold('Skipped:'));
    for (const s of reading.skipped) println(io, `  line ${s.line} ${oneLine(JSON.stringify(s.heading))}: ${s.reason}`);
  }
  if (reading.ambiguities.length > 0) {
    println(io, p.bold(p.yellow('Ambiguous:')));
    for (const amb of reading.ambiguities) {
      println(io, `  ${amb.line === undefined ? '' : `line ${amb.line}: `}${oneLine(amb.message)}`);
    }
    println(
      io,
      chosen
        ? 'A real run follows the reading above, without the references that name nothing.'
        : p.yellow(
            'A real run refuses this plan: say how to read it with --phases or --steps, fix the reference, or use --agent.',
          ),
    );
  }
  const wouldCreate = result.tasks.filter((t) => t.action === 'would-create').length;
  const exist = result.tasks.length - wouldCreate;
  const newEdges = result.edges.filter((e) => e.added).length;
  println(
    io,
    `Would create ${wouldCreate} task${wouldCreate === 1 ? '' : 's'} in list ${list}` +
      (exist > 0 ? ` (${exist} already exist from an earlier run)` : '') +
      ` and add ${newEdges} dependenc${newEdges === 1 ? 'y' : 'ies'}.`,
  );
  printStale(ctx, result);
}

function printApplied(ctx: Context, result: ApplyResult, list: string): void {
  const { io, p } = ctx;
  const added = result.edges.filter((e) => e.added).length;
  const n = result.created.length;
  println(
    io,
    `${n === 0 ? 'Created no tasks' : `Created ${n} task${n === 1 ? '' : 's'}`} from ${result.source} in list ${list}` +
      `, ${result.existing.length} already existed; added ${added} dependenc${added === 1 ? 'y' : 'ies'}.`,
  );
  const rows: Cell[][] = result.tasks.map((t) => [
    { text: `#${t.id}`, paint: p.bold },
    { text: t.action, paint: t.action === 'created' ? p.green : p.dim },
    { text: t.key, paint: p.cyan },
    { text: t.subject },
  ]);
  println(io, formatTable(['ID', 'ACTION', 'KEY', 'SUBJECT'], rows, { p }));
  printStale(ctx, result);
}

function printStale(ctx: Context, result: ApplyResult): void {
  if (result.stale.length === 0) return;
  const names = result.stale.map((t) => `#${t.id} ${oneLine(JSON.stringify(t.subject))}`).join(', ');
  ctx.io.stderr.write(
    `tasklane: note: ${result.stale.length} task${result.stale.length === 1 ? '' : 's'} made from an earlier version of this plan ${result.stale.length === 1 ? 'is' : 'are'} no longer in it and ${result.stale.length === 1 ? 'was' : 'were'} left as ${result.stale.length === 1 ? 'it is' : 'they are'}: ${names}\n`,
  );
}
