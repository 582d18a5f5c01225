import type { AgentOutput } from './agents.js';

// What the engine reports while it runs, for the live view, plain progress lines and tests.
// Listeners are called in a try/catch: a broken view never stops the scheduler.

export type FinishOutcome = 'completed' | 'failed' | 'cancelled' | 'lost';

export type EngineEvent =
  | { type: 'start'; taskId: string; subject: string; attempt: number; owner: string; log: string; at: number }
  | { type: 'spawn'; taskId: string; pid: number }
  | { type: 'activity'; taskId: string; line: string; at: number }
  | {
      type: 'finish';
      taskId: string;
      subject: string;
      outcome: FinishOutcome;
      durationMs: number;
      /** Why it failed, was cancelled or lost. */
      reason?: string;
      /** Set when a retry is scheduled after this failure. */
      retryInMs?: number;
      usage?: AgentOutput;
      at: number;
    }
  | { type: 'retry'; taskId: string }
  | { type: 'warning'; message: string }
  | { type: 'stopping'; reason: string };

export type Listener = (event: EngineEvent) => void;

export class EngineEvents {
  private readonly listeners: Listener[] = [];

  on(listener: Listener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  emit(event: EngineEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {}
    }
  }
}
