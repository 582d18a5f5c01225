import type { Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { isTasklaneError } from '../model/index.js';
import { onlyQuery } from './input.js';
import { type Counter, ListHub } from './list-feed.js';
import { Client, type SseMessage } from './sse-client.js';
import type { ListStores } from './stores.js';

// The live stream: one shared change feed per list (list-feed.ts), fanned out to every browser tab
// showing it (sse-client.ts). A list's feed starts with its first tab and stops DEFAULT_LINGER_MS
// after its last one leaves.

export type { ChangeEventData } from './list-feed.js';
export { parseCursor, RING_SIZE } from './list-feed.js';

export const KEEP_ALIVE_MS = 15_000;
/** The reconnection delay the stream asks browsers to use. */
export const RECONNECT_MS = 1000;
/** A list's feed runs on this long after its last tab leaves, so a reconnect resumes exactly. */
export const DEFAULT_LINGER_MS = 30_000;

/** Every list's hub, started on a list's first tab and stopped after its last (and the linger). */
export class EventHubs {
  private readonly hubs = new Map<string, { hub: ListHub; started: Promise<ListHub> }>();
  private readonly counters = new Map<string, Counter>();
  private closing = false;

  constructor(
    private readonly stores: ListStores,
    /** How long a list's feed runs on after its last tab leaves (see ListHub.idleCheck). */
    private readonly lingerMs: number = DEFAULT_LINGER_MS,
  ) {}

  /** Serves one tab's stream until it disconnects or the server closes. */
  async serve(stream: SSEStreamingApi, list: string, lastEventId: string | undefined): Promise<void> {
    const client = new Client(stream);
    stream.onAbort(() => client.abort());
    const pumping = client.pump();
    // Reconnect after 1 s rather than the browser's default 3 s: changes show within a second.
    client.send({ data: `retry: ${RECONNECT_MS}\n\n` });
    let hub: ListHub | undefined;
    try {
      hub = await this.hub(list);
      await hub.join(client, lastEventId);
      const timer = setInterval(() => client.send({ data: ': keep-alive\n\n' }), KEEP_ALIVE_MS);
      try {
        await client.done;
      } finally {
        clearInterval(timer);
      }
    } catch (err) {
      const error = isTasklaneError(err) ? err.toJSON() : { code: 'IO', message: (err as Error).message };
      client.send({ event: 'error', data: JSON.stringify({ error }) });
    } finally {
      client.close();
      if (hub !== undefined) hub.leave(client);
      await pumping;
    }
  }

  /** Sends a message without an id to every tab on `list` (run events). */
  broadcast(list: string, message: SseMessage): void {
    const entry = this.hubs.get(list);
    if (entry !== undefined && !entry.hub.stopped) entry.hub.broadcast(message);
  }

  /** How many lists have a running feed (for tests: nothing is left running after the tabs leave). */
  get running(): number {
    return this.hubs.size;
  }

  /** Ends every stream and stops every feed. */
  async close(): Promise<void> {
    this.closing = true;
    const entries = [...this.hubs.values()];
    await Promise.allSettled(entries.map((e) => e.started));
    for (const e of entries) e.hub.stop();
    this.hubs.clear();
  }

  private hub(list: string): Promise<ListHub> {
    if (this.closing) return Promise.reject(new Error('the board is shutting down'));
    const running = this.hubs.get(list);
    if (running !== undefined && !running.hub.stopped) return running.started;
    const store = this.stores.get(list);
    let counter = this.counters.get(list);
    if (counter === undefined) {
      counter = { seq: -1, n: 0 };
      this.counters.set(list, counter);
    }
    const hub = new ListHub(
      store,
      list,
      counter,
      (ended) => {
        if (this.hubs.get(list)?.hub === ended) this.hubs.delete(list);
      },
      this.lingerMs,
    );
    const started = hub.start().then(() => hub);
    this.hubs.set(list, { hub, started });
    started.catch(() => {
      if (this.hubs.get(list)?.hub === hub) this.hubs.delete(list);
    });
    return started;
  }
}

/** GET /api/events?list=LIST: the stream. */
export function eventRoutes(app: Hono, hubs: EventHubs, stores: ListStores): void {
  app.get('/api/events', (c) => {
    onlyQuery(c, ['list']);
    const list = c.req.query('list') ?? stores.home.listId;
    stores.get(list); // a bad list id is a 400 before the stream starts
    const lastEventId = c.req.header('last-event-id');
    return streamSSE(c, (stream) => hubs.serve(stream, list, lastEventId));
  });
}
