#!/usr/bin/env node
import './commands.js';
import { isTasklaneError, TasklaneError } from '../model/errors.js';
import { brokenPipe, isBrokenPipe } from './broken-pipe.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { inert, jsonInert } from './inert-text.js';
import { type CommandIO, commands } from './registry.js';

// The `tasklane` entry point. It loads only the command table; a command's module (and what it
// imports: the store, the graph, the SDK) is loaded when that command runs.

const GLOBAL_WITH_VALUE = new Set(['--store', '--dir', '--list']);
const GLOBAL_FLAGS = new Set(['--json', '--no-color', '-h', '--help', '--version']);

const GLOBAL_HELP = `Global options (anywhere on the line):
  --store STORE  the store that holds the lists (env TASKLANE_STORE): a directory or a file:// URL
                 (postgres:// later). Default: TASKLANE_DIR; else the nearest .tasklane/tasks
                 made by 'tasklane init', found by walking up from here; else
                 $CLAUDE_CONFIG_DIR/tasks (~/.claude/tasks), where Claude Code keeps its own lists
  --dir DIR      the same as --store DIR (env TASKLANE_DIR, below TASKLANE_STORE); not with --store
  --list ID      which list (env TASKLANE_LIST, then CLAUDE_CODE_TASK_LIST_ID; default "default")
  --json         machine-readable output on stdout (shapes: docs/cli.md)
  --no-color     plain text (also when NO_COLOR is set or stdout is not a terminal)
  -h, --help     this help; 'tasklane COMMAND --help' for a command's options and examples
  --version      print the version`;

const EXIT_HELP = `Exit codes: 0 done, 1 error, 2 bad usage, 3 nothing to claim, 4 conflict (held or changed
by someone else), 5 timed out.`;

interface Split {
  /** Index of the command name in argv, or -1. */
  at: number;
  help: boolean;
  version: boolean;
  json: boolean;
  /** A non-global option before the command name. */
  stray?: string;
}

/** Finds the command name among the global options, and the flags main acts on itself. */
function split(argv: string[]): Split {
  const s: Split = { at: -1, help: false, version: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (s.at < 0 && !a.startsWith('-')) {
      s.at = i;
      continue;
    }
    if (a === '-h' || a === '--help') s.help = true;
    else if (a === '--version') s.version = true;
    else if (a === '--json') s.json = true;
    if (s.at < 0) {
      const key = a.split('=')[0] as string;
      if (GLOBAL_WITH_VALUE.has(key)) {
        if (!a.includes('=')) i++;
      } else if (!GLOBAL_FLAGS.has(a)) {
        s.stray ??= a;
      }
    }
  }
  return s;
}

function overview(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `  ${n.padEnd(width)}  ${commands[n]?.summary ?? ''}`);
  return `tasklane: a dependency-aware task list that coding-agent sessions share,
kept in Claude Code's own task files.

Usage: tasklane COMMAND [ARGS] [OPTIONS]

Commands:
${lines.join('\n')}

${GLOBAL_HELP}

${EXIT_HELP}

Examples:
  tasklane init                                   # a task list for this project
  tasklane create "Write API" --description "REST endpoints" --blocked-by 3
  tasklane ready                                  # what can start now
  tasklane claim --owner w1 --json                # take the best ready task
  tasklane done 4 --result "merged in #12"
  tasklane demo                                   # a tour on an example list
`;
}

const usage = (message: string): TasklaneError => new TasklaneError('USAGE', message);

/** An error from the operating system (ENOTDIR, EACCES, ENOSPC...) is the user's to fix, not a bug: name the path. */
function systemError(err: unknown): TasklaneError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return undefined;
  const reason = e.message.replace(/^[A-Z]+: /, '').split(',')[0] ?? e.message;
  const where = e.path === undefined ? '' : ` ${e.path}`;
  return new TasklaneError('IO', `cannot ${e.syscall}${where}: ${reason} (${e.code})`, {
    ...(e.path === undefined ? {} : { file: e.path }),
    cause: err,
  });
}

function fail(io: CommandIO, json: boolean, thrown: unknown): number {
  const err = systemError(thrown) ?? thrown;
  const code = isTasklaneError(err) ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  // Messages quote task text, file names and arguments: shown, never obeyed by the terminal.
  io.stderr.write(`tasklane: error: ${inert(message, { multiline: true })}\n`);
  if (code === 'INTERNAL' && err instanceof Error && err.stack !== undefined) {
    io.stderr.write(
      io.env.TASKLANE_DEBUG ? `${err.stack}\n` : 'tasklane: this is a bug; set TASKLANE_DEBUG=1 to see where\n',
    );
  }
  if (json) {
    const body = isTasklaneError(err) ? err.toJSON() : { code, message };
    io.stdout.write(`${jsonInert(JSON.stringify({ error: body }, null, 2))}\n`);
  }
  return isTasklaneError(err) ? exitCodeFor(err.code) : EXIT.ERROR;
}

/** The io with its argv; copies property descriptors so the lazy stdin getter stays lazy. */
function withArgv(io: Omit<CommandIO, 'argv'>, argv: string[]): CommandIO {
  const descriptors = { ...Object.getOwnPropertyDescriptors(io), argv: { value: argv, enumerable: true } };
  return Object.defineProperties({}, descriptors) as CommandIO;
}

async function main(argv: string[], io: Omit<CommandIO, 'argv'>): Promise<number> {
  const s = split(argv);
  const full = withArgv(io, argv);
  try {
    let name = s.at >= 0 ? (argv[s.at] as string) : undefined;
    let rest = s.at >= 0 ? [...argv.slice(0, s.at), ...argv.slice(s.at + 1)] : argv;
    let help = s.help;
    if (name === 'help') {
      const target = rest.find((a) => !a.startsWith('-'));
      name = target;
      rest = [];
      help = true;
    }
    if (s.version && name === undefined) {
      const { packageVersion } = await import('./version.js');
      io.stdout.write(`${packageVersion()}\n`);
      return EXIT.OK;
    }
    if (s.stray !== undefined && !help) {
      throw usage(
        `unknown option ${s.stray} before the command; a command's own options go after its name (tasklane --help)`,
      );
    }
    if (name === undefined) {
      if (argv.length === 0 || help) {
        io.stdout.write(overview());
        return EXIT.OK;
      }
      throw usage('missing command; see tasklane --help');
    }
    const entry = commands[name];
    if (entry === undefined) {
      const { closest } = await import('./suggest.js');
      const guess = closest(name, Object.keys(commands));
      const hint = guess === undefined ? '' : `; did you mean '${guess}'?`;
      throw usage(`unknown command '${name}'${hint} (tasklane --help lists them)`);
    }
    const { command } = await entry.load();
    if (help) {
      io.stdout.write(`${command.help.trimEnd()}\n\n${GLOBAL_HELP}\n\n${EXIT_HELP}\n`);
      return EXIT.OK;
    }
    return await command.run(withArgv(io, rest));
  } catch (err) {
    return fail(full, s.json, err);
  }
}

// A reader that goes away (`tasklane list | head`) is not an error; a command running agents
// stops them first (broken-pipe.ts). The same for stderr, and for a terminal that closed (EIO).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!isBrokenPipe(err)) throw err;
    if (!brokenPipe()) process.exit(process.exitCode ?? 0);
  });
}

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  // Touching process.stdin sets up a stream; only the commands that read it pay for that.
  get stdin() {
    return process.stdin;
  },
});
