import { randomInt } from 'node:crypto';
import { revisionOf, type Task, type TaskJson, taskJson } from '../model/index.js';
import type { Change, TaskStore } from '../store/types.js';
import type { Client, SseMessage } from './sse-client.js';

// One list's change feed for the board: the store's watch, the list's tasks as of the last
// change, and a ring of its last RING_SIZE events, so a tab reconnecting with `Last-Event-ID`
// gets exactly what it missed.
//
// Cursors: a journaled change's id is its journal seq (`SEQ`); a change no journal line covers
// (a file Claude Code wrote) is `SEQ.N`, N rising with each such change after SEQ; the state a
// feed starts from is `SEQ.N` with an N no earlier feed issued (see start). A cursor no longer held
// gets the journal's changes after its SEQ and then a snapshot (the journal cannot replay Claude
// Code's writes, so only a snapshot is exact).

export const RING_SIZE = 10_000;

/**
 * And at most about this much text: an event carries its task and every task it blocks, so one
 * change of a task blocking 2,000 others held ~700 kB, and 10,000 of them would need 7 GB.
 */
import type { ChangeEventData } from './wire.js';

export type { ChangeEventData };

export const RING_MAX_BYTES = 64 * 1024 * 1024;

/** Counters kept per list across feed restarts, so no `SEQ.N` is ever issued twice by this process. */
export interface Counter {
  seq: number;
  n: number;
}

/** One list's feed, index and ring of recent events. */
export class ListHub {
  private readonly clients = new Set<Client>();
  private readonly abort = new AbortController();
  private readonly ring: { id: string; message: SseMessage }[] = [];
  private readonly positions = new Map<string, number>();
  /** Absolute position of ring[0]. */
  private dropped = 0;
  /** The length of the ring's messages' data. */
  private ringBytes = 0;
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
    private readonly maxRingBytes: number = RING_MAX_BYTES,
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
    // The start state holds whatever Claude Code wrote while no feed ran, so its cursor must be
    // one no earlier feed issued: past this process's last `SEQ.N`, or (first feed on the list, or
    // a journal that moved on) a random N, since a previous board process on this port issued
    // `SEQ`, `SEQ.1`, ... for other states. A tab holding an older cursor then gets a snapshot.
    this.n = this.counter.seq === seq ? this.counter.n + 1 : freshN();
    this.counter.seq = seq;
    this.counter.n = this.n;
    this.cursor = `${seq}.${this.n}`;
    this.startCursor = this.cursor;
    void this.consume(feed);
  }

  /** The text the ring holds now (for tests: it stays within its bound). */
  get heldBytes(): number {
    return this.ringBytes;
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
    this.ringBytes += message.data.length;
    if (this.ring.length > RING_SIZE || this.ringBytes > this.maxRingBytes) {
      // Drop a tenth at once (of the count or the size): shifting one by one would move the whole
      // array on every event. The newest event always stays.
      let count = 0;
      let bytes = this.ringBytes;
      while (
        count < this.ring.length - 1 &&
        (this.ring.length - count > RING_SIZE * 0.9 || bytes > this.maxRingBytes * 0.9)
      ) {
        bytes -= (this.ring[count] as { message: SseMessage }).message.data.length;
        count++;
      }
      const gone = this.ring.splice(0, count);
      for (const e of gone) this.positions.delete(e.id);
      this.dropped += gone.length;
      this.ringBytes = bytes;
    }
    for (const client of this.clients) client.send(message);
  }
}

/** A start N no other process is likely to have issued for the same SEQ (below 2^40: 13 digits). */
function freshN(): number {
  return randomInt(1_000_000, 2 ** 40);
}

export function parseCursor(id: string): { seq: number; n: number } | undefined {
  const m = /^(\d{1,15})(?:\.(\d{1,15}))?$/.exec(id.trim());
  if (m === null) return undefined;
  return { seq: Number(m[1]), n: m[2] === undefined ? 0 : Number(m[2]) };
}
