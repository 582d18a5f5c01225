import type { Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { isTasklaneError, revisionOf, type Task, type TaskJson, taskJson } from '../model/index.js';
import type { Change, ChangeKind, TaskStore } from '../store/types.js';
import type { ListStores } from './stores.js';

// The live stream: one shared change feed per list, fanned out to every browser tab showing it.
//
// Cursors: a journaled change's id is its journal seq (`SEQ`); a change no journal line covers
// (a file Claude Code wrote) is `SEQ.N`, the Nth such change after SEQ. Each list keeps its last
// RING_SIZE events in memory, so a tab reconnecting with `Last-Event-ID` gets exactly what it
// missed. A cursor no longer held gets the journal's changes after its SEQ and then a snapshot
// (the journal cannot replay Claude Code's writes, so only a snapshot is exact). A list's feed
// runs while a tab watches it and stops when the last one leaves.

export const RING_SIZE = 10_000;
export const KEEP_ALIVE_MS = 15_000;
/** The reconnection delay the stream asks browsers to use. */
export const RECONNECT_MS = 1000;
/** A list's feed runs on this long after its last tab leaves, so a reconnect resumes exactly. */
export const DEFAULT_LINGER_MS = 30_000;
/** A tab that lets this many messages queue up is dropped; it reconnects and resumes by cursor. */
export const MAX_CLIENT_QUEUE = 20_000;

export interface SseMessage {
  event?: string;
  id?: string;
  data: string;
}

export interface ChangeEventData {
  kind: ChangeKind;
  list: string;
  taskId: string;
  rev: number;
  seq: number;
  at: string;
  task: TaskJson;
  /** Tasks this one blocks, with their states now (a completion can make them ready). */
  dependents: TaskJson[];
}

/** One connected tab: messages go out in order through its own queue. */
class Client {
  private readonly queue: SseMessage[] = [];
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
    if (this.queue.length >= MAX_CLIENT_QUEUE) {
      // Too far behind: it reconnects and resumes by cursor rather than hold memory here.
      this.abort();
      return;
    }
    this.queue.push(message);
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
    this.close();
  }

  /** Writes queued messages in order until closed and drained, or gone. */
  async pump(): Promise<void> {
    while (!this.gone) {
      const message = this.queue.shift();
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

/** Counters kept per list across feed restarts, so no `SEQ.N` is ever issued twice by this process. */
interface Counter {
  seq: number;
  n: number;
}

/** One list's feed, index and ring of recent events. */
class ListHub {
  private readonly clients = new Set<Client>();
  private readonly abort = new AbortController();
  private readonly ring: { id: string; message: SseMessage }[] = [];
  private readonly positions = new Map<string, number>();
  /** Absolute position of ring[0]. */
  private dropped = 0;
  private readonly index = new Map<string, Task>();
  /** Ids in the index only as stand-ins for files that cannot be read: judged as open, never shown. */
  private readonly unreadable = new Set<string>();
  /** Tabs between arriving and being added (a journal replay is read meanwhile). */
  private joining = 0;
  private seq = 0;
  private n = 0;
  private cursor = '0';
  private startCursor = '0';
  /** Whether a tab was given the start cursor by this feed (only then can it resume from it). */
  private startIssued = false;
  stopped = false;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    readonly store: TaskStore,
    readonly list: string,
    private readonly counter: Counter,
    private readonly onEnd: (hub: ListHub) => void,
    private readonly lingerMs: number,
  ) {}

  /** Subscribes, then reads the list: the feed replays anything journaled between the two. */
  async start(): Promise<void> {
    const last = await this.store.history({ limit: 1 });
    const seq = last[0]?.seq ?? 0;
    const feed = this.store.watch({ since: seq, signal: this.abort.signal });
    const view = await this.store.listView();
    for (const [id, task] of view.judgedBy) this.index.set(id, task);
    const readable = new Set(view.tasks.map((t) => t.id));
    for (const id of this.index.keys()) if (!readable.has(id)) this.unreadable.add(id);
    this.seq = seq;
    if (this.counter.seq === seq) this.n = this.counter.n;
    this.cursor = this.n === 0 ? String(seq) : `${seq}.${this.n}`;
    this.startCursor = this.cursor;
    void this.consume(feed);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Adds a tab. With a cursor this feed holds, it gets exactly the events after it; otherwise the
   * journal's changes after the cursor's SEQ (if any) and a snapshot. Live events follow.
   */
  async join(client: Client, lastEventId: string | undefined): Promise<void> {
    this.joining++;
    this.idleCheck();
    try {
      await this.admit(client, lastEventId);
    } finally {
      this.joining--;
    }
    this.idleCheck();
  }

  /**
   * With no tab left, the feed stops after `lingerMs`: a tab that reconnects within it (a network
   * blip, a reload) resumes exactly from its cursor instead of starting over from a snapshot.
   */
  private idleCheck(): void {
    if (this.clients.size > 0 || this.joining > 0 || this.stopped) {
      if (this.idle !== undefined) clearTimeout(this.idle);
      this.idle = undefined;
      return;
    }
    if (this.idle !== undefined) return;
    if (this.lingerMs <= 0) {
      this.stop();
      return;
    }
    this.idle = setTimeout(() => {
      this.idle = undefined;
      if (this.clients.size === 0 && this.joining === 0) this.stop();
    }, this.lingerMs);
    this.idle.unref();
  }

  private async admit(client: Client, lastEventId: string | undefined): Promise<void> {
    if (this.stopped) {
      client.close();
      return;
    }
    const cursor = lastEventId === undefined ? undefined : parseCursor(lastEventId);
    if (lastEventId !== undefined && cursor !== undefined) {
      const exact = this.since(lastEventId);
      if (exact !== undefined) {
        if (client.closed) return;
        this.clients.add(client);
        for (const message of exact) client.send(message);
        return;
      }
      const replay = await this.journalAfter(cursor.seq);
      if (this.stopped || client.closed) {
        client.close();
        return;
      }
      for (const message of replay) client.send(message);
    }
    this.clients.add(client);
    client.send(this.snapshot());
  }

  leave(client: Client): void {
    this.clients.delete(client);
    client.close();
    this.idleCheck();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.abort.abort();
    for (const client of this.clients) client.close();
    this.clients.clear();
    this.onEnd(this);
  }

  /** Forwards a message without an id (a run event) to every tab. */
  broadcast(message: SseMessage): void {
    for (const client of this.clients) client.send(message);
  }

  /** The events after `id`, or undefined when this feed cannot resume from it exactly. */
  private since(id: string): SseMessage[] | undefined {
    if (id === this.startCursor && this.startIssued && this.dropped === 0) {
      return this.ring.map((e) => e.message);
    }
    const at = this.positions.get(id);
    if (at === undefined) return undefined;
    return this.ring.slice(at - this.dropped + 1).map((e) => e.message);
  }

  private snapshot(): SseMessage {
    if (this.cursor === this.startCursor) this.startIssued = true;
    const tasks: TaskJson[] = [];
    for (const task of this.index.values()) if (!this.unreadable.has(task.id)) tasks.push(taskJson(task, this.index));
    return {
      event: 'snapshot',
      id: this.cursor,
      data: JSON.stringify({ list: this.list, seq: this.seq, tasks }),
    };
  }

  /** The journal's changes after `seq` up to what this feed has seen, at most a ring's worth. */
  private async journalAfter(seq: number): Promise<SseMessage[]> {
    const out: SseMessage[] = [];
    let after = seq;
    while (out.length < RING_SIZE) {
      const entries = await this.store.history({ after, limit: 1000 });
      if (entries.length === 0) break;
      for (const entry of entries) {
        after = entry.seq;
        if (entry.seq > this.seq) return out;
        if (entry.task === undefined) continue; // a heartbeat: the snapshot carries its lease
        const data: ChangeEventData = {
          kind: entry.kind,
          list: this.list,
          taskId: entry.taskId,
          rev: revisionOf(entry.task),
          seq: entry.seq,
          at: entry.at,
          task: taskJson(entry.task, this.index),
          dependents: [],
        };
        out.push({ event: 'change', id: String(entry.seq), data: JSON.stringify(data) });
      }
    }
    return out;
  }

  private async consume(feed: AsyncIterable<Change>): Promise<void> {
    try {
      for await (const change of feed) this.apply(change);
    } catch {
      // The feed broke (or fell behind): the tabs reconnect and resume by cursor or snapshot.
    }
    this.stop();
  }

  private apply(change: Change): void {
    if (change.seq > this.seq) {
      this.seq = change.seq;
      this.n = 0;
      this.cursor = String(this.seq);
    } else {
      this.n++;
      this.cursor = `${this.seq}.${this.n}`;
    }
    this.counter.seq = this.seq;
    this.counter.n = this.n;
    this.unreadable.delete(change.taskId);
    if (change.kind === 'deleted') this.index.delete(change.taskId);
    else this.index.set(change.taskId, change.task);
    const dependents: TaskJson[] = [];
    for (const id of change.task.blocks) {
      const t = this.index.get(id);
      if (t !== undefined) dependents.push(taskJson(t, this.index));
    }
    const data: ChangeEventData = {
      kind: change.kind,
      list: this.list,
      taskId: change.taskId,
      rev: change.rev,
      seq: change.seq,
      at: change.at,
      task: taskJson(change.task, this.index),
      dependents,
    };
    const message: SseMessage = { event: 'change', id: this.cursor, data: JSON.stringify(data) };
    this.positions.set(this.cursor, this.dropped + this.ring.length);
    this.ring.push({ id: this.cursor, message });
    if (this.ring.length > RING_SIZE) {
      // Drop a tenth at once: shifting one by one would move the whole array on every event.
      const gone = this.ring.splice(0, RING_SIZE / 10);
      for (const e of gone) this.positions.delete(e.id);
      this.dropped += gone.length;
    }
    for (const client of this.clients) client.send(message);
  }
}

export function parseCursor(id: string): { seq: number; n: number } | undefined {
  const m = /^(\d{1,15})(?:\.(\d{1,15}))?$/.exec(id.trim());
  if (m === null) return undefined;
  return { seq: Number(m[1]), n: m[2] === undefined ? 0 : Number(m[2]) };
}

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
    const list = c.req.query('list') ?? stores.home.listId;
    stores.get(list); // a bad list id is a 400 before the stream starts
    const lastEventId = c.req.header('last-event-id');
    return streamSSE(c, (stream) => hubs.serve(stream, list, lastEventId));
  });
}
