import { request as httpRequest } from 'node:http';
import type { Hono } from 'hono';
import { resolveLocation } from '../src/store/location.js';
import { openStore } from '../src/store/open.js';
import type { TaskStore } from '../src/store/types.js';
import type { Json } from './cli-run.js';
import { tempDir } from './helpers.js';

// Shared by the HTTP tests: a store in a temp directory, one way to call the API whether through
// the app object or over a real socket, and a reader of a server-sent event stream.

export const TEST_PORT = 4800;

export function tempStore(list = 'default'): { root: string; store: TaskStore } {
  const root = tempDir('tasklane-http-');
  const store = openStore(resolveLocation({ dir: root, list, env: {}, cwd: root }));
  return { root, store };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Json;
}

export type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Reply>;

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function init(method: string, origin: string, body: unknown, headers: Record<string, string>): RequestInit {
  const h: Record<string, string> = { ...headers };
  if (method !== 'GET' && method !== 'HEAD' && h.origin === undefined) h.origin = origin;
  if (h.origin === '') delete h.origin; // '' means: send no Origin at all
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  return { method, headers: h, ...(payload === undefined ? {} : { body: payload }) };
}

/** Calls through `app.request()`, as a same-origin browser would (Host and Origin of the board). */
export function appCall(app: Hono, port = TEST_PORT): Call {
  const origin = `http://127.0.0.1:${port}`;
  return async (method, path, body, headers = {}) =>
    reply(await app.request(`${origin}${path}`, init(method, origin, body, headers)));
}

/** Calls over a real socket. */
export function socketCall(origin: string): Call {
  return async (method, path, body, headers = {}) =>
    reply(await fetch(`${origin}${path}`, { ...init(method, origin, body, headers), redirect: 'manual' }));
}

/** A raw request with any headers (fetch will not send a forged Host). */
export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed event data, checked by the assertions
  json: any;
}

/** A live event stream over a real socket. */
export class SseStream {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  private readonly req: ReturnType<typeof httpRequest>;
  status = 0;
  ended = false;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.take(chunk));
      res.on('end', () => {
        this.ended = true;
        this.poke();
      });
    });
    this.req.on('error', () => {
      this.ended = true;
      this.poke();
    });
    this.req.end();
  }

  /** The first event at index >= `from` matching `match`, waiting up to `timeoutMs`. */
  async next(match: (e: SseEvent) => boolean, from = 0, timeoutMs = 5000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.ended) throw new Error(`stream ended; events: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms; events: ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.req.destroy();
  }

  describe(): string {
    return JSON.stringify(this.events.map((e) => ({ event: e.event, id: e.id, task: e.json?.taskId })));
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) break;
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      const text = data.join('\n');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {}
      this.events.push({ event, ...(id === undefined ? {} : { id }), data: text, json });
    }
    this.poke();
  }

  private poke(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
