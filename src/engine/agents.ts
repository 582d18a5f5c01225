import { accessSync, constants, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TasklaneError } from '../model/index.js';
import { AGENT_LIST_TOOLS, mcpToolName } from './claude-mcp.js';
import type { SimPlan } from './sim.js';

// Which program runs a task and exactly what it is given: the agent command (--agent, else
// TASKLANE_AGENT, else CLAUDE_CODE, else `claude`), its preset, the argument vector, the prompt
// on standard input, and how its output is read back (result text, tokens, cost).
// Every agent is spawned with an argument vector, never through a shell.

export const PRESETS = ['claude', 'codex', 'gemini', 'stdin', 'sim'] as const;
export type PresetName = (typeof PRESETS)[number];

export interface AgentChoice {
  /** The agent command as words (no shell): e.g. ["claude"] or ["node", "my-agent.js", "--fast"]. */
  command: string[];
  preset: PresetName;
  /** Where the command came from, for messages and docs. */
  source: 'flag' | 'TASKLANE_AGENT' | 'CLAUDE_CODE' | 'default' | 'preset' | 'fallback' | 'task';
}

export interface AgentOptions {
  /** Pass the preset's "skip permission prompts" flag. Only when the user asks for it explicitly. */
  dangerouslySkipPermissions: boolean;
  /** Claude Code's --permission-mode (claude preset only). Undefined: Claude Code's own default. */
  permissionMode?: PermissionMode;
  /** claude preset: stream events as it works (stream-json), for a live view. The executor sets it; a one-shot caller (plan --agent) need not. */
  stream?: boolean;
  /**
   * claude preset: a --mcp-config file serving the run's list (claude-mcp.ts); its list tools are
   * then allowed with --allowedTools. The executor sets it; without it no MCP flag is passed.
   */
  mcpConfig?: string;
}

/**
 * Claude Code's permission modes that `--permission-mode` passes on (Claude Code 2.1.197+).
 * bypassPermissions is left out on purpose: that is --dangerously-skip-permissions, by its name.
 */
export const PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'auto', 'dontAsk'] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

/** What an agent's output said, as far as its format tells. */
export interface AgentOutput {
  /** The agent's final answer, when the format carries one. Otherwise the caller uses stdout. */
  result?: string;
  /** The agent reported that it failed (Claude Code's is_error, Gemini's error). */
  isError?: boolean;
  inputTokens?: number;
  outputTokens?: number;
  /** Cache reads and writes, when the agent reports them (Claude Code). */
  cacheTokens?: number;
  costUsd?: number;
  sessionId?: string;
}

export interface AgentInvocation {
  preset: PresetName;
  argv: string[];
  /** Written to the agent's standard input, then closed. */
  stdin: string;
  parseOutput(stdout: string): AgentOutput;
  /** For agents that stream events on stdout, one line at a time: a fresh reader for one run. */
  stream?: () => StreamReader;
}

/** Reads an agent's event stream as it comes. */
export interface StreamReader {
  /** Takes one stdout line; returns what the agent is doing now, for the live view, if the line says. */
  line(text: string): string | undefined;
  /** What the stream said in the end (its final result event). */
  output(): AgentOutput;
}

/** The standalone simulated agent program (usable as any list's --agent), next to this file once compiled. */
export const SIM_AGENT_PATH = fileURLToPath(new URL('./sim-agent.js', import.meta.url));

/**
 * The sim preset's agent: a constant shell script, so a simulated task costs a few milliseconds
 * of CPU rather than a Node start-up (which, at -j 8 on two cores, would distort the durations).
 * Its inputs are arguments ($1 seconds, $2 exit status, $3 result text, $4 task id), never part
 * of the script. It behaves as sim-agent.js does; both follow sim.ts.
 */
export const SIM_SCRIPT = [
  'echo "sim: working on #$4"',
  'sleep "$1"',
  'if [ "$2" != 0 ]; then echo "sim: simulated failure of #$4" >&2; exit "$2"; fi',
  'printf \'%s\\n\' "$3" > "$TASKLANE_RESULT_FILE"',
  'echo "sim: done with #$4"',
].join('\n');

/** Splits a command line into words like a shell would, without expanding anything: quotes and backslashes only. */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) {
    throw new TasklaneError('USAGE', `agent command ${JSON.stringify(text)} has an unclosed ${quote} quote`, {
      field: '--agent',
    });
  }
  if (inWord) words.push(word);
  return words;
}

/** The preset a command implies by its program name: claude, codex and gemini are known; anything else reads stdin. */
export function presetFor(command: string[]): PresetName {
  const name = basename(command[0] ?? '').replace(/\.(exe|cmd|js|mjs)$/i, '');
  if (name === 'claude') return 'claude';
  if (name === 'codex') return 'codex';
  if (name === 'gemini') return 'gemini';
  return 'stdin';
}

export interface ResolveInput {
  /** --agent */
  agent?: string;
  /** --preset */
  preset?: PresetName;
  /** When the default `claude` is not installed, run the simulated agent instead of refusing. */
  simIfMissing?: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Resolved {
  choice: AgentChoice;
  /** Set when the default agent is not installed and the simulated agent stands in: one line for stderr. */
  notice?: string;
}

/**
 * Resolves the agent for a run. A command that is not installed is an error, the default
 * `claude` included: a run that quietly completed real tasks with simulated results would be
 * worse than no run. With `simIfMissing`, a missing default `claude` falls back to the simulated
 * agent with a notice.
 */
export function resolveAgent(input: ResolveInput): Resolved {
  if (input.preset === 'sim') return { choice: { command: simCommand(), preset: 'sim', source: 'preset' } };
  const nonEmpty = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';
  let text: string;
  let source: AgentChoice['source'];
  if (nonEmpty(input.agent)) [text, source] = [input.agent, 'flag'];
  else if (nonEmpty(input.env.TASKLANE_AGENT)) [text, source] = [input.env.TASKLANE_AGENT, 'TASKLANE_AGENT'];
  else if (nonEmpty(input.env.CLAUDE_CODE)) [text, source] = [input.env.CLAUDE_CODE, 'CLAUDE_CODE'];
  else if (input.preset !== undefined && input.preset !== 'stdin') [text, source] = [input.preset, 'preset'];
  else [text, source] = ['claude', 'default'];
  const command = splitCommand(text);
  if (command.length === 0) {
    throw new TasklaneError('USAGE', `the agent command from ${sourceName(source)} is empty`, { field: '--agent' });
  }
  const preset = input.preset ?? presetFor(command);
  if (findExecutable(command[0] as string, input.env, input.cwd) === undefined) {
    if (source === 'default' && input.simIfMissing === true) {
      return {
        choice: { command: simCommand(), preset: 'sim', source: 'fallback' },
        notice: `${command[0]} is not installed; running the simulated agent instead (choose one with --agent or --preset)`,
      };
    }
    const hint =
      source === 'default'
        ? '; install Claude Code, name another agent with --agent or TASKLANE_AGENT, or run simulated agents with --preset sim'
        : '';
    throw new TasklaneError(
      'USAGE',
      `the agent command ${JSON.stringify(command[0])} (from ${sourceName(source)}) is not installed or not executable${hint}`,
      { field: '--agent' },
    );
  }
  return { choice: { command, preset, source } };
}

/**
 * The agent for one task. A task may name a preset in metadata.agent (plans write `(agent: codex)`);
 * it is honoured unless the run is simulated. Returns undefined for a name that is not a preset.
 */
export function agentForTask(run: AgentChoice, taskAgent: unknown): AgentChoice | undefined {
  if (typeof taskAgent !== 'string' || taskAgent === '' || run.preset === 'sim') return run;
  if (!(PRESETS as readonly string[]).includes(taskAgent)) return undefined;
  const preset = taskAgent as PresetName;
  if (preset === run.preset) return run;
  if (preset === 'sim') return { command: simCommand(), preset, source: 'task' };
  if (preset === 'stdin') return { ...run, preset, source: 'task' };
  return { command: [preset], preset, source: 'task' };
}

/** The argument vector, standard input and output reader for one run of an agent. `sim` is the simulated run's plan. */
export function invocation(
  choice: AgentChoice,
  prompt: string,
  opts: AgentOptions,
  sim?: SimPlan & { id: string },
): AgentInvocation {
  const skip = opts.dangerouslySkipPermissions;
  switch (choice.preset) {
    case 'claude':
      // -p prints and exits; the prompt comes on stdin (no argv length limit, nothing in `ps`).
      // stream-json (which -p requires --verbose for) prints one event a line as the agent works,
      // so the live view shows its latest action instead of nothing until the end.
      return {
        preset: 'claude',
        argv: [
          ...choice.command,
          '-p',
          '--output-format',
          ...(opts.stream === true ? ['stream-json', '--verbose'] : ['json']),
          ...(opts.permissionMode === undefined ? [] : ['--permission-mode', opts.permissionMode]),
          ...(skip ? ['--dangerously-skip-permissions'] : []),
          ...(opts.mcpConfig === undefined ? [] : claudeMcpArgs(opts.mcpConfig)),
        ],
        stdin: prompt,
        parseOutput: parseClaudeOutput,
        ...(opts.stream === true ? { stream: claudeStreamReader } : {}),
      };
    case 'codex': {
      // `codex exec -` reads the prompt from stdin and prints only the final message on stdout.
      const base = choice.command.includes('exec') ? choice.command : [...choice.command, 'exec'];
      return {
        preset: 'codex',
        argv: [...base, ...(skip ? ['--dangerously-bypass-approvals-and-sandbox'] : []), '-'],
        stdin: prompt,
        parseOutput: (stdout) => ({ result: stdout.trim() }),
      };
    }
    case 'gemini':
      // Headless: -p is appended to what comes on stdin; JSON output carries the answer and token counts.
      return {
        preset: 'gemini',
        argv: [
          ...choice.command,
          '--output-format',
          'json',
          ...(skip ? ['--yolo'] : []),
          '-p',
          'Carry out the task described above.',
        ],
        stdin: prompt,
        parseOutput: parseGeminiOutput,
      };
    case 'sim':
      if (sim !== undefined) {
        return {
          preset: 'sim',
          argv: [...choice.command, (sim.ms / 1000).toFixed(3), sim.fail ? '1' : '0', sim.output, sim.id],
          stdin: prompt,
          parseOutput: (stdout) => ({ result: stdout.trim() }),
        };
      }
      return {
        preset: 'sim',
        argv: [process.execPath, SIM_AGENT_PATH],
        stdin: prompt,
        parseOutput: (stdout) => ({ result: stdout.trim() }),
      };
    case 'stdin':
      return {
        preset: choice.preset,
        argv: [...choice.command],
        stdin: prompt,
        parseOutput: (stdout) => ({ result: stdout.trim() }),
      };
  }
}

/**
 * The run's list for Claude Code: the MCP config, and its list tools allowed, since `claude -p`
 * refuses an MCP tool it would have to ask for ("you haven't granted it yet"). Written with `=`:
 * both options take several values, so a separate word after them would be read as one more.
 * No --strict-mcp-config: the user's own servers stay, and a server of theirs also named
 * "tasklane" (user, project or local scope) is overridden by this one (Claude Code 2.1.197 and
 * 2.1.332, test/engine-claude-mcp.test.ts).
 */
export function claudeMcpArgs(configPath: string): string[] {
  return [`--mcp-config=${configPath}`, `--allowedTools=${AGENT_LIST_TOOLS.map(mcpToolName).join(',')}`];
}

/**
 * Claude Code's `--output-format json`: one result object (or, with --verbose, an array ending in
 * one); also a whole `stream-json` output, whose last `result` event counts.
 */
export function parseClaudeOutput(stdout: string): AgentOutput {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const event = parseJsonLoose(lines[i] as string);
    if (isRecord(event) && event.type === 'result') return claudeResult(event);
  }
  const value = parseJsonLoose(stdout);
  const obj = Array.isArray(value)
    ? [...value].reverse().find((m) => isRecord(m) && m.type === 'result')
    : isRecord(value)
      ? value
      : undefined;
  if (!isRecord(obj)) return { result: stdout.trim() };
  return claudeResult(obj);
}

/**
 * Claude Code's `--output-format stream-json --verbose`, event by event: `system/init`, then
 * `assistant` messages (text and tool_use blocks), `user` messages carrying tool results, and a
 * final `result` event with is_error, result, usage, total_cost_usd and session_id.
 */
export function claudeStreamReader(): StreamReader {
  let final: Record<string, unknown> | undefined;
  let lastText: string | undefined;
  let sessionId: string | undefined;
  return {
    line(text) {
      const trimmed = text.trim();
      if (!trimmed.startsWith('{')) return trimmed === '' ? undefined : oneLine(trimmed);
      let event: unknown;
      try {
        event = JSON.parse(trimmed);
      } catch {
        return oneLine(trimmed);
      }
      if (!isRecord(event)) return undefined;
      if (typeof event.session_id === 'string') sessionId = event.session_id;
      switch (event.type) {
        case 'system':
          return event.subtype === 'init' ? 'started' : undefined;
        case 'assistant': {
          const content = isRecord(event.message) ? event.message.content : undefined;
          if (!Array.isArray(content)) return undefined;
          let activity: string | undefined;
          for (const block of content) {
            if (!isRecord(block)) continue;
            if (block.type === 'tool_use' && typeof block.name === 'string') {
              activity = describeToolUse(block.name, block.input);
            } else if (block.type === 'text' && typeof block.text === 'string' && block.text.trim() !== '') {
              lastText = block.text;
              activity = oneLine(block.text);
            }
          }
          return activity;
        }
        case 'user': {
          const content = isRecord(event.message) ? event.message.content : undefined;
          if (!Array.isArray(content)) return undefined;
          const failed = content.some((b) => isRecord(b) && b.type === 'tool_result' && b.is_error === true);
          return failed ? 'a tool call failed' : undefined;
        }
        case 'result':
          final = event;
          return event.is_error === true
            ? `error: ${oneLine(String(event.result ?? event.subtype ?? ''))}`
            : 'finished';
        default:
          return undefined;
      }
    },
    output() {
      if (final !== undefined) return claudeResult(final);
      // No final event (killed, crashed): what it last said, and its session to resume.
      const out: AgentOutput = { result: lastText?.trim() ?? '' };
      if (sessionId !== undefined) out.sessionId = sessionId;
      return out;
    },
  };
}

/** "Edit src/api.ts", "Bash npm test": a tool and its target, on one line. */
export function describeToolUse(name: string, input: unknown): string {
  const i = isRecord(input) ? input : {};
  const target = [
    i.file_path,
    i.notebook_path,
    i.path,
    i.command,
    i.pattern,
    i.url,
    i.query,
    i.description,
    i.subject,
  ].find((v): v is string => typeof v === 'string' && v.trim() !== '');
  const taskId = typeof i.taskId === 'string' ? `#${i.taskId}` : undefined;
  return oneLine([name, target ?? taskId].filter((x) => x !== undefined).join(' '));
}

/** First line, control characters out, cut at 200 characters: agent text is shown as data, never as terminal control. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const line = (text.trim().split('\n')[0] ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** A `result` object of Claude Code's JSON outputs. */
function claudeResult(obj: Record<string, unknown>): AgentOutput {
  const out: AgentOutput = {};
  if (typeof obj.result === 'string') out.result = obj.result;
  if (obj.is_error === true || (typeof obj.subtype === 'string' && obj.subtype.startsWith('error'))) {
    out.isError = true;
  }
  const cost = num(obj.total_cost_usd) ?? num(obj.cost_usd);
  if (cost !== undefined) out.costUsd = cost;
  if (typeof obj.session_id === 'string') out.sessionId = obj.session_id;
  const usage = obj.usage;
  if (isRecord(usage)) {
    const input = num(usage.input_tokens);
    const output = num(usage.output_tokens);
    const cache = (num(usage.cache_creation_input_tokens) ?? 0) + (num(usage.cache_read_input_tokens) ?? 0);
    if (input !== undefined) out.inputTokens = input;
    if (output !== undefined) out.outputTokens = output;
    if (cache > 0) out.cacheTokens = cache;
  }
  return out;
}

/** Gemini CLI's `--output-format json`: {response, stats, error?}. */
export function parseGeminiOutput(stdout: string): AgentOutput {
  const obj = parseJsonLoose(stdout);
  if (!isRecord(obj)) return { result: stdout.trim() };
  const out: AgentOutput = {};
  if (typeof obj.response === 'string') out.result = obj.response;
  if (obj.error !== undefined && obj.error !== null) out.isError = true;
  const stats = obj.stats;
  if (isRecord(stats)) {
    let input = num(stats.inputTokens);
    let output = num(stats.outputTokens);
    if (isRecord(stats.models)) {
      for (const model of Object.values(stats.models)) {
        const tokens = isRecord(model) ? model.tokens : undefined;
        if (!isRecord(tokens)) continue;
        input = (input ?? 0) + (num(tokens.prompt) ?? 0);
        output = (output ?? 0) + (num(tokens.candidates) ?? 0);
      }
    }
    if (input !== undefined) out.inputTokens = input;
    if (output !== undefined) out.outputTokens = output;
  }
  return out;
}

/** The program's path if it can be run: a path is checked as given, a bare name searched on PATH. */
export function findExecutable(program: string, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const candidates = program.includes('/')
    ? [isAbsolute(program) ? program : resolve(cwd, program)]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, program));
  for (const path of candidates) {
    try {
      if (!statSync(path).isFile()) continue;
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

function simCommand(): string[] {
  return ['/bin/sh', '-c', SIM_SCRIPT, 'tasklane-sim'];
}

function sourceName(source: AgentChoice['source']): string {
  return source === 'flag' ? '--agent' : source === 'default' ? 'the default' : source;
}

function parseJsonLoose(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {}
  // Something printed before the JSON (a warning): take the last line that parses.
  const lines = trimmed.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string).trim();
    if (!line.startsWith('{') && !line.startsWith('[')) continue;
    try {
      return JSON.parse(line);
    } catch {}
  }
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
