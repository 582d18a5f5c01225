import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AgentChoice } from '../engine/agents.js';
import { PERMISSION_MODES, type PermissionMode, PRESETS, type PresetName, resolveAgent } from '../engine/agents.js';
import { writeMcpConfig } from '../engine/claude-mcp.js';
import type { EngineEvents } from '../engine/events.js';
import { MIN_LOG_MAX_BYTES } from '../engine/log-file.js';
import { DEFAULT_TEMPLATE, loadTemplate } from '../engine/prompt.js';
import type { BackoffOptions } from '../engine/retries.js';
import { sessionName } from '../engine/tmux.js';
import type { ExecConfig } from '../engine/worker.js';
import { CONFLICT_POLICIES, type ConflictPolicy } from '../engine/worktree.js';
import { checkVerify, TasklaneError } from '../model/index.js';
import { openStore } from '../store/open.js';
import type { TaskStore } from '../store/types.js';
import type { Args, OptionSpecs } from './args.js';
import { locationOf } from './context.js';
import type { CommandIO } from './registry.js';

// The options `tasklane run` and `tasklane worker` share (which agent, how long, how often to
// retry, where logs go), parsed into the engine's configuration in one place.

export const EXECUTOR_OPTIONS: OptionSpecs = {
  jobs: { type: 'string', short: 'j' },
  agent: { type: 'string' },
  preset: { type: 'string' },
  'sim-if-missing': { type: 'boolean' },
  'dangerously-skip-permissions': { type: 'boolean' },
  'permission-mode': { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  'retry-delay': { type: 'string' },
  lease: { type: 'string' },
  grace: { type: 'string' },
  'prompt-template': { type: 'string' },
  tmux: { type: 'boolean' },
  worktree: { type: 'boolean' },
  'on-conflict': { type: 'string' },
  logs: { type: 'string' },
  'log-max': { type: 'string' },
  verify: { type: 'string' },
};

export const EXECUTOR_HELP = `Agent:
  --agent CMD                the agent command, split into words like a shell would (no expansion);
                             default: $TASKLANE_AGENT, else $CLAUDE_CODE, else 'claude'. An agent
                             that is not installed is an error (exit 2) before anything runs.
  --preset NAME              how the agent is called: claude, codex, gemini, stdin or sim (default:
                             from the command's name; anything unknown is 'stdin'). 'sim' runs the
                             simulated agent for every task, whatever --agent says.
  --sim-if-missing           if the default 'claude' is not installed, run the simulated agent
                             instead of refusing
  --permission-mode MODE     claude preset: what Claude Code may do without asking (its --permission-mode):
                               default      read files only (claude -p then cannot edit anything)
                               acceptEdits  also edit files in its working directory, and mkdir, touch,
                                            mv, cp; other commands are refused
                               plan         read and plan; no edits
                               auto         everything, each action checked by Claude Code's classifier
                                            (plans that offer it)
                               dontAsk      only tools pre-approved in Claude Code's settings
                             (default: none passed, so Claude Code's own settings decide)
  --dangerously-skip-permissions
                             let the agent act without asking (claude: --dangerously-skip-permissions,
                             codex: --dangerously-bypass-approvals-and-sandbox, gemini: --yolo).
                             Never on unless given.
  --prompt-template FILE     the prompt, with {{id}} {{subject}} {{description}} {{check}} {{blockers}}
                             {{list}} {{resultFile}} {{listTools}} placeholders (default: the
                             built-in one, docs/executor.md)

Running:
  --timeout DURATION         kill an agent that runs longer (seconds, or 90s, 15m, 2h; default: none)
  --retries N                run a failed task again up to N times (default 0), after a capped,
                             jittered backoff
  --retry-delay DURATION     the first backoff; it doubles each retry, capped at 30 s (default 1s)
  --lease DURATION           claim lease, heartbeated at a third of it while the agent runs; a task
                             whose holder died is run again when it expires (default 60s)
  --grace DURATION           between SIGTERM and SIGKILL when an agent is stopped (default 5s)
  --verify CMD               check each task without its own check (create --verify) after its agent
                             exits 0: CMD runs with /bin/sh -c in the task's working directory, under
                             --timeout; non-zero fails the attempt and its output goes into the next
                             attempt's prompt. CMD is yours, run as you wrote it; a task's own check
                             wins (docs/executor.md, "Checked completion")
  --logs DIR                 where the per-task logs go (default the list's run artifacts,
                             <root>/.tasklane/<list>/logs; see docs/cli.md)
  --log-max SIZE             the most one task log holds (bytes, or 512K, 8M, 1G; default 8M, at
                             least 4K): past it the log is renamed <id>.log.1, replacing the one
                             before, and a new one starts, so a task's logs never pass twice SIZE
                             and the newest output is always kept
  --tmux                     run each agent in a window of the tmux session tasklane-<list>
                             (attach with: tmux attach -t tasklane-<list>); output is still logged
  --worktree                 run each task in its own git worktree and branch tasklane/<list>/<id>,
                             under .tasklane/worktrees/ of the repository, started from its blockers'
                             branches (merged when several); what the agent leaves uncommitted is
                             committed when it succeeds; run ends with the integration branch
                             tasklane/<list>/run-<UTC stamp> holding all completed work. Remove the
                             worktrees with 'tasklane worktree prune' (docs/executor.md)
  --on-conflict POLICY       with --worktree, when merging a task's blockers conflicts (default agent):
                               agent  hand the conflicted tree to the agent, the files named in its prompt
                               fail   fail the task, naming the files`;

export interface ExecutorSetup {
  config: ExecConfig;
  retries: number;
  backoff: BackoffOptions;
  /** A one-line notice for stderr (the simulated agent standing in for a missing one). */
  notice?: string;
  agent: AgentChoice;
  slots: number;
}

export function executorSetup(io: CommandIO, args: Args, events: EngineEvents, defaultSlots: number): ExecutorSetup {
  const slots = args.int('jobs', { min: 1 }) ?? defaultSlots;
  const preset = args.choice<PresetName>('preset', PRESETS);
  const resolved = resolveAgent({
    ...(args.string('agent') === undefined ? {} : { agent: args.string('agent') as string }),
    ...(preset === undefined ? {} : { preset }),
    simIfMissing: args.flag('sim-if-missing'),
    env: io.env,
    cwd: io.cwd,
  });
  const templatePath = args.string('prompt-template');
  const template = templatePath === undefined ? DEFAULT_TEMPLATE : loadTemplate(resolve(io.cwd, templatePath));
  const store = openStore(locationOf(io, args.globals), {
    onWarning: (message) => events.emit({ type: 'warning', message }),
  });
  const runDir = store.artifactsDir;
  const logs = args.string('logs');
  const timeout = args.seconds('timeout');
  const config: ExecConfig = {
    store,
    runDir,
    logsDir: logs === undefined ? join(runDir, 'logs') : resolve(io.cwd, logs),
    ...logMaxOf(args),
    agent: resolved.choice,
    agentOptions: {
      dangerouslySkipPermissions: args.flag('dangerously-skip-permissions'),
      ...permissionModeOf(args),
      stream: true,
      ...listServerFor(resolved.choice, store, runDir),
    },
    template,
    cwd: io.cwd,
    env: io.env,
    leaseMs: Math.round((args.seconds('lease') ?? 60) * 1000),
    ...(timeout === undefined ? {} : { timeoutMs: Math.round(timeout * 1000) }),
    graceMs: Math.round((args.seconds('grace') ?? 5) * 1000),
    ...(args.flag('tmux') ? { tmuxSession: sessionName(store.listId) } : {}),
    worktree: args.flag('worktree'),
    onConflict: args.choice<ConflictPolicy>('on-conflict', CONFLICT_POLICIES) ?? 'agent',
    events,
    binDir: selfOnPath(runDir),
    ...verifyOf(args),
  };
  return {
    config,
    retries: args.int('retries', { min: 0 }) ?? 0,
    backoff: { baseMs: Math.round((args.seconds('retry-delay') ?? 1) * 1000), capMs: 30_000 },
    ...(resolved.notice === undefined ? {} : { notice: resolved.notice }),
    agent: resolved.choice,
    slots,
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** --log-max: bytes, or with a binary unit (K, M, G; KiB, MiB, GiB and KB, MB, GB read the same). */
function logMaxOf(args: Args): { logMaxBytes?: number } {
  const s = args.string('log-max');
  if (s === undefined) return {};
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([kmg]?)(?:i?b)?\s*$/i.exec(s);
  const n = m === null ? Number.NaN : Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? Number.NaN));
  if (!Number.isSafeInteger(n) || n < MIN_LOG_MAX_BYTES) {
    throw new TasklaneError(
      'USAGE',
      `--log-max must be a size of at least 4K (bytes, or with K, M or G: 512K, 8M); got ${JSON.stringify(s)}`,
      { field: '--log-max' },
    );
  }
  return { logMaxBytes: n };
}

/** --verify, checked by the model's rule for a task's own check. */
function verifyOf(args: Args): { verify?: string } {
  const verify = args.string('verify');
  if (verify === undefined) return {};
  try {
    checkVerify(verify);
  } catch (e) {
    throw new TasklaneError('USAGE', `--${(e as Error).message}`, { field: '--verify' });
  }
  return { verify };
}

/** --permission-mode, checked; bypassPermissions is only ever asked for as --dangerously-skip-permissions. */
function permissionModeOf(args: Args): { permissionMode?: PermissionMode } {
  if (args.string('permission-mode') === 'bypassPermissions') {
    throw new TasklaneError(
      'USAGE',
      '--permission-mode bypassPermissions is not taken: ask for it by its name, --dangerously-skip-permissions',
      { field: '--permission-mode' },
    );
  }
  const mode = args.choice<PermissionMode>('permission-mode', PERMISSION_MODES);
  return mode === undefined ? {} : { permissionMode: mode };
}

/** "sim", "claude", or the command's program name with its preset: for the first progress line. */
export function agentLabel(agent: AgentChoice): string {
  if (agent.preset === 'sim') return 'the simulated agent';
  const program = agent.command[0] ?? '';
  return agent.preset === 'stdin' ? program : `${program} (${agent.preset} preset)`;
}

/** This very program, as words: node and the script it runs. */
function selfCommand(): string[] {
  return [process.execPath, process.argv[1] ?? ''];
}

/**
 * The run's list as an MCP server for Claude Code agents (<runDir>/claude-mcp.json, engine/claude-mcp.ts):
 * written unless every task is simulated, as any task may ask for the claude preset.
 */
function listServerFor(agent: AgentChoice, store: TaskStore, runDir: string): { mcpConfig?: string } {
  if (agent.preset === 'sim') return {};
  return {
    mcpConfig: writeMcpConfig(runDir, { tasklane: selfCommand(), store: store.descriptor, list: store.listId }),
  };
}

/**
 * Writes <runDir>/bin/tasklane, a shell script running this very program, so the prompt's
 * advice to use `tasklane` works for agents even where Tasklane is not installed on PATH, and
 * they run the same version as the executor. Returns its directory.
 */
function selfOnPath(runDir: string): string {
  const dir = join(runDir, 'bin');
  const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  const script = `#!/bin/sh\nexec ${selfCommand().map(quote).join(' ')} "$@"\n`;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.tasklane.${process.pid}.tmp`);
  writeFileSync(tmp, script);
  chmodSync(tmp, 0o755);
  renameSync(tmp, join(dir, 'tasklane'));
  return dir;
}
