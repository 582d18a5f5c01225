import type { LiveStatus } from '../engine/coordinator.js';
import type { EngineEvent, EngineEvents } from '../engine/events.js';
import { formatDuration } from '../model/index.js';
import { inert } from './inert-text.js';
import type { Palette } from './output.js';
import { clipToWidth, cutToWidth, displayWidth, padToWidth } from './text-width.js';

// Progress of a run on stderr (stdout is kept for the aggregated result). On a terminal: a live
// view redrawn at most 10 times a second, one line per running agent (task, elapsed, last
// activity) under the finished tasks, and an overall bar with an estimate of the time left.
// Otherwise: one plain line per start, finish, retry and warning. Subjects, failure reasons and
// agent output are passed through inert(): they are data, never terminal control.

export interface ProgressView {
  stop(): void;
}

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

export interface ViewOptions {
  stderr: Stream;
  events: EngineEvents;
  /** The coordinator's state; without it (a worker) there is no bar. */
  status?: () => LiveStatus;
  live: boolean;
  p: Palette;
}

export function progressView(opts: ViewOptions): ProgressView {
  return opts.live && opts.status !== undefined ? new LiveView(opts, opts.status) : new PlainView(opts);
}

/** One line per event, for logs and pipes. */
class PlainView implements ProgressView {
  private readonly off: () => void;
  constructor(o: ViewOptions) {
    this.off = o.events.on((e) => {
      // The tally is only on finish lines; the status walks the whole list, so not for every event.
      const line = plainLine(e, e.type === 'finish' ? o.status?.() : undefined);
      if (line !== undefined) o.stderr.write(`tasklane: ${inert(line)}\n`);
    });
  }
  stop(): void {
    this.off();
  }
}

function plainLine(e: EngineEvent, s: LiveStatus | undefined): string | undefined {
  const tally = s === undefined ? '' : ` [${s.completed}/${s.total} done, ${s.running} running, ${s.failed} failed]`;
  switch (e.type) {
    case 'start':
      return `start #${e.taskId} ${e.subject}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`;
    case 'finish':
      if (e.outcome === 'completed') return `done #${e.taskId} ${e.subject} in ${formatDuration(e.durationMs)}${tally}`;
      if (e.outcome === 'failed') {
        const retry = e.retryInMs === undefined ? '' : `; retrying in ${formatDuration(e.retryInMs)}`;
        return `FAILED #${e.taskId} ${e.subject}: ${e.reason ?? ''}${retry}${tally}`;
      }
      return `${e.outcome} #${e.taskId} ${e.subject}: ${e.reason ?? ''}`;
    case 'retry':
      return `#${e.taskId} is pending again for its retry`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'stopping':
      return `stopping: ${e.reason}; no new tasks will start`;
    default:
      return undefined;
  }
}

const FRAME_MS = 100;

class LiveView implements ProgressView {
  private drawn = 0;
  private dirty = true;
  private lastDraw = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly off: () => void;

  constructor(
    private readonly o: ViewOptions,
    private readonly status: () => LiveStatus,
  ) {
    this.off = o.events.on((e) => this.onEvent(e));
    this.timer = setInterval(() => {
      if (this.dirty || Date.now() - this.lastDraw >= 500) this.draw();
    }, FRAME_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.off();
    this.clear();
  }

  private onEvent(e: EngineEvent): void {
    const p = this.o.p;
    let line: string | undefined;
    if (e.type === 'finish') {
      const took = p.dim(formatDuration(e.durationMs));
      const task = inert(`#${e.taskId} ${e.subject}`);
      const reason = inert(e.reason ?? '');
      if (e.outcome === 'completed') line = `${p.green('✓')} ${task} ${took}`;
      else if (e.outcome === 'failed') {
        const retry = e.retryInMs === undefined ? '' : p.dim(` (retry in ${formatDuration(e.retryInMs)})`);
        line = `${p.red('✗')} ${task}: ${reason}${retry}`;
      } else line = `${p.yellow('•')} ${task}: ${e.outcome} (${reason})`;
    } else if (e.type === 'warning') line = `${p.yellow('warning:')} ${inert(e.message)}`;
    else if (e.type === 'stopping') line = `${p.yellow('stopping:')} ${inert(e.reason)}; no new tasks will start`;
    if (line !== undefined) {
      this.clear();
      this.o.stderr.write(`${this.fit(line)}\n`);
    }
    this.dirty = true;
  }

  private clear(): void {
    if (this.drawn > 0) this.o.stderr.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    const s = this.status();
    const p = this.o.p;
    const now = Date.now();
    const rows = Math.max(3, (positive(this.o.stderr.rows) ?? 24) - 2);
    const lines: string[] = [];
    const agents = s.agents.slice(0, rows - 1);
    const width = Math.max(4, ...agents.map((a) => displayWidth(inert(a.id)) + 1));
    for (const a of agents) {
      const elapsed = a.phase === 'claiming' ? 'claiming' : formatDuration(now - a.startedAt);
      const activity =
        a.lastLine === undefined
          ? ''
          : p.dim(`  ${inert(a.lastLine)} (${formatDuration(now - (a.lastAt ?? now))} ago)`);
      lines.push(
        `  ${p.blue('▸')} ${padToWidth(`#${inert(a.id)}`, width)} ${padToWidth(clip(a.subject, 40), 40)} ${elapsed.padStart(7)}${activity}`,
      );
    }
    if (s.agents.length > agents.length) lines.push(p.dim(`    … and ${s.agents.length - agents.length} more`));
    lines.push(this.bar(s, now));
    this.clear();
    this.o.stderr.write(`${lines.map((l) => this.fit(l)).join('\n')}\n`);
    this.drawn = lines.length;
    this.dirty = false;
    this.lastDraw = now;
  }

  private bar(s: LiveStatus, now: number): string {
    const p = this.o.p;
    // The estimate comes right after the count, so a narrow terminal cuts the least useful parts.
    const parts = [`${s.completed}/${s.total} done`];
    if (s.etaMs !== undefined) parts.push(`~${formatDuration(s.etaMs)} left`);
    parts.push(`${s.running} running`);
    if (s.elsewhere > 0) parts.push(`${s.elsewhere} held elsewhere`);
    parts.push(`${s.blocked} blocked`);
    if (s.ready > 0) parts.push(`${s.ready} ready`);
    parts.push(s.failed > 0 ? p.red(`${s.failed} failed`) : '0 failed');
    parts.push(`${formatDuration(now - s.startedAt)} elapsed`);
    if (s.stopping !== undefined) parts.push(p.yellow(`stopping (${inert(s.stopping)})`));
    const text = parts.join(' · ');
    // The bar gives up width (down to 8 cells) before the text does.
    const width = (positive(this.o.stderr.columns) ?? 80) - 1;
    const size = Math.max(8, Math.min(24, width - 3 - visibleLength(text)));
    const filled = s.total === 0 ? 0 : Math.round((s.completed / s.total) * size);
    const failed = s.total === 0 ? 0 : Math.min(size - filled, Math.ceil((s.failed / s.total) * size));
    const bar = p.green('█'.repeat(filled)) + p.red('█'.repeat(failed)) + p.dim('░'.repeat(size - filled - failed));
    return `  ${bar} ${text}`;
  }

  /**
   * Cut to the terminal width (in columns, colour codes kept and taking none) so no line wraps and
   * breaks the redraw.
   */
  private fit(line: string): string {
    let room = (positive(this.o.stderr.columns) ?? 80) - 1;
    let out = '';
    // The text between colour codes is made inert, so every escape left is one of ours.
    for (const [i, part] of line.split(SGR_PART).entries()) {
      if (i % 2 === 1) out += part;
      else if (room > 0) {
        const kept = clipToWidth(part, room);
        room -= displayWidth(kept);
        out += kept;
      }
    }
    return this.o.p.enabled ? `${out}\x1b[0m` : out;
  }
}

function clip(text: string, n: number): string {
  const one = inert(text).replace(/\s+/g, ' ');
  return cutToWidth(one, n);
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && n > 0 ? n : undefined;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape sequences is the point
const SGR_PART = /(\x1b\[[0-9;]*m)/;

/** Columns a terminal shows: colour codes take no room. */
function visibleLength(text: string): number {
  return displayWidth(
    text
      .split(SGR_PART)
      .filter((_, i) => i % 2 === 0)
      .join(''),
  );
}
