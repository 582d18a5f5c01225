import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { TasklaneError } from '../model/errors.js';
import { formatBytes, LIMITS, sizeAgainstLimit } from '../model/limits.js';
import type { Task } from '../model/task.js';
import { type Location, resolveLocation } from '../store/location.js';
import { openStore } from '../store/open.js';
import type { HolderInput, TaskStore } from '../store/types.js';
import { type Args, type Globals, type OptionSpecs, parseCommand, usageError } from './args.js';
import { inert } from './inert-text.js';
import { type Palette, palette } from './output.js';
import { type Bounded, readFileBounded, readStreamBounded } from './read-input.js';
import type { CommandIO } from './registry.js';

// What a command needs besides its arguments: the store for --store/--dir/--list, the palette,
// the caller's identity, and text read from files or stdin.

export interface Context {
  io: CommandIO;
  args: Args;
  p: Palette;
  json: boolean;
  /** Opens the list's store (once); warnings about skipped files go to stderr. */
  store(): TaskStore;
}

/** Where the command's store and list are: --store or --dir, --list, the environment, the project (store/location.ts). */
export function locationOf(io: CommandIO, globals: Pick<Globals, 'store' | 'dir' | 'list'>): Location {
  return resolveLocation({
    ...(globals.store === undefined ? {} : { store: globals.store }),
    ...(globals.dir === undefined ? {} : { dir: globals.dir }),
    ...(globals.list === undefined ? {} : { list: globals.list }),
    cwd: io.cwd,
    env: io.env,
  });
}

/**
 * The directory a plan file's identity is relative to: the project's (the one holding
 * .tasklane) when the list lives in a `tasklane init` project, else the current directory.
 */
export function planBase(io: CommandIO, globals: Pick<Globals, 'store' | 'dir' | 'list'>): string {
  return locationOf(io, globals).projectDir ?? io.cwd;
}

export function context(io: CommandIO, command: string, options: OptionSpecs): Context {
  const args = parseCommand(io, command, options);
  let store: TaskStore | undefined;
  return {
    io,
    args,
    p: palette(args.globals.color),
    json: args.globals.json,
    store() {
      store ??= openStore(locationOf(io, args.globals), {
        onWarning: (message) => io.stderr.write(`tasklane: warning: ${inert(message)}\n`),
      });
      return store;
    },
  };
}

/** The owner a claim is made for when --owner is not given: TASKLANE_OWNER, else user@host. */
export function defaultOwner(io: CommandIO): string {
  const env = io.env.TASKLANE_OWNER;
  if (env !== undefined && env !== '') return env;
  let user = io.env.USER ?? io.env.LOGNAME ?? '';
  if (user === '') {
    try {
      user = userInfo().username;
    } catch {
      user = 'user';
    }
  }
  return `${user}@${hostname()}`;
}

/**
 * Who is moving a claimed task. --owner and --token are used as given. Without them, the default
 * owner (TASKLANE_OWNER or user@host) is presented only when it is the task's owner, so that
 * `claim 4` then `done 4` works, and finishing an unclaimed task needs no identity at all.
 * The store checks again under the task's lock; this read only picks what to present.
 */
export async function holderFor(ctx: Context, task: Task | undefined): Promise<HolderInput> {
  const owner = ctx.args.string('owner');
  const token = ctx.args.string('token');
  if (owner !== undefined || token !== undefined) {
    return { ...(owner === undefined ? {} : { owner }), ...(token === undefined ? {} : { token }) };
  }
  const implicit = defaultOwner(ctx.io);
  if (task === undefined || task.owner === implicit) return { owner: implicit };
  return {};
}

/**
 * Text from `--NAME TEXT` or `--NAME-file FILE` (`-` for stdin), refusing both at once, bytes
 * that are not UTF-8 (named by file), so nothing garbled is ever stored, and input over the text
 * limit, read no further than the limit (so `/dev/zero` is refused, not read forever).
 */
export async function textOption(ctx: Context, name: string): Promise<string | undefined> {
  const fileFlag = `${name}-file`;
  ctx.args.exclusive(name, fileFlag);
  const inline = ctx.args.string(name);
  if (inline !== undefined) return inline;
  const file = ctx.args.string(fileFlag);
  if (file === undefined) return undefined;
  const label = file === '-' ? 'stdin' : file;
  const max = LIMITS.textBytes;
  let read: Bounded;
  try {
    read = file === '-' ? await readStdin(ctx, name, max) : readFileBounded(resolve(ctx.io.cwd, file), max);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw usageError(`--${fileFlag} ${label}: cannot read it (${why})`, `--${fileFlag}`);
  }
  if ('over' in read) {
    const size =
      read.size === undefined ? `is over the limit of ${formatBytes(max)}` : sizeAgainstLimit(read.size, max);
    throw new TasklaneError(
      'INVALID_INPUT',
      `--${fileFlag} ${label}: the ${name} ${size} (put large content in a file and reference it)`,
      { field: name, file: label },
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(read.bytes);
  } catch {
    throw usageError(`--${fileFlag} ${label}: not valid UTF-8; the ${name} must be UTF-8 text`, `--${fileFlag}`);
  }
}

/** Stdin, read as a stream (a synchronous read of a pipe fails with EAGAIN when the writer is slower). */
async function readStdin(ctx: Context, name: string, max: number): Promise<Bounded> {
  if (ctx.io.stdin.isTTY === true) {
    ctx.io.stderr.write(`tasklane: reading the ${name} from the terminal; end it with Ctrl-D\n`);
  }
  return readStreamBounded(ctx.io.stdin, max);
}

/** `--meta key=value` entries: the value parsed as JSON when it parses, else kept as text; `null` deletes the key. */
export function metaOption(ctx: Context): Record<string, unknown> | undefined {
  const entries = ctx.args.all('meta');
  if (entries.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw usageError(`--meta ${JSON.stringify(entry)} must be KEY=VALUE`, '--meta');
    const raw = entry.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[entry.slice(0, eq)] = value;
  }
  return out;
}

/** A task id argument: `4` or `#4`. The store validates the rest. */
export function taskIdArg(ctx: Context, index = 0, what = 'ID'): string {
  const id = ctx.args.positionals[index];
  if (id === undefined)
    throw usageError(`${ctx.args.command}: missing ${what}; see tasklane ${ctx.args.command} --help`);
  return id;
}
