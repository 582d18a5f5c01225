import { formatDuration } from '../model/duration.js';
import { labelsOf, priorityOf, tasklaneFields } from '../model/task.js';
import { api, describeError } from './api.js';
import { leaseCountdown } from './card.js';
import { h, replaceChildren } from './h.js';
import type { TaskStore } from './task-store.js';
import type { JournalEntry, MoveTarget, TaskJson } from './types.js';

// The task panel: everything about one task, kept current from the store: description, result,
// verify outcome, failure, dependencies (add and remove), what finishing it unblocks, its history
// (paged forwards) and the tail of its agent's log, refreshed while it runs.

export interface PanelActions {
  close(): void;
  open(id: string): void;
  edit(task: TaskJson): void;
  move(id: string, to: MoveTarget): void;
  error(message: string): void;
  /** The latest activity of the task's running agent (a run started with the board). */
  activity(id: string): { line: string; at: number } | undefined;
}

const LOG_EVERY_MS = 2000;
const HISTORY_PAGE = 50;

export class TaskPanel {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly unblocks: HTMLElement;
  private readonly log: HTMLElement;
  private readonly activity: HTMLElement;
  private readonly history: HTMLElement;
  private readonly historyMore: HTMLButtonElement;
  private historyNext: number | undefined = 0;
  private logTimer: number | undefined;
  private disposed = false;

  constructor(
    private readonly list: string,
    readonly id: string,
    private readonly store: TaskStore,
    private readonly actions: PanelActions,
  ) {
    this.body = h('div', { class: 'panel-body' });
    this.unblocks = h('div', { class: 'unblocks' });
    this.log = h('pre', { class: 'log', tabindex: 0 });
    this.activity = h('p', { class: 'run-activity', hidden: true });
    this.history = h('ol', { class: 'history' });
    this.historyMore = h(
      'button',
      { type: 'button', class: 'more', onclick: () => void this.loadHistory() },
      'Load more history',
    );
    this.el = h(
      'aside',
      { class: 'panel', 'aria-label': `Task #${id}`, tabindex: -1 },
      h(
        'button',
        { type: 'button', class: 'close', 'aria-label': 'Close task panel', onclick: () => actions.close() },
        '×',
      ),
      this.body,
      h('section', {}, h('h3', {}, 'Finishing it unblocks'), this.unblocks),
      h('section', {}, h('h3', {}, 'Agent log'), this.activity, this.log),
      h('section', {}, h('h3', {}, 'History'), this.history, this.historyMore),
    );
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !(e.target instanceof HTMLInputElement)) actions.close();
    });
    this.render();
    void this.loadDetail();
    void this.loadHistory();
    void this.loadLog();
  }

  onStore(ids: string[] | 'all'): void {
    if (ids === 'all' || ids.includes(this.id)) {
      this.render();
      void this.loadDetail();
      void this.refreshHistory();
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.logTimer !== undefined) window.clearTimeout(this.logTimer);
  }

  /** Re-renders the panel's body, keeping what a person was typing and where the focus was. */
  private render(): void {
    const typed = new Map<string, string>();
    for (const input of this.body.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')) {
      const key = input.getAttribute('aria-label');
      if (key !== null && input.value !== '') typed.set(key, input.value);
    }
    const focused = this.body.contains(document.activeElement)
      ? (document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent)
      : undefined;
    this.renderBody();
    for (const input of this.body.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')) {
      const value = typed.get(input.getAttribute('aria-label') ?? '');
      if (value !== undefined) input.value = value;
    }
    if (focused !== undefined && focused !== null) {
      for (const el of this.body.querySelectorAll<HTMLElement>('input, select, button, a')) {
        if ((el.getAttribute('aria-label') ?? el.textContent) === focused) {
          el.focus();
          break;
        }
      }
    }
  }

  private renderBody(): void {
    const task = this.store.get(this.id);
    if (task === undefined) {
      replaceChildren(
        this.body,
        h('h2', {}, `#${this.id}`),
        h('p', { class: 'muted' }, 'This task is not in the list (deleted, or not loaded yet).'),
      );
      return;
    }
    const f = tasklaneFields(task);
    const run = agentRun(task);
    const check = run?.check;
    const labels = labelsOf(task);
    const moveTo = h(
      'select',
      { 'aria-label': 'Move to' },
      h('option', { value: '', disabled: true }, 'Move to…'),
      h('option', { value: 'pending' }, 'Ready (pending)'),
      h('option', { value: 'in_progress' }, 'In progress'),
      h('option', { value: 'completed' }, 'Completed'),
      h('option', { value: 'failed' }, 'Failed'),
    );
    moveTo.selectedIndex = 0;
    const blockerInput = h('input', {
      'aria-label': 'Add blocker (task id)',
      placeholder: 'id',
      size: 6,
      class: 'dep-input',
    });
    const blocksInput = h('input', {
      'aria-label': 'Add blocked task (task id)',
      placeholder: 'id',
      size: 6,
      class: 'dep-input',
    });
    replaceChildren(
      this.body,
      h('h2', { class: 'panel-title' }, h('span', { class: 'card-id' }, `#${task.id}`), ' ', task.subject),
      h(
        'p',
        { class: 'panel-meta' },
        h('span', { class: `badge state state-${task.state}` }, task.state.replace('_', ' ')),
        task.owner !== undefined && task.owner !== '' && h('span', {}, `owner @${task.owner}`),
        h('span', {}, `priority ${priorityOf(task)}`),
        typeof f.estimate === 'number' && h('span', {}, `estimate ${formatDuration(f.estimate * 1000)}`),
        typeof f.attempts === 'number' && h('span', {}, `attempts ${f.attempts}`),
        task.status === 'in_progress' && f.lease !== undefined && leaseCountdown(f.lease.expiresAt),
        labels.length > 0 &&
          h('span', { class: 'card-labels' }, ...labels.map((l) => h('span', { class: 'label' }, l))),
      ),
      h(
        'div',
        { class: 'panel-actions' },
        h('button', { type: 'button', onclick: () => this.actions.edit(task) }, 'Edit'),
        moveTo,
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              if (moveTo.value !== '') this.actions.move(task.id, moveTo.value as MoveTarget);
            },
          },
          'Move',
        ),
        task.state === 'failed' && h('button', { type: 'button', onclick: () => void this.retry() }, 'Retry'),
        h('button', { type: 'button', class: 'danger', onclick: () => void this.remove(task) }, 'Delete'),
      ),
      section(
        'Description',
        task.description === ''
          ? h('p', { class: 'muted' }, 'No description.')
          : h('div', { class: 'text' }, task.description),
      ),
      section(
        'Blocked by',
        this.depList(task.blockedBy, (other) => [other, task.id]),
        this.depForm(blockerInput, 'Add blocker', () => [blockerInput.value, task.id]),
      ),
      section(
        'Blocks',
        this.depList(task.blocks, (other) => [task.id, other]),
        this.depForm(blocksInput, 'Add blocked task', () => [task.id, blocksInput.value]),
      ),
      typeof f.result === 'string' &&
        f.result !== '' &&
        section('Result', h('div', { class: 'text result' }, f.result)),
      (check !== undefined || f.verify !== undefined) &&
        section(
          'Verify',
          h('p', {}, h('code', {}, check?.command ?? f.verify ?? '')),
          check !== undefined
            ? h(
                'p',
                { class: check.passed ? 'ok' : 'bad' },
                check.passed
                  ? 'passed'
                  : `failed${check.exitCode !== undefined ? ` (exit ${check.exitCode})` : ''}${check.error !== undefined ? `: ${check.error}` : ''}`,
              )
            : h('p', { class: 'muted' }, 'not run yet'),
          check?.outputTail !== undefined && check.outputTail !== '' && h('pre', { class: 'log' }, check.outputTail),
        ),
      f.failure !== undefined &&
        section(
          'Failure',
          h('div', { class: 'text bad' }, f.failure.reason),
          h('p', { class: 'muted' }, `attempt ${f.failure.attempt} at ${f.failure.at}`),
          (f.failures?.length ?? 0) > 1 &&
            h(
              'details',
              {},
              h('summary', {}, `${f.failures?.length} failures in all`),
              h(
                'ol',
                {},
                ...(f.failures ?? []).map((x) => h('li', {}, `attempt ${x.attempt} at ${x.at}: ${x.reason}`)),
              ),
            ),
        ),
      run?.costUsd !== undefined &&
        section('Agent', h('p', {}, `${run.preset ?? 'agent'}, cost $${run.costUsd.toFixed(4)}`)),
    );
  }

  private depList(ids: string[], edge: (other: string) => [string, string]): HTMLElement {
    if (ids.length === 0) return h('p', { class: 'muted' }, 'none');
    return h(
      'ul',
      { class: 'deps' },
      ...ids.map((id) => {
        const other = this.store.get(id);
        return h(
          'li',
          {},
          h('a', { href: `#/list/${encodeURIComponent(this.list)}/task/${encodeURIComponent(id)}` }, `#${id}`),
          ' ',
          other?.subject ?? '(not in list)',
          other !== undefined &&
            h('span', { class: `badge state state-${other.state}` }, other.state.replace('_', ' ')),
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              'aria-label': `Remove dependency on #${id}`,
              onclick: () => void this.dependency('remove', ...edge(id)),
            },
            'remove',
          ),
        );
      }),
    );
  }

  private depForm(input: HTMLInputElement, label: string, edge: () => [string, string]): HTMLElement {
    const form = h('form', { class: 'dep-form' }, input, h('button', { type: 'submit', class: 'small' }, label));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const [blocker, blocked] = edge().map((id) => id.trim().replace(/^#/, '')) as [string, string];
      if (blocker !== '' && blocked !== '') void this.dependency('add', blocker, blocked);
    });
    return form;
  }

  private async dependency(op: 'add' | 'remove', blocker: string, blocked: string): Promise<void> {
    try {
      if (op === 'add') await api.addDependency(this.list, blocker, blocked);
      else await api.removeDependency(this.list, blocker, blocked);
    } catch (err) {
      this.actions.error(describeError(err));
    }
  }

  private async retry(): Promise<void> {
    try {
      this.store.put((await api.retry(this.list, this.id)).task);
    } catch (err) {
      this.actions.error(describeError(err));
    }
  }

  private async remove(task: TaskJson): Promise<void> {
    if (!window.confirm(`Delete #${task.id} "${task.subject}"? Its dependencies are removed with it.`)) return;
    try {
      await api.remove(this.list, task.id);
      this.actions.close();
    } catch (err) {
      this.actions.error(describeError(err));
    }
  }

  private async loadDetail(): Promise<void> {
    try {
      const detail = await api.task(this.list, this.id);
      if (this.disposed) return;
      replaceChildren(
        this.unblocks,
        detail.unblocks.length === 0
          ? h('p', { class: 'muted' }, 'nothing new becomes ready')
          : h(
              'ul',
              { class: 'deps' },
              ...detail.unblocks.map((id) =>
                h(
                  'li',
                  {},
                  h('a', { href: `#/list/${encodeURIComponent(this.list)}/task/${encodeURIComponent(id)}` }, `#${id}`),
                  ' ',
                  this.store.get(id)?.subject ?? '',
                ),
              ),
            ),
      );
    } catch (err) {
      replaceChildren(this.unblocks, h('p', { class: 'bad' }, describeError(err)));
    }
  }

  private async loadHistory(): Promise<void> {
    if (this.historyNext === undefined) return;
    try {
      const page = await api.history(this.list, this.id, this.historyNext, HISTORY_PAGE);
      if (this.disposed) return;
      for (const entry of page.entries) this.history.appendChild(historyLine(entry));
      const last = page.entries.at(-1)?.seq;
      this.historyNext = page.next ?? (page.entries.length >= HISTORY_PAGE ? last : undefined);
      this.lastSeq = last ?? this.lastSeq;
      this.historyMore.hidden = page.next === undefined && page.entries.length < HISTORY_PAGE;
      if (this.history.childElementCount === 0) this.history.appendChild(h('li', { class: 'muted' }, 'no history'));
    } catch (err) {
      this.history.appendChild(h('li', { class: 'bad' }, describeError(err)));
      this.historyMore.hidden = true;
    }
  }

  private lastSeq = 0;

  /** After a change, fetch what follows the last entry shown (only once every page is loaded). */
  private async refreshHistory(): Promise<void> {
    if (!this.historyMore.hidden) return;
    try {
      const page = await api.history(this.list, this.id, this.lastSeq, HISTORY_PAGE);
      if (this.disposed) return;
      this.history.querySelector('li.muted')?.remove();
      for (const entry of page.entries) {
        if (entry.seq <= this.lastSeq) continue;
        this.history.appendChild(historyLine(entry));
        this.lastSeq = entry.seq;
      }
    } catch {
      // The next change tries again.
    }
  }

  private async loadLog(): Promise<void> {
    if (this.disposed) return;
    const task = this.store.get(this.id);
    const activity = this.actions.activity(this.id);
    this.activity.hidden = activity === undefined;
    this.activity.textContent = activity === undefined ? '' : `Latest: ${activity.line}`;
    try {
      const tail = await api.log(this.list, this.id);
      if (this.disposed) return;
      const atBottom = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 8;
      this.log.textContent = tail.text === '' ? '(empty)' : `${tail.truncated ? '…\n' : ''}${tail.text}`;
      if (atBottom) this.log.scrollTop = this.log.scrollHeight;
    } catch (err) {
      this.log.textContent =
        (err as { code?: string }).code === 'NOT_FOUND' ? 'No agent log for this task.' : describeError(err);
    }
    // Follow the log while the task runs.
    if (task === undefined || task.state === 'in_progress' || this.store.get(this.id)?.state === 'in_progress') {
      this.logTimer = window.setTimeout(() => void this.loadLog(), LOG_EVERY_MS);
    }
  }
}

function section(title: string, ...children: (Node | false | undefined)[]): HTMLElement {
  return h('section', {}, h('h3', {}, title), ...children);
}

function historyLine(e: JournalEntry): HTMLElement {
  return h(
    'li',
    { 'data-seq': e.seq },
    h('time', { datetime: e.at }, new Date(e.at).toLocaleString()),
    ' ',
    h('strong', {}, e.kind),
    e.actor !== undefined && ` by ${e.actor}`,
    e.task !== undefined && ` · ${e.task.status}${e.task.owner !== undefined ? ` @${e.task.owner}` : ''}`,
  );
}

interface AgentRun {
  preset?: string;
  costUsd?: number;
  check?: { command: string; passed: boolean; exitCode?: number; error?: string; outputTail?: string };
}

function agentRun(task: TaskJson): AgentRun | undefined {
  const run = task.metadata?.agentRun;
  return run !== null && typeof run === 'object' && !Array.isArray(run) ? (run as AgentRun) : undefined;
}
