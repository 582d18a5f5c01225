import { parseArgs } from 'node:util';
import { formatDuration } from '../model/duration.js';
import { TasklaneError } from '../model/errors.js';
import { LIMITS } from '../model/limits.js';
import type { CommandIO } from './registry.js';
import { closest } from './suggest.js';

// Argument parsing shared by every command: node:util parseArgs in strict mode, with the global
// options accepted anywhere on the line, and errors that name the flag at fault.

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** Accepted by every command, before or after the command name. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  store: { type: 'string' },
  dir: { type: 'string' },
  list: { type: 'string' },
  json: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
};

export interface Globals {
  /** A store descriptor (a directory or file:// URL); --dir DIR is the same as --store DIR. */
  store?: string;
  dir?: string;
  list?: string;
  json: boolean;
  /** Colour and other terminal niceties on stdout. */
  color: boolean;
}

export function usageError(message: string, flag?: string): TasklaneError {
  return new TasklaneError('USAGE', message, flag === undefined ? {} : { field: flag });
}

type Value = string | boolean | (string | boolean)[] | undefined;

/** Parsed arguments of one command, with typed accessors that refuse malformed values. */
export class Args {
  constructor(
    readonly command: string,
    private readonly values: Record<string, Value>,
    readonly positionals: string[],
    readonly globals: Globals,
  ) {}

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    if (Array.isArray(v)) return v.length === 0 ? undefined : String(v[v.length - 1]);
    return typeof v === 'string' ? v : undefined;
  }

  /** A repeatable option, each occurrence also split on commas: `--label a,b --label c` is [a, b, c]. */
  list(name: string): string[] {
    const v = this.values[name];
    const raw = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
    const out = raw.flatMap((s) => s.split(',')).map((s) => s.trim());
    if (out.some((s) => s.length === 0)) throw usageError(`--${name} has an empty entry`, `--${name}`);
    return out;
  }

  /** Every occurrence of a repeatable option, as given. */
  all(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
  }

  int(name: string, opts: { min?: number } = {}): number | undefined {
    const s = this.string(name);
    if (s === undefined) return undefined;
    if (!/^-?[0-9]+$/.test(s.trim()) || !Number.isSafeInteger(Number(s))) {
      throw usageError(`--${name} must be a whole number, got ${JSON.stringify(s)}`, `--${name}`);
    }
    const n = Number(s);
    if (opts.min !== undefined && n < opts.min) {
      throw usageError(`--${name} must be at least ${opts.min}, got ${n}`, `--${name}`);
    }
    return n;
  }

  /** A positive number (seconds, for instance). */
  positive(name: string): number | undefined {
    const s = this.string(name);
    if (s === undefined) return undefined;
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw usageError(`--${name} must be a positive number, got ${JSON.stringify(s)}`, `--${name}`);
    }
    return n;
  }

  /** A positive duration in seconds: `90`, `90s`, `15m`, `1.5h`, at most LIMITS.durationMs (24 days). */
  seconds(name: string): number | undefined {
    const s = this.string(name);
    if (s === undefined) return undefined;
    const m = /^\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*$/.exec(s);
    const n = m === null ? Number.NaN : Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' || m[2] === 'min' ? 60 : 1);
    if (!Number.isFinite(n) || n <= 0) {
      throw usageError(
        `--${name} must be a positive duration in seconds, or with a unit (90s, 15m, 2h); got ${JSON.stringify(s)}`,
        `--${name}`,
      );
    }
    // Past 2^31 ms Node's timers fire at once: a timeout would kill at once, a lease loop would spin.
    if (n * 1000 > LIMITS.durationMs) {
      throw usageError(
        `--${name} ${s} is longer than the longest duration, ${formatDuration(LIMITS.durationMs)} (${LIMITS.durationMs / 1000} s)`,
        `--${name}`,
      );
    }
    return n;
  }

  /** One of a fixed set of words. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const s = this.string(name);
    if (s === undefined) return undefined;
    if (!(choices as readonly string[]).includes(s)) {
      throw usageError(`--${name} must be one of ${choices.join(', ')}; got ${JSON.stringify(s)}`, `--${name}`);
    }
    return s as T;
  }

  /** Like list(), each entry checked against a fixed set. */
  choices<T extends string>(name: string, choices: readonly T[]): T[] {
    const out = this.list(name);
    const bad = out.find((s) => !(choices as readonly string[]).includes(s));
    if (bad !== undefined) {
      throw usageError(`--${name} must be one of ${choices.join(', ')}; got ${JSON.stringify(bad)}`, `--${name}`);
    }
    return out as T[];
  }

  /** Refuses two options that cannot go together. */
  exclusive(...names: string[]): void {
    const given = names.filter((n) => this.has(n));
    if (given.length > 1) throw usageError(`${given.map((n) => `--${n}`).join(' and ')} cannot be used together`);
  }

  /** Checks the number of positional arguments; `names` describes them for the message. */
  expectPositionals(min: number, max: number, names: string): void {
    const n = this.positionals.length;
    if (n < min) throw usageError(`${this.command}: missing ${names}; see tasklane ${this.command} --help`);
    if (n > max) {
      throw usageError(
        `${this.command}: unexpected argument ${JSON.stringify(this.positionals[max])}; see tasklane ${this.command} --help`,
      );
    }
  }
}

/** Whether stdout gets colour: never with --no-color or NO_COLOR; FORCE_COLOR forces it; else when stdout is a terminal. */
export function colorWanted(io: CommandIO, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  return io.stdout.isTTY === true;
}

/**
 * Parses a command's arguments (io.argv, the command name already removed) against its options
 * plus the global ones. Unknown flags, missing values and text that was not valid UTF-8 on the
 * command line (Node turns such bytes into U+FFFD) are usage errors naming the flag.
 */
export function parseCommand(io: CommandIO, command: string, options: OptionSpecs): Args {
  const all: OptionSpecs = { ...GLOBAL_OPTIONS, ...options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: io.argv, options: all, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    throw translateParseError(err, command, all);
  }
  for (const token of parsed.tokens ?? []) {
    const value = token.kind === 'option' ? token.value : token.kind === 'positional' ? token.value : undefined;
    if (typeof value === 'string' && value.includes('\uFFFD')) {
      const where = token.kind === 'option' ? `--${token.name}` : `argument ${JSON.stringify(value)}`;
      throw usageError(
        `${where} is not valid UTF-8 text (or holds U+FFFD); pass the text through a file with its -file option`,
        token.kind === 'option' ? `--${token.name}` : undefined,
      );
    }
  }
  const values = parsed.values as Record<string, Value>;
  const globals: Globals = {
    json: values.json === true,
    color: colorWanted(io, values['no-color'] === true),
  };
  if (typeof values.store === 'string') globals.store = values.store;
  if (typeof values.dir === 'string') globals.dir = values.dir;
  if (typeof values.list === 'string') globals.list = values.list;
  return new Args(command, values, parsed.positionals, globals);
}

function translateParseError(err: unknown, command: string, options: OptionSpecs): TasklaneError {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  const flag = /'(-[^' ]+)/.exec(message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag !== undefined) {
    const name = flag.replace(/^-+/, '').split('=')[0] ?? '';
    const guess = closest(name, Object.keys(options));
    const hint = guess === undefined ? '' : `; did you mean --${guess}?`;
    return usageError(`unknown option ${flag} for 'tasklane ${command}'${hint} (see tasklane ${command} --help)`, flag);
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag !== undefined) {
    const name = flag.split(' ')[0] ?? flag;
    if (/argument missing/.test(message)) return usageError(`${name} needs a value`, name);
    if (/ambiguous/.test(message)) {
      return usageError(`${name} needs a value; to pass one that starts with '-', write ${name}=VALUE`, name);
    }
    return usageError(`${name}: ${message}`, name);
  }
  return usageError(`${command}: ${message}`);
}
