import { filterWords, matchesFilter, renderCard } from './card.js';
import { COLUMNS, type ColumnSpec, columnFor } from './columns.js';
import { h } from './h.js';
import type { StoreEvent, TaskStore } from './task-store.js';
import type { MoveTarget, TaskJson } from './types.js';

// The columns. Large lists stay quick: a column renders its first PAGE cards and a "show more"
// button, and a change moves or replaces one card (found by id) instead of rebuilding the board.

const PAGE = 200;

export interface BoardActions {
  open(id: string): void;
  move(id: string, to: MoveTarget): void;
}

class ColumnView {
  /** Every matching task of this column, in the column's order; the first `shown` are rendered. */
  ids: string[] = [];
  shown = PAGE;
  readonly el: HTMLElement;
  readonly body: HTMLElement;
  private readonly count: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly cards = new Map<string, HTMLElement>();

  constructor(
    readonly spec: ColumnSpec,
    private readonly store: TaskStore,
    private readonly actions: BoardActions,
  ) {
    this.count = h('span', { class: 'count' }, '0');
    this.body = h('div', { class: 'column-body', 'aria-label': spec.title });
    this.more = h('button', { class: 'more', type: 'button', onclick: () => this.showMore() }, '');
    this.el = h(
      'section',
      { class: `column column-${spec.key}`, 'data-column': spec.key },
      h('h2', {}, spec.title, ' ', this.count),
      this.body,
      this.more,
    );
    if (spec.drop !== undefined) this.acceptDrops(spec.drop);
    else this.el.classList.add('no-drop');
  }

  private task(id: string): TaskJson {
    return this.store.get(id) as TaskJson;
  }

  /** Replaces everything (a snapshot, a new filter). */
  reset(ids: string[]): void {
    this.ids = ids.sort((a, b) => this.spec.compare(this.task(a), this.task(b)));
    this.shown = PAGE;
    this.cards.clear();
    const frag = document.createDocumentFragment();
    for (const id of this.ids.slice(0, this.shown)) frag.appendChild(this.card(id));
    this.body.replaceChildren(frag);
    this.footer();
  }

  remove(id: string): void {
    const i = this.ids.indexOf(id);
    if (i < 0) return;
    this.ids.splice(i, 1);
    const el = this.cards.get(id);
    if (el !== undefined) {
      el.remove();
      this.cards.delete(id);
      // Pull the next card up into the rendered page.
      const next = this.ids[this.shown - 1];
      if (next !== undefined && !this.cards.has(next)) this.body.appendChild(this.card(next));
    }
    this.footer();
  }

  insert(id: string): void {
    const task = this.task(id);
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.spec.compare(this.task(this.ids[mid] as string), task) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.ids.splice(lo, 0, id);
    if (lo < this.shown) {
      const before = this.body.children[lo] ?? null;
      this.body.insertBefore(this.card(id), before);
      // Keep the page at `shown` cards.
      const pushed = this.ids[this.shown];
      if (pushed !== undefined) {
        this.cards.get(pushed)?.remove();
        this.cards.delete(pushed);
      }
    }
    this.footer();
  }

  has(id: string): boolean {
    return this.cards.has(id);
  }

  cardEl(id: string): HTMLElement | undefined {
    return this.cards.get(id);
  }

  private showMore(): void {
    const from = this.shown;
    this.shown += PAGE;
    const frag = document.createDocumentFragment();
    for (const id of this.ids.slice(from, this.shown)) frag.appendChild(this.card(id));
    this.body.appendChild(frag);
    this.footer();
  }

  private card(id: string): HTMLElement {
    const el = renderCard(this.task(id), this.store.tasks);
    this.cards.set(id, el);
    return el;
  }

  private footer(): void {
    this.count.textContent = String(this.ids.length);
    const hidden = this.ids.length - Math.min(this.shown, this.ids.length);
    this.more.hidden = hidden <= 0;
    this.more.textContent = `Show ${Math.min(hidden, PAGE)} more (${hidden} not shown)`;
  }

  private acceptDrops(to: MoveTarget): void {
    this.el.addEventListener('dragover', (e) => {
      if (!e.dataTransfer?.types.includes('text/plain')) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      this.el.classList.add('drop-here');
    });
    this.el.addEventListener('dragleave', (e) => {
      if (!this.el.contains(e.relatedTarget as Node | null)) this.el.classList.remove('drop-here');
    });
    this.el.addEventListener('drop', (e) => {
      e.preventDefault();
      this.el.classList.remove('drop-here');
      const id = e.dataTransfer?.getData('text/plain');
      if (id !== undefined && id !== '' && !this.cards.has(id)) this.actions.move(id, to);
    });
  }
}

export class BoardView {
  readonly el: HTMLElement;
  private readonly columns: ColumnView[];
  private readonly placed = new Map<string, ColumnView>();
  private words: string[] = [];

  constructor(
    private readonly store: TaskStore,
    actions: BoardActions,
  ) {
    this.columns = COLUMNS.map((spec) => new ColumnView(spec, store, actions));
    this.el = h('div', { class: 'board' }, ...this.columns.map((c) => c.el));
    this.el.addEventListener('click', (e) => {
      const card = (e.target as Element).closest<HTMLElement>('.card');
      if (card?.dataset.id !== undefined) actions.open(card.dataset.id);
    });
    this.el.addEventListener('keydown', (e) => {
      const card = (e.target as Element).closest<HTMLElement>('.card');
      if (card?.dataset.id !== undefined && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        actions.open(card.dataset.id);
      }
    });
    this.el.addEventListener('dragstart', (e) => {
      const card = (e.target as Element).closest<HTMLElement>('.card');
      if (card?.dataset.id === undefined || e.dataTransfer === null) return;
      e.dataTransfer.setData('text/plain', card.dataset.id);
      e.dataTransfer.effectAllowed = 'move';
      card.classList.add('dragging');
    });
    this.el.addEventListener('dragend', (e) => (e.target as Element).closest('.card')?.classList.remove('dragging'));
  }

  /** Applies what changed in the store. */
  onStore(e: StoreEvent): void {
    if (e.kind === 'reset') this.renderAll();
    else for (const id of e.ids) this.update(id);
  }

  setFilter(query: string): void {
    this.words = filterWords(query);
    this.renderAll();
  }

  private renderAll(): void {
    const buckets = new Map<ColumnView, string[]>(this.columns.map((c) => [c, []]));
    this.placed.clear();
    for (const task of this.store.tasks.values()) {
      if (!matchesFilter(task, this.words)) continue;
      const column = this.columnView(task);
      buckets.get(column)?.push(task.id);
      this.placed.set(task.id, column);
    }
    for (const [column, ids] of buckets) column.reset(ids);
  }

  private update(id: string): void {
    const task = this.store.get(id);
    const before = this.placed.get(id);
    const hadFocus = before?.cardEl(id)?.contains(document.activeElement) === true;
    if (before !== undefined) {
      before.remove(id);
      this.placed.delete(id);
    }
    if (task === undefined || !matchesFilter(task, this.words)) return;
    const column = this.columnView(task);
    column.insert(id);
    this.placed.set(id, column);
    if (hadFocus) column.cardEl(id)?.focus();
  }

  private columnView(task: TaskJson): ColumnView {
    const spec = columnFor(task.state);
    return this.columns.find((c) => c.spec === spec) as ColumnView;
  }
}
