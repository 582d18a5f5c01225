import { tasklaneFields } from '../model/task.js';
import { ApiError, api, describeError } from './api.js';
import { BoardView } from './board-view.js';
import { updateCountdown } from './card.js';
import { GraphView } from './graph-view.js';
import { h, replaceChildren } from './h.js';
import { parseRoute, type Route, routeHash } from './router.js';
import { RunView } from './run-view.js';
import { type StreamStatus, TaskStream } from './stream.js';
import { openTaskForm } from './task-form.js';
import { TaskPanel } from './task-panel.js';
import { TaskStore } from './task-store.js';
import type { MoveTarget, TaskJson } from './types.js';

// The board's entry: the header (list switcher, board/graph, filter, new task, live indicator),
// the routes, and the one stream of the list on screen.

const store = new TaskStore();
let route: Route = { list: undefined, view: 'board', task: undefined };
let defaultList = 'default';
let stream: TaskStream | undefined;
let graph: GraphView | undefined;
let panel: TaskPanel | undefined;
let run: RunView | undefined;

const statusEl = h('span', { class: 'status connecting', role: 'status', 'aria-live': 'polite' }, 'connecting');
const listSelect = h('select', { 'aria-label': 'List', class: 'list-switch' });
const boardLink = h('a', { href: '#/', class: 'tab' }, 'Board');
const graphLink = h('a', { href: '#/', class: 'tab' }, 'Graph');
const filterInput = h('input', {
  type: 'search',
  class: 'filter',
  placeholder: 'Filter: words, #id, @owner, label',
  'aria-label': 'Filter tasks',
});
const errorsEl = h('div', { class: 'errors', role: 'alert' });
const runSlot = h('div', { class: 'run-slot' });
const mainEl = h('main', { class: 'main' });
const panelSlot = h('div', { class: 'panel-slot' });

const actions = {
  open: (id: string) => go({ ...route, task: id }),
  move: (id: string, to: MoveTarget) => void move(id, to),
};
const board = new BoardView(store, actions);

store.subscribe((e) => {
  board.onStore(e);
  graph?.onStore(e);
  panel?.onStore(e.kind === 'reset' ? 'all' : e.ids);
});

function go(next: Route): void {
  const hash = routeHash(next);
  if (location.hash === hash) applyRoute();
  else location.hash = hash;
}

function showError(message: string): void {
  const item = h(
    'div',
    { class: 'error' },
    h('span', {}, message),
    h('button', { type: 'button', class: 'small', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'),
  );
  errorsEl.prepend(item);
  while (errorsEl.childElementCount > 3) errorsEl.lastElementChild?.remove();
}

function setStatus(status: StreamStatus): void {
  statusEl.className = `status ${status}`;
  statusEl.textContent = status;
}

/** Who holds the task on a live lease, if anyone: moving it takes it from them. */
function holder(task: TaskJson): string | undefined {
  const lease = tasklaneFields(task).lease;
  if (task.state !== 'in_progress' || lease === undefined) return undefined;
  return lease.owner || task.owner || 'someone';
}

/**
 * A drag (or the panel's Move): asked of the server without override first, since the board's
 * own claims move freely and only the server knows whose a claim is. When it refuses a task that
 * someone holds, the person confirms, naming the holder, and the move is sent again with override.
 */
async function move(id: string, to: MoveTarget): Promise<void> {
  const list = route.list as string;
  let reason: string | undefined;
  if (to === 'failed') {
    const given = window.prompt(`Why did #${id} fail?`, 'marked failed on the board');
    if (given === null) return;
    reason = given;
  }
  try {
    store.put((await api.move(list, id, to, false, reason)).task);
    return;
  } catch (err) {
    const task = store.get(id);
    const held = task === undefined ? undefined : holder(task);
    if (!(err instanceof ApiError && err.code === 'NOT_CLAIMABLE' && held !== undefined)) {
      showError(describeError(err));
      return;
    }
    if (!window.confirm(`#${id} is held by ${held}: ${err.message}\nMove it anyway? ${held} loses the claim.`)) return;
  }
  try {
    store.put((await api.move(list, id, to, true, reason)).task);
  } catch (err) {
    showError(describeError(err));
  }
}

async function refreshLists(): Promise<void> {
  try {
    const { lists } = await api.lists();
    const ids = lists.map((l) => l.id);
    if (route.list !== undefined && !ids.includes(route.list)) ids.unshift(route.list);
    const totals = new Map(lists.map((l) => [l.id, l.total]));
    listSelect.replaceChildren(
      ...ids.map((id) => h('option', { value: id }, totals.has(id) ? `${id} (${totals.get(id)})` : id)),
    );
    listSelect.value = route.list ?? '';
  } catch (err) {
    showError(describeError(err));
  }
}

function applyRoute(): void {
  const next = parseRoute(location.hash);
  if (next.list === undefined) {
    go({ list: defaultList, view: 'board', task: undefined });
    return;
  }
  const listChanged = next.list !== route.list;
  const viewChanged = next.view !== route.view;
  route = next;
  const list = next.list as string;
  boardLink.href = routeHash({ list, view: 'board', task: undefined });
  graphLink.href = routeHash({ list, view: 'graph', task: undefined });
  boardLink.toggleAttribute('aria-current', next.view === 'board');
  graphLink.toggleAttribute('aria-current', next.view === 'graph');
  document.title = `${list} · Tasklane`;

  if (listChanged) {
    stream?.close();
    run?.dispose();
    store.clear(list);
    run = new RunView(list, store, actions.open);
    replaceChildren(runSlot, run.el);
    stream = new TaskStream(list, store, setStatus, showError, () => run?.onRun());
    void refreshLists();
  }
  if (listChanged || viewChanged) {
    graph?.dispose();
    graph = undefined;
    if (next.view === 'graph') {
      graph = new GraphView(list, store, actions.open, showError);
      graph.setFilter(filterInput.value);
      replaceChildren(mainEl, graph.el);
    } else {
      replaceChildren(mainEl, board.el);
    }
  }
  if (panel !== undefined && (panel.id !== next.task || listChanged)) {
    panel.dispose();
    panel = undefined;
    replaceChildren(panelSlot);
    document.body.classList.remove('with-panel');
  }
  if (next.task !== undefined && panel === undefined) {
    panel = new TaskPanel(list, next.task, store, {
      close: () => {
        const id = route.task;
        go({ ...route, task: undefined });
        // Back to where the keyboard was: the task's card or graph node.
        if (id !== undefined) document.querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"]`)?.focus();
      },
      open: actions.open,
      edit: (task) => openTaskForm(list, task, (saved) => store.put(saved)),
      move: actions.move,
      error: showError,
      activity: (id) => run?.activityOf(id),
    });
    replaceChildren(panelSlot, panel.el);
    document.body.classList.add('with-panel');
    panel.el.focus();
  }
}

function tick(): void {
  run?.tick();
  const now = Date.now();
  for (const el of document.querySelectorAll<HTMLElement>('.lease[data-expires]')) updateCountdown(el, now);
}

async function start(): Promise<void> {
  const app = document.getElementById('app') ?? document.body;
  const newTask = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      onclick: () => openTaskForm(route.list as string, undefined, (saved) => store.put(saved)),
    },
    'New task',
  );
  let filterTimer: number | undefined;
  filterInput.addEventListener('input', () => {
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(() => {
      board.setFilter(filterInput.value);
      graph?.setFilter(filterInput.value);
    }, 150);
  });
  listSelect.addEventListener('change', () => go({ list: listSelect.value, view: route.view, task: undefined }));
  listSelect.addEventListener('focus', () => void refreshLists());
  replaceChildren(
    app,
    h(
      'header',
      { class: 'top' },
      h('h1', {}, 'Tasklane'),
      listSelect,
      h('nav', { class: 'tabs', 'aria-label': 'View' }, boardLink, graphLink),
      filterInput,
      newTask,
      statusEl,
    ),
    errorsEl,
    runSlot,
    h('div', { class: 'layout' }, mainEl, panelSlot),
  );
  try {
    const info = await api.info();
    defaultList = info.list;
    app.dataset.store = info.store.location;
  } catch (err) {
    showError(describeError(err));
  }
  window.addEventListener('hashchange', applyRoute);
  applyRoute();
  window.setInterval(tick, 1000);
  window.setInterval(() => store.refreshStates(), 5000);
}

void start();
