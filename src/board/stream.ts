import type { TaskStore } from './task-store.js';
import type { ChangeEvent, Snapshot } from './types.js';

// One EventSource for the list on screen. The browser reconnects by itself and sends the last
// event id back as Last-Event-ID, so the server resumes exactly after it; a `snapshot` replaces
// the view whenever it cannot. Only when the browser gives up (the server answered with an error)
// is a new EventSource opened here, a few seconds later; it starts with a snapshot.

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

export class TaskStream {
  private source: EventSource | undefined;
  private retry: number | undefined;
  private closed = false;

  constructor(
    private readonly list: string,
    private readonly store: TaskStore,
    private readonly onStatus: (status: StreamStatus) => void,
    private readonly onError: (message: string) => void,
    /** An executor event (`tasklane run --board`): not a change, no id. */
    private readonly onRun: () => void = () => {},
  ) {
    this.open();
  }

  private open(): void {
    this.onStatus('connecting');
    const source = new EventSource(`/api/events?list=${encodeURIComponent(this.list)}`);
    this.source = source;
    source.addEventListener('open', () => this.onStatus('live'));
    source.addEventListener('snapshot', (e) => {
      const snapshot = this.parse<Snapshot>(e);
      if (snapshot !== undefined) this.store.replace(snapshot);
      this.onStatus('live');
    });
    source.addEventListener('change', (e) => {
      const change = this.parse<ChangeEvent>(e);
      if (change !== undefined && change.list === this.list) this.store.apply(change);
    });
    source.addEventListener('run', () => this.onRun());
    source.addEventListener('error', (e) => {
      if (this.closed) return;
      // The server's own `event: error` message (it could not follow the list), not the connection's.
      if (e instanceof MessageEvent && typeof e.data === 'string') {
        const body = this.parse<{ error?: { code?: string; message?: string } }>(e);
        this.onError(`${body?.error?.code ?? 'STREAM'}: ${body?.error?.message ?? 'the live stream failed'}`);
        return;
      }
      if (source.readyState === EventSource.CLOSED) {
        this.onStatus('reconnecting');
        this.retry = window.setTimeout(() => {
          if (!this.closed) this.open();
        }, 3000);
      } else {
        this.onStatus('reconnecting');
      }
    });
  }

  close(): void {
    this.closed = true;
    if (this.retry !== undefined) window.clearTimeout(this.retry);
    this.source?.close();
  }

  private parse<T>(e: Event): T | undefined {
    try {
      return JSON.parse((e as MessageEvent<string>).data) as T;
    } catch {
      this.onError(`STREAM: the live stream sent a ${e.type} event that is not JSON`);
      return undefined;
    }
  }
}
