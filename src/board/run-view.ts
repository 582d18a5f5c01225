import { formatDuration } from '../model/duration.js';
import { ApiError, api, describeError } from './api.js';
import { h, replaceChildren } from './h.js';
import type { TaskStore } from './task-store.js';
import type { LastRun, LiveRun, LiveTask } from './types.js';

// The run strip above the board: with `tasklane run --board`, the agents running now, each one's
// latest activity, the cost so far and an estimate of the time left; when the run has ended (or
// for a list run earlier), the aggregated result. Hidden for a list that has never been run.
// The stream's `run` events say something happened; the strip then reads GET .../run/live again
// (a small document) rather than folding engine events a second time here.

const REFETCH_MS = 300;

export class RunView {
  readonly el: HTMLElement;
  private live: LiveRun | undefined;
  private timer: number | undefined;
  private disposed = false;

  constructor(
    private readonly list: string,
    private readonly store: TaskStore,
    private readonly open: (id: string) => void,
  ) {
    this.el = h('section', { class: 'run', 'aria-label': 'Run', hidden: true });
    void this.load();
  }

  /** An executor event arrived on the stream. */
  onRun(): void {
    if (this.timer !== undefined) return;
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      void this.load();
    }, REFETCH_MS);
  }

  /** The latest activity the running agent of a task reported, if it is running in this board's run. */
  activityOf(taskId: string): { line: string; at: number } | undefined {
    const t = this.live?.tasks.find((x) => x.taskId === taskId);
    return t?.running === true ? t.activity : undefined;
  }

  /** Keeps the running times and the estimate current (called every second). */
  tick(): void {
    if (this.live?.active === true) this.drawLive(this.live);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) window.clearTimeout(this.timer);
  }

  private async load(): Promise<void> {
    try {
      const live = await api.liveRun(this.list);
      if (this.disposed) return;
      this.live = live;
      if (live.active || live.tasks.some((t) => t.running)) {
        this.drawLive(live);
        return;
      }
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'NOT_FOUND')) return this.fail(err);
      this.live = undefined;
    }
    // No run going on here: the last run's result, if there is one.
    try {
      const last = await api.lastRun(this.list);
      if (!this.disposed) this.drawLast(last);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NOT_FOUND') this.el.hidden = true;
      else this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.el.hidden = false;
    replaceChildren(this.el, h('p', { class: 'bad' }, `Run: ${describeError(err)}`));
  }

  private drawLive(live: LiveRun): void {
    const now = Date.now();
    const running = live.tasks.filter((t) => t.running);
    const finished = live.tasks.filter((t) => t.finish !== undefined);
    const done = finished.filter((t) => t.finish?.outcome === 'completed');
    const failed = finished.filter((t) => t.finish?.outcome === 'failed');
    const cost = finished.reduce((sum, t) => sum + (t.finish?.costUsd ?? 0), 0);
    const left = this.estimateLeft(running.length, done);
    this.el.hidden = false;
    replaceChildren(
      this.el,
      h(
        'p',
        { class: 'run-summary' },
        h('strong', {}, live.active ? 'Run in progress' : `Run stopping${live.stopping ? `: ${live.stopping}` : ''}`),
        h('span', {}, `${running.length} running`),
        h('span', {}, `${done.length} completed`),
        failed.length > 0 && h('span', { class: 'bad' }, `${failed.length} failed`),
        h('span', {}, `cost $${cost.toFixed(2)}`),
        left !== undefined && h('span', { title: 'from the average time of the tasks finished so far' }, left),
      ),
      running.length > 0 && h('ul', { class: 'run-agents' }, ...running.map((t) => this.agentLine(t, now))),
    );
  }

  private agentLine(t: LiveTask, now: number): HTMLElement {
    const subject = t.subject ?? this.store.get(t.taskId)?.subject ?? '';
    return h(
      'li',
      {},
      h('button', { type: 'button', class: 'link', onclick: () => this.open(t.taskId) }, `#${t.taskId}`),
      h('span', { class: 'run-subject' }, subject),
      t.owner !== undefined && h('span', { class: 'muted' }, t.owner),
      t.startedAt !== undefined && h('span', { class: 'muted' }, formatDuration(now - t.startedAt)),
      t.activity !== undefined &&
        h(
          'span',
          { class: 'run-activity', title: t.activity.line },
          `${t.activity.line} (${formatDuration(Math.max(0, now - t.activity.at))} ago)`,
        ),
    );
  }

  /**
   * About how long the rest takes: the tasks not yet finished (from the store) in waves of the
   * agents running now, each as long as the tasks completed so far took on average. A guess, and
   * shown as one; nothing until a task has completed.
   */
  private estimateLeft(running: number, done: LiveTask[]): string | undefined {
    if (done.length === 0) return undefined;
    const avg = done.reduce((sum, t) => sum + (t.finish?.durationMs ?? 0), 0) / done.length;
    let open = 0;
    for (const t of this.store.tasks.values()) if (t.state !== 'completed' && t.state !== 'failed') open++;
    if (open === 0) return undefined;
    const waves = Math.ceil(open / Math.max(running, 1));
    return `about ${formatDuration(waves * avg)} left`;
  }

  private drawLast(last: LastRun): void {
    const c = last.counts;
    this.el.hidden = false;
    replaceChildren(
      this.el,
      h(
        'details',
        { class: 'run-last' },
        h(
          'summary',
          {},
          h('strong', {}, last.ok ? 'Last run succeeded' : 'Last run did not finish everything'),
          ` · ${c.completed} completed, ${c.failed} failed, ${c.blocked} blocked, ${c.not_run} not run of ${c.total}`,
          ` · ${formatDuration(last.durationMs)}`,
          last.totals.costUsd !== undefined && ` · $${last.totals.costUsd.toFixed(2)}`,
          last.stopped !== undefined && ` · stopped: ${last.stopped}`,
        ),
        h(
          'ul',
          { class: 'run-tasks' },
          ...last.tasks.map((t) =>
            h(
              'li',
              { class: `outcome-${t.status}` },
              h('button', { type: 'button', class: 'link', onclick: () => this.open(t.id) }, `#${t.id}`),
              h('span', { class: 'badge' }, t.status.replace('_', ' ')),
              h('span', {}, t.subject),
              (t.failure ?? t.result) !== undefined &&
                h('span', { class: 'muted run-excerpt' }, excerpt(t.failure ?? t.result ?? '')),
            ),
          ),
        ),
      ),
    );
  }
}

function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}
