import { api, describeError } from './api.js';
import { filterWords, matchesFilter } from './card.js';
import { h, replaceChildren, svg } from './h.js';
import type { StoreEvent, TaskStore } from './task-store.js';
import type { GraphLayout } from './types.js';

// The dependency graph as the server laid it out (dagre: node x/y are centres), drawn as SVG.
// Nodes are coloured by state, the critical path is marked, and a node opens its task.

const LABEL = 28;

export class GraphView {
  readonly el: HTMLElement;
  private readonly canvas: HTMLElement;
  private readonly summary: HTMLElement;
  /** Each node's subject line and title (its tooltip and accessible name), by id: a task's text can arrive after the layout. */
  private readonly labels = new Map<string, { subject: SVGTextElement; title: SVGTitleElement; state: string }>();
  private words: string[] = [];
  private timer: number | undefined;
  private loading = false;
  private again = false;

  constructor(
    private readonly list: string,
    private readonly store: TaskStore,
    private readonly open: (id: string) => void,
    private readonly onError: (message: string) => void,
  ) {
    this.summary = h('p', { class: 'graph-summary' }, 'Laying out the graph…');
    const legend = h(
      'p',
      { class: 'graph-legend' },
      ...(['ready', 'assigned', 'expired', 'blocked', 'in_progress', 'completed', 'failed'] as const).map((state) =>
        h('span', { class: `legend state-${state}` }, state.replace('_', ' ')),
      ),
      h('span', { class: 'legend critical' }, 'critical path'),
    );
    this.canvas = h('div', { class: 'graph-canvas' });
    this.el = h('div', { class: 'graph' }, this.summary, legend, this.canvas);
    void this.load();
  }

  /** The store changed: relabel the nodes it names now, and lay out again at most about once a second. */
  onStore(e: StoreEvent): void {
    for (const id of e.kind === 'reset' ? this.labels.keys() : e.ids) this.relabel(id);
    if (this.timer !== undefined) return;
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      void this.load();
    }, 800);
  }

  /** Dims the nodes the filter leaves out (the layout stays: the graph keeps its shape). */
  setFilter(query: string): void {
    this.words = filterWords(query);
    for (const id of this.labels.keys()) this.dim(id);
  }

  private dim(id: string): void {
    const task = this.store.get(id);
    const node = this.labels.get(id)?.subject.parentElement;
    node?.classList.toggle('dim', this.words.length > 0 && (task === undefined || !matchesFilter(task, this.words)));
  }

  dispose(): void {
    if (this.timer !== undefined) window.clearTimeout(this.timer);
  }

  private relabel(id: string): void {
    const label = this.labels.get(id);
    if (label === undefined) return;
    const subject = this.store.get(id)?.subject ?? '';
    label.subject.textContent = truncate(subject);
    label.title.textContent = `#${id} ${subject} [${label.state}]`;
    this.dim(id);
  }

  private async load(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      this.draw(await api.graph(this.list));
    } catch (err) {
      this.onError(describeError(err));
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        void this.load();
      }
    }
  }

  private draw(layout: GraphLayout): void {
    const path = layout.criticalPath;
    replaceChildren(
      this.summary,
      layout.nodes.length === 0
        ? 'No tasks in this list.'
        : path.length > 0
          ? `Critical path (${path.length} tasks): ${path.map((id) => `#${id}`).join(' → ')}`
          : 'No unfinished tasks: no critical path.',
    );
    const pad = 16;
    const root = svg(
      'svg',
      {
        class: 'graph-svg',
        viewBox: `${-pad} ${-pad} ${layout.width + 2 * pad} ${layout.height + 2 * pad}`,
        width: layout.width + 2 * pad,
        height: layout.height + 2 * pad,
        role: 'img',
        'aria-label': `Dependency graph of ${layout.nodes.length} tasks`,
      },
      svg('defs', {}, arrow('arrow', 'edge-arrow'), arrow('arrow-critical', 'edge-arrow critical')),
    );
    const edges = svg('g', { class: 'edges' });
    for (const e of layout.edges) {
      if (e.points.length === 0) continue;
      const d = e.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      edges.appendChild(
        svg('path', {
          class: e.critical ? 'edge critical' : 'edge',
          d,
          'marker-end': e.critical ? 'url(#arrow-critical)' : 'url(#arrow)',
          'data-from': e.from,
          'data-to': e.to,
        }),
      );
    }
    const nodes = svg('g', { class: 'nodes' });
    this.labels.clear();
    for (const n of layout.nodes) {
      const title = svg('title', {});
      const text = svg('text', { x: 14, y: n.height / 2 + 12, class: 'node-subject' });
      this.labels.set(n.id, { subject: text, title, state: n.critical ? `${n.state}, critical path` : n.state });
      this.relabel(n.id);
      const g = svg(
        'g',
        {
          class: `node state-${n.state}${n.critical ? ' critical' : ''}`,
          'data-id': n.id,
          tabindex: 0,
          role: 'button',
          transform: `translate(${(n.x - n.width / 2).toFixed(1)},${(n.y - n.height / 2).toFixed(1)})`,
        },
        title,
        svg('rect', { class: 'node-box', width: n.width, height: n.height, rx: 6 }),
        svg('rect', { class: 'node-state', width: 6, height: n.height, rx: 3 }),
        svg('text', { x: 14, y: n.height / 2 - 4, class: 'node-id' }, `#${n.id}`),
        svg('text', { x: n.width - 8, y: n.height / 2 - 4, class: 'node-state-name' }, n.state.replace('_', ' ')),
        text,
      );
      nodes.appendChild(g);
      this.dim(n.id);
    }
    root.append(edges, nodes);
    root.addEventListener('click', (e) => {
      const id = (e.target as Element).closest<SVGGElement>('.node')?.dataset.id;
      if (id !== undefined) this.open(id);
    });
    root.addEventListener('keydown', (e) => {
      const id = (e.target as Element).closest<SVGGElement>('.node')?.dataset.id;
      if (id !== undefined && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        this.open(id);
      }
    });
    replaceChildren(this.canvas, root);
  }
}

function truncate(text: string): string {
  return text.length > LABEL ? `${text.slice(0, LABEL - 1)}…` : text;
}

function arrow(id: string, cls: string): SVGMarkerElement {
  return svg(
    'marker',
    // Sized in the drawing's units, so a thicker critical edge does not get a bigger head.
    {
      id,
      class: cls,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: 8,
      markerHeight: 8,
      markerUnits: 'userSpaceOnUse',
      orient: 'auto',
    },
    svg('path', { d: 'M0,0 L10,5 L0,10 z' }),
  );
}
