import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { stateOf } from '../model/graph.js';
import type { TaskStore } from '../store/types.js';

// The list as a resource, `tasklane://list/<id>`: its tasks as JSON. A client that subscribes
// gets notifications/resources/updated when the list changes (fed by the store's change feed).

export function listUri(listId: string): string {
  return `tasklane://list/${encodeURIComponent(listId)}`;
}

/** Registers the resource and its subscriptions. Returns a function that stops the feed. */
export function registerListResource(server: McpServer, store: TaskStore): () => void {
  const uri = listUri(store.listId);
  server.registerResource(
    `list ${store.listId}`,
    uri,
    { description: `Every task of list ${store.listId} with its state, as JSON`, mimeType: 'application/json' },
    async () => {
      const tasks = await store.list();
      const byId = new Map(tasks.map((t) => [t.id, t]));
      const body = { list: store.listId, tasks: tasks.map((t) => ({ ...t, state: stateOf(t, byId) })) };
      return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(body) }] };
    },
  );

  let feed: AbortController | undefined;
  const low = server.server;
  low.registerCapabilities({ resources: { subscribe: true } });
  low.setRequestHandler(SubscribeRequestSchema, async (request) => {
    if (request.params.uri !== uri) throw new Error(`unknown resource ${request.params.uri}; this server has ${uri}`);
    if (feed === undefined) {
      feed = new AbortController();
      void notifyOnChange(store, feed.signal, () => low.sendResourceUpdated({ uri }));
    }
    return {};
  });
  low.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    if (request.params.uri === uri) {
      feed?.abort();
      feed = undefined;
    }
    return {};
  });
  return () => feed?.abort();
}

/** One notification per burst of changes: the client re-reads the whole list anyway. */
async function notifyOnChange(store: TaskStore, signal: AbortSignal, notify: () => Promise<void>): Promise<void> {
  let queued = false;
  try {
    for await (const _change of store.watch({ signal })) {
      if (queued) continue;
      queued = true;
      setImmediate(() => {
        queued = false;
        if (!signal.aborted) notify().catch(() => {});
      });
    }
  } catch {
    // The feed warns through the store; a subscriber without updates can still read the resource.
  }
}
