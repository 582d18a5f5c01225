import type {
  GraphLayout,
  HistoryPage,
  Info,
  LastRun,
  ListSummary,
  LiveRun,
  LogTail,
  MoveTarget,
  NewTask,
  TaskDetail,
  TaskJson,
  TaskPatch,
} from './types.js';

// The board's client for the HTTP API: JSON in, JSON out, every failure an ApiError carrying the
// server's stable code and message (and its details, e.g. `cycle` on a 409 CYCLE).

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The ids along a refused cycle, when the server named them. */
  get cycle(): string[] | undefined {
    const c = this.details.cycle;
    return Array.isArray(c) ? c.map(String) : undefined;
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the board server did not answer (${(err as Error).message})`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(res.status, res.ok ? 'BAD_RESPONSE' : `HTTP_${res.status}`, text.slice(0, 200));
  }
  if (!res.ok) {
    const error = (json as { error?: Record<string, unknown> }).error ?? {};
    const { code, message, ...details } = error;
    throw new ApiError(
      res.status,
      typeof code === 'string' ? code : `HTTP_${res.status}`,
      typeof message === 'string' ? message : res.statusText,
      details,
    );
  }
  return json as T;
}

const enc = encodeURIComponent;
const listPath = (list: string): string => `/api/lists/${enc(list)}`;
const taskPath = (list: string, id: string): string => `${listPath(list)}/tasks/${enc(id)}`;

export const api = {
  info: () => request<Info>('GET', '/api/info'),
  lists: () => request<{ lists: ListSummary[] }>('GET', '/api/lists'),
  task: (list: string, id: string) => request<TaskDetail>('GET', taskPath(list, id)),
  create: (list: string, input: NewTask) => request<{ task: TaskJson }>('POST', `${listPath(list)}/tasks`, input),
  update: (list: string, id: string, patch: TaskPatch) =>
    request<{ task: TaskJson }>('PATCH', taskPath(list, id), patch),
  remove: (list: string, id: string) => request<{ task: TaskJson }>('DELETE', taskPath(list, id)),
  move: (list: string, id: string, to: MoveTarget, override: boolean, reason?: string) =>
    request<{ task: TaskJson }>('POST', `${taskPath(list, id)}/move`, { to, override, reason }),
  retry: (list: string, id: string) => request<{ task: TaskJson }>('POST', `${taskPath(list, id)}/retry`, {}),
  addDependency: (list: string, blocker: string, blocked: string) =>
    request<Record<string, never>>('POST', `${listPath(list)}/dependencies`, { blocker, blocked }),
  removeDependency: (list: string, blocker: string, blocked: string) =>
    request<Record<string, never>>(
      'DELETE',
      `${listPath(list)}/dependencies?blocker=${enc(blocker)}&blocked=${enc(blocked)}`,
    ),
  history: (list: string, id: string, after?: number, limit = 50) =>
    request<HistoryPage>(
      'GET',
      `${listPath(list)}/history?task=${enc(id)}&limit=${limit}${after === undefined ? '' : `&after=${after}`}`,
    ),
  graph: (list: string) => request<GraphLayout>('GET', `${listPath(list)}/graph`),
  liveRun: (list: string) => request<LiveRun>('GET', `${listPath(list)}/run/live`),
  lastRun: (list: string) => request<LastRun>('GET', `${listPath(list)}/run`),
  log: (list: string, id: string, bytes = 16384) => request<LogTail>('GET', `${taskPath(list, id)}/log?bytes=${bytes}`),
};

/** One line for a person: `CODE: message`, with a cycle's ids when there is one. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const cycle = err.cycle;
    const tail = cycle === undefined ? '' : ` (cycle: ${cycle.map((id) => `#${id}`).join(' -> ')})`;
    return `${err.code}: ${err.message}${tail}`;
  }
  return err instanceof Error ? err.message : String(err);
}
