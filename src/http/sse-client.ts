import type { SSEStreamingApi } from 'hono/streaming';

// One connected tab of the event stream: its messages go out in order through its own queue, so a
// slow tab never holds up the others, and one that falls too far behind is dropped (it reconnects
// and resumes by its cursor).

/** A tab that lets this many messages queue up is dropped; it reconnects and resumes by cursor. */
export const MAX_CLIENT_QUEUE = 20_000;
/** Or this much text: change events carry whole tasks and their dependents, so a count alone is no bound. */
export const MAX_CLIENT_QUEUE_BYTES = 64 * 1024 * 1024;

/** A message: an SSE event (with `event`, and `id` when it is a change), or raw text (comments, retry). */
export interface SseMessage {
  event?: string;
  id?: string;
  data: string;
}

/** One connected tab: messages go out in order through its own queue. */
export class Client {
  private readonly queue: SseMessage[] = [];
  private queuedBytes = 0;
  private wake: (() => void) | undefined;
  /** No more messages are taken; the pump writes what is queued, then ends. */
  closed = false;
  /** The tab went away: the pump ends at once. */
  private gone = false;
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(private readonly stream: SSEStreamingApi) {
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  send(message: SseMessage): void {
    if (this.closed) return;
    const tooMuch = this.queue.length > 0 && this.queuedBytes + message.data.length > MAX_CLIENT_QUEUE_BYTES;
    if (this.queue.length >= MAX_CLIENT_QUEUE || tooMuch) {
      // Too far behind: it reconnects and resumes by cursor rather than hold memory here (one
      // message, however large, is always taken: a big list's snapshot must get through).
      this.abort();
      return;
    }
    this.queue.push(message);
    this.queuedBytes += message.data.length;
    this.wake?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.finish();
  }

  abort(): void {
    this.gone = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.close();
  }

  /** Writes queued messages in order until closed and drained, or gone. */
  async pump(): Promise<void> {
    while (!this.gone) {
      const message = this.queue.shift();
      if (message !== undefined) this.queuedBytes -= message.data.length;
      if (message === undefined) {
        if (this.closed) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      try {
        if (message.event === undefined && message.id === undefined) await this.stream.write(message.data);
        else await this.stream.writeSSE(message);
      } catch {
        this.abort();
      }
    }
  }
}
