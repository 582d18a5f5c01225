import type { TaskState } from '../model/task.js';
import { inert, jsonInert } from './inert-text.js';
import type { CommandIO } from './registry.js';
import { cutToWidth, displayWidth, padToWidth } from './text-width.js';

// Writing to the terminal: JSON for scripts, aligned tables with optional ANSI colour for people.

export type Paint = (text: string) => string;

export interface Palette {
  enabled: boolean;
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  blue: Paint;
  magenta: Paint;
  cyan: Paint;
}

const SGR: Record<Exclude<keyof Palette, 'enabled'>, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
};

export function palette(enabled: boolean): Palette {
  const p = { enabled } as Palette;
  for (const [name, [on, off]] of Object.entries(SGR)) {
    p[name as keyof typeof SGR] = enabled ? (t: string) => `\x1b[${on}m${t}\x1b[${off}m` : (t: string) => t;
  }
  return p;
}

export function paintState(p: Palette, state: TaskState): Paint {
  switch (state) {
    case 'ready':
      return p.green;
    case 'expired':
      return p.magenta;
    case 'blocked':
      return p.yellow;
    case 'assigned':
      return p.cyan;
    case 'in_progress':
      return p.blue;
    case 'failed':
      return p.red;
    case 'completed':
      return p.dim;
  }
}

/** Prints a value as the documented JSON shape: two-space indent, one trailing newline, inert on a terminal. */
export function printJson(io: CommandIO, value: unknown): void {
  io.stdout.write(`${jsonInert(JSON.stringify(value, null, 2))}\n`);
}

export function println(io: CommandIO, line = ''): void {
  io.stdout.write(`${line}\n`);
}

export interface Cell {
  text: string;
  paint?: Paint;
}

/**
 * An aligned table. `flex` names the column that is cut short (with …) when a terminal is too
 * narrow; widths are terminal columns (see text-width.ts) of the plain text, as printed (made
 * inert), and colour is applied after padding.
 */
export function formatTable(
  headers: string[],
  rows: (string | Cell)[][],
  opts: { p: Palette; width?: number; flex?: number },
): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'string' ? { text: c } : c)));
  for (const row of cells) for (const c of row) c.text = oneLine(c.text);
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...cells.map((r) => displayWidth(r[i]?.text ?? ''))));
  const gap = 2;
  if (opts.width !== undefined && opts.flex !== undefined) {
    const total = widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1);
    const over = total - opts.width;
    const flexWidth = widths[opts.flex] as number;
    if (over > 0) {
      const target = Math.max(displayWidth(headers[opts.flex] ?? ''), 12, flexWidth - over);
      widths[opts.flex] = target;
      for (const row of cells) {
        const c = row[opts.flex];
        if (c !== undefined) c.text = cutToWidth(c.text, target);
      }
    }
  }
  const line = (row: Cell[], last: number): string =>
    row
      .map((c, i) => {
        const padded = i === last ? c.text : padToWidth(c.text, widths[i] as number);
        return c.paint === undefined || c.text === '' ? padded : c.paint(padded);
      })
      .join(' '.repeat(gap))
      .trimEnd();
  const head = line(
    headers.map((h) => ({ text: h, paint: opts.p.bold })),
    headers.length - 1,
  );
  return [head, ...cells.map((r) => line(r, headers.length - 1))].join('\n');
}

/** Text for one line of a table or message: newlines and tabs would break the alignment, control characters the terminal. */
export function oneLine(text: string): string {
  return inert(text);
}
