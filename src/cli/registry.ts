// Every command, loaded only when run, so start-up pays only for the command used.
// Add a command: one file in ./commands exporting `command: Command`, and one line here.

export interface CommandIO {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface Command {
  /** One line for `tasklane --help`. */
  summary: string;
  /** Full `--help` text: usage, options with defaults, examples, JSON shape, exit codes. */
  help: string;
  /** Returns the process exit code (see exit-codes.ts). */
  run(io: CommandIO): Promise<number>;
}

type Loader = () => Promise<{ command: Command }>;

export const commands: Record<string, { summary: string; load: Loader }> = {};

/** Registers a command; summary is duplicated here so `tasklane --help` loads no command module. */
export function register(name: string, summary: string, load: Loader): void {
  commands[name] = { summary, load };
}
