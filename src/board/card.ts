import { formatDuration } from '../model/duration.js';
import { openBlockers } from '../model/graph.js';
import { labelsOf, priorityOf, tasklaneFields } from '../model/task.js';
import { h } from './h.js';
import type { TaskJson } from './types.js';

// One card: subject, #id, owner, open blockers, priority, labels, the lease countdown of a
// claimed task and an excerpt of its result or failure. Every string from the task is text.

const EXCERPT = 140;

export function renderCard(task: TaskJson, byId: ReadonlyMap<string, TaskJson>): HTMLElement {
  const f = tasklaneFields(task);
  const blockers = openBlockers(task, byId);
  const labels = labelsOf(task);
  const priority = priorityOf(task);
  const excerpt = task.state === 'failed' ? f.failure?.reason : f.result;
  const lease = task.status === 'in_progress' ? f.lease : undefined;
  return h(
    'article',
    {
      class: `card state-${task.state}`,
      tabindex: 0,
      draggable: 'true',
      'data-id': task.id,
      'data-state': task.state,
      'aria-label': `#${task.id} ${task.subject} (${task.state})`,
    },
    h(
      'div',
      { class: 'card-top' },
      h('span', { class: 'card-id' }, `#${task.id}`),
      priority !== 0 && h('span', { class: 'badge priority', title: 'priority' }, `P${priority}`),
      task.state === 'assigned' && h('span', { class: 'badge assigned' }, 'assigned'),
      task.state === 'expired' && h('span', { class: 'badge expired' }, 'lease expired'),
      lease !== undefined && leaseCountdown(lease.expiresAt),
    ),
    h('div', { class: 'card-subject' }, task.subject),
    task.owner !== undefined && task.owner !== '' && h('div', { class: 'card-owner' }, `@${task.owner}`),
    blockers.length > 0 &&
      h('div', { class: 'card-blockers' }, `blocked by ${blockers.map((id) => `#${id}`).join(', ')}`),
    labels.length > 0 && h('div', { class: 'card-labels' }, ...labels.map((l) => h('span', { class: 'label' }, l))),
    typeof excerpt === 'string' &&
      excerpt !== '' &&
      h('div', { class: 'card-excerpt' }, excerpt.length > EXCERPT ? `${excerpt.slice(0, EXCERPT)}…` : excerpt),
  );
}

/** A countdown to a lease's expiry; the ticker in main.ts keeps its text current. */
export function leaseCountdown(expiresAt: string): HTMLElement {
  const el = h('span', { class: 'lease', 'data-expires': expiresAt, title: `lease until ${expiresAt}` });
  updateCountdown(el, Date.now());
  return el;
}

export function updateCountdown(el: HTMLElement, now: number): void {
  const at = Date.parse(el.dataset.expires ?? '');
  const left = Math.round((at - now) / 1000);
  if (!(left > 0)) {
    el.textContent = 'lease ran out';
    el.classList.add('ran-out');
    return;
  }
  const m = Math.floor(left / 60);
  const s = left % 60;
  // A clock under an hour (it ticks every second); the project's one duration format above.
  el.textContent = m >= 60 ? `lease ${formatDuration(left * 1000)}` : `lease ${m}:${String(s).padStart(2, '0')}`;
}

/** Whether the text filter matches: every word found in the id, subject, description, owner, labels or state. */
export function matchesFilter(task: TaskJson, words: string[]): boolean {
  if (words.length === 0) return true;
  const hay =
    `#${task.id} ${task.subject} ${task.description} @${task.owner ?? ''} ${labelsOf(task).join(' ')} ${task.state}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

export function filterWords(query: string): string[] {
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
}
