import type { EngineEvent } from '../engine/events.js';

// What `tasklane run --board` shows beside the list: the executor's events, forwarded to the
// list's tabs as `event: run` messages (no id: they are not changes and are not replayed) and
// folded into the latest state per task for GET /api/lists/:list/run/live.

import type { LiveRun, LiveTask } from './wire.js';

export type { LiveRun, LiveTask };

/** Where the events come from: an async iterable of them, or an emitter like the engine's EngineEvents. */
export type RunEventSource = AsyncIterable<EngineEvent> | { on(listener: (event: EngineEvent) => void): () => void };

export class RunFeed {
  private readonly tasks = new Map<string, LiveTask>();
  private active = true;
  private stopping: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private ended = false;

  constructor(
    readonly list: string,
    source: RunEventSource,
    private readonly forward: (event: EngineEvent) => void,
  ) {
    if (Symbol.asyncIterator in source) void this.consume(source);
    else this.unsubscribe = source.on((event) => this.take(event));
  }

  live(): LiveRun {
    const out: LiveRun = { list: this.list, active: this.active, tasks: [...this.tasks.values()] };
    if (this.stopping !== undefined) out.stopping = this.stopping;
    return out;
  }

  /** The log path the executor gave for a task, if it ran here. */
  logOf(taskId: string): string | undefined {
    return this.tasks.get(taskId)?.log;
  }

  close(): void {
    this.ended = true;
    this.unsubscribe?.();
  }

  private async consume(source: AsyncIterable<EngineEvent>): Promise<void> {
    try {
      for await (const event of source) {
        if (this.ended) break;
        this.take(event);
      }
    } catch {}
    this.active = false;
  }

  private take(event: EngineEvent): void {
    try {
      this.fold(event);
      this.forward(event);
    } catch {
      // A broken view never stops the executor (engine/events.ts).
    }
  }

  private fold(event: EngineEvent): void {
    switch (event.type) {
      case 'start':
        this.tasks.set(event.taskId, {
          taskId: event.taskId,
          subject: event.subject,
          owner: event.owner,
          attempt: event.attempt,
          log: event.log,
          startedAt: event.at,
          running: true,
        });
        return;
      case 'spawn':
        this.entry(event.taskId).pid = event.pid;
        return;
      case 'activity':
        this.entry(event.taskId).activity = { line: event.line, at: event.at };
        return;
      case 'finish': {
        const t = this.entry(event.taskId);
        t.running = false;
        t.finish = { outcome: event.outcome, durationMs: event.durationMs, at: event.at };
        if (event.reason !== undefined) t.finish.reason = event.reason;
        const cost = event.usage?.costUsd;
        if (typeof cost === 'number') t.finish.costUsd = cost;
        return;
      }
      case 'stopping':
        this.stopping = event.reason;
        this.active = false;
        return;
      case 'retry':
      case 'warning':
        return;
    }
  }

  private entry(taskId: string): LiveTask {
    let t = this.tasks.get(taskId);
    if (t === undefined) {
      t = { taskId, running: true };
      this.tasks.set(taskId, t);
    }
    return t;
  }
}
