// Hash routes: #/list/NAME, #/list/NAME/graph, #/list/NAME/task/ID, #/list/NAME/graph/task/ID.

export interface Route {
  list: string | undefined;
  view: 'board' | 'graph';
  task: string | undefined;
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(safeDecode);
  const route: Route = { list: undefined, view: 'board', task: undefined };
  if (parts[0] !== 'list' || parts[1] === undefined || parts[1] === '') return route;
  route.list = parts[1];
  let i = 2;
  if (parts[i] === 'graph') {
    route.view = 'graph';
    i++;
  }
  if (parts[i] === 'task' && parts[i + 1] !== undefined && parts[i + 1] !== '') route.task = parts[i + 1];
  return route;
}

export function routeHash(route: Route): string {
  if (route.list === undefined) return '#/';
  let hash = `#/list/${encodeURIComponent(route.list)}`;
  if (route.view === 'graph') hash += '/graph';
  if (route.task !== undefined) hash += `/task/${encodeURIComponent(route.task)}`;
  return hash;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
