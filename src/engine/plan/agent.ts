import { spawn } from 'node:child_process';
import { formatDuration, isTasklaneError, TasklaneError } from '../../model/index.js';
import { type AgentChoice, invocation, resolveAgent } from '../agents.js';
import { type PlanSpec, parsePlanSpec } from './spec.js';

// `tasklane plan --agent`: an agent turns a free-form plan into a PlanSpec, written as JSON.
// The answer is validated exactly like a JSON plan file before anything is written.

export interface AgentPlanOptions {
  /** --agent=CMD; else TASKLANE_AGENT, CLAUDE_CODE, then `claude` (see engine/agents.ts). */
  agent?: string;
  /** Names the plan in the prompt and in errors. */
  file: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Default 10 minutes: a planning agent reads the whole plan and may think for a while. */
  timeoutMs?: number;
  /** Aborting ends the agent's whole process group. */
  signal?: AbortSignal;
}

export interface AgentPlan {
  spec: PlanSpec;
  agent: AgentChoice;
  /** The agent's raw answer, for --dry-run output and debugging. */
  answer: string;
}

export const DEFAULT_AGENT_TIMEOUT_MS = 10 * 60_000;

/** The prompt: the PlanSpec shape, the rules that matter, then the plan itself. */
export function planPrompt(text: string, file: string): string {
  return `Turn the plan below into a task graph for a dependency-aware task list.

Answer with ONLY a JSON object, no prose and no code fence, of this shape:
{
  "title": "short title of the plan",
  "tasks": [
    {
      "key": "design-api",            // required: short, unique, lowercase-kebab-case
      "subject": "Design the REST API", // required: imperative, one line
      "description": "What done means, files, commands, acceptance checks", // optional
      "phase": "Design",              // optional grouping
      "after": ["write-schema"],       // keys of tasks that must be completed before this one starts
      "parent": "build-backend",       // optional: key of the task this is a subtask of; a parent
                                       // waits for all its subtasks, so a subtask must not list its parent in "after"
      "priority": 1,                   // optional integer, higher runs first
      "estimate": 1800,                // optional expected duration in seconds
      "labels": ["backend"]            // optional
    }
  ]
}
Rules:
- Every key in "after" and "parent" must be the key of another task in the list. No cycles.
- Only add a dependency when the later task truly needs the earlier one's result: tasks without
  dependencies between them run in parallel.
- Each task must be doable by one coding agent in one session; split larger work into subtasks.
- Keep the plan's own wording for subjects where it has any; do not invent work the plan does not ask for.
- No other fields than those above.

The plan (${file}):
-----
${text}
-----
`;
}

/** Runs the agent on the plan and returns its graph, validated. Throws INVALID_INPUT naming the problem. */
export async function planWithAgent(text: string, opts: AgentPlanOptions): Promise<AgentPlan> {
  const resolved = resolveAgent({
    env: opts.env,
    cwd: opts.cwd,
    ...(opts.agent === undefined ? {} : { agent: opts.agent }),
    simIfMissing: true, // only to tell this case apart, with its own message: a simulation cannot write a plan
  });
  if (resolved.choice.preset === 'sim') {
    throw new TasklaneError(
      'USAGE',
      'no agent to write the plan: claude is not installed; name one with --agent=CMD or TASKLANE_AGENT',
      { field: '--agent' },
    );
  }
  const call = invocation(resolved.choice, planPrompt(text, opts.file), { dangerouslySkipPermissions: false });
  const run = await runOnce(call.argv, call.stdin, opts);
  const who = call.argv[0] as string;
  if (run.code !== 0) {
    throw new TasklaneError(
      'IO',
      `the agent (${who}) ${run.signal !== null ? `was killed by ${run.signal}` : `exited with status ${run.code}`}; nothing was written${tail(run.stderr)}`,
      { file: opts.file, field: '--agent' },
    );
  }
  const output = call.parseOutput(run.stdout);
  if (output.isError === true) {
    throw new TasklaneError('IO', `the agent (${who}) reported an error: ${snippet(output.result ?? run.stdout)}`, {
      file: opts.file,
      field: '--agent',
    });
  }
  const answer = output.result ?? run.stdout;
  const source = `${opts.file} (agent answer)`;
  const value = extractJson(answer);
  if (value === undefined) {
    throw new TasklaneError(
      'INVALID_INPUT',
      `${source}: the agent's answer holds no JSON plan; nothing was written. It began: ${snippet(answer)}`,
      { file: opts.file, field: '--agent' },
    );
  }
  try {
    const spec = parsePlanSpec(value, { file: source });
    // A check is a command the executor runs: only a person chooses one, never an agent's answer.
    const checked = spec.tasks.find((t) => t.verify !== undefined);
    if (checked !== undefined) {
      throw new TasklaneError(
        'INVALID_INPUT',
        `${source}: task ${JSON.stringify(checked.key)} sets verify, a command the executor would run; an agent's plan may not (add a check yourself: tasklane update ID --verify CMD)`,
        { file: opts.file, field: 'verify' },
      );
    }
    return { spec, agent: resolved.choice, answer };
  } catch (err) {
    if (!isTasklaneError(err)) throw err;
    const details = {
      cause: err,
      ...(err.file === undefined ? {} : { file: err.file }),
      ...(err.field === undefined ? {} : { field: err.field }),
      ...(err.cycle === undefined ? {} : { cycle: err.cycle }),
    };
    throw new TasklaneError(err.code, `${err.message}; nothing was written`, details);
  }
}

/**
 * The JSON in an agent's answer: the whole answer, else the first ```json (or ```) fenced block,
 * else the text from the first `{` to the last `}`. Undefined when none parses.
 */
export function extractJson(answer: string): unknown {
  const attempts: string[] = [answer.trim()];
  const fenced = /```(?:json|JSON)?[ \t]*\r?\n([\s\S]*?)\r?\n[ \t]*```/.exec(answer);
  if (fenced) attempts.push((fenced[1] as string).trim());
  const first = answer.indexOf('{');
  const last = answer.lastIndexOf('}');
  if (first >= 0 && last > first) attempts.push(answer.slice(first, last + 1));
  for (const text of attempts) {
    try {
      const value: unknown = JSON.parse(text);
      // A stand-in agent that echoes Claude Code's result object straight through.
      if (
        value !== null &&
        typeof value === 'object' &&
        !Array.isArray(value) &&
        (value as { type?: unknown }).type === 'result'
      ) {
        const inner = (value as { result?: unknown }).result;
        return typeof inner === 'string' ? extractJson(inner) : undefined;
      }
      return value;
    } catch {}
  }
  return undefined;
}

interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * One agent process: argument vector (no shell), prompt on stdin, output collected. It runs in its
 * own process group so a timeout or an abort (the CLI aborts on Ctrl-C) ends the agent and
 * everything it started.
 */
function runOnce(argv: string[], input: string, opts: AgentPlanOptions): Promise<RunOutcome> {
  return new Promise((resolvePromise, rejectPromise) => {
    const [program, ...args] = argv as [string, ...string[]];
    const child = spawn(program, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => {
      // Keep the last 64 KiB of stderr: enough to explain a failure, bounded if the agent is chatty.
      stderr.push(b);
      stderrBytes += b.length;
      while (stderrBytes > 65_536 && stderr.length > 1) stderrBytes -= (stderr.shift() as Buffer).length;
    });
    child.stdin.on('error', () => {}); // an agent that exits without reading its prompt
    child.stdin.end(input);

    let why: string | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {}
    };
    const stop = (reason: string) => {
      if (why !== undefined) return;
      why = reason;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 5_000).unref();
    };
    const timeoutMs = opts.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    const timer = setTimeout(() => stop(`timed out after ${formatDuration(timeoutMs)}`), timeoutMs);
    const onAbort = () => stop('was interrupted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      rejectPromise(
        new TasklaneError(
          'USAGE',
          `cannot run the agent ${JSON.stringify(program)}: ${err.code === 'ENOENT' ? 'not found' : err.message}`,
          {
            field: '--agent',
            cause: err,
          },
        ),
      );
    });
    child.on('close', (code, signal) => {
      cleanup();
      if (why !== undefined) {
        rejectPromise(
          new TasklaneError('IO', `the agent (${program}) ${why}; nothing was written`, { field: '--agent' }),
        );
        return;
      }
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

function snippet(text: string): string {
  const one = text.trim().replace(/\s+/g, ' ');
  return JSON.stringify(one.length > 300 ? `${one.slice(0, 300)}…` : one);
}

function tail(stderr: string): string {
  const lines = stderr.trim().split('\n').slice(-5).join('\n');
  return lines === '' ? '' : `; its stderr ends:\n${lines}`;
}
