import { revisionOf } from '../model/revision.js';
import { labelsOf, priorityOf } from '../model/task.js';
import { api, describeError } from './api.js';
import { h } from './h.js';
import type { NewTask, TaskJson, TaskPatch } from './types.js';

// Create and edit a task in a modal dialog: subject, description, priority, labels, blockers.
// An edit is sent with the revision it was made from (ifRev), so a change made meanwhile by
// anyone else is refused with CONFLICT instead of being overwritten.

export function openTaskForm(list: string, task: TaskJson | undefined, done: (saved: TaskJson) => void): void {
  const field = (label: string, input: HTMLElement, hint?: string): HTMLElement =>
    h('label', { class: 'field' }, h('span', {}, label), input, hint !== undefined && h('small', {}, hint));
  const subject = h('input', { name: 'subject', required: true, maxlength: 500, autocomplete: 'off' });
  const description = h('textarea', { name: 'description', rows: 6 });
  const priority = h('input', { name: 'priority', type: 'number', step: 1 });
  const labels = h('input', { name: 'labels', autocomplete: 'off' });
  const blockers = h('input', { name: 'blockedBy', autocomplete: 'off' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  subject.value = task?.subject ?? '';
  description.value = task?.description ?? '';
  priority.value = String(task === undefined ? 0 : priorityOf(task));
  labels.value = task === undefined ? '' : labelsOf(task).join(', ');
  blockers.value = task === undefined ? '' : task.blockedBy.join(', ');
  const save = h('button', { type: 'submit', class: 'primary' }, task === undefined ? 'Create' : 'Save');
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const form = h(
    'form',
    { method: 'dialog', class: 'task-form' },
    h('h2', {}, task === undefined ? 'New task' : `Edit #${task.id}`),
    field('Subject', subject),
    field('Description', description),
    field('Priority', priority, 'higher runs first'),
    field('Labels', labels, 'comma separated'),
    field('Blocked by', blockers, 'task ids, comma separated'),
    error,
    h('div', { class: 'form-actions' }, cancel, save),
  );
  const dialog = h('dialog', { class: 'dialog' }, form);
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const p = Number(priority.value);
    if (!Number.isInteger(p)) {
      error.textContent = 'INVALID_INPUT: priority must be a whole number';
      return;
    }
    const wantLabels = splitList(labels.value);
    const wantBlockers = splitList(blockers.value).map((id) => id.replace(/^#/, ''));
    save.disabled = true;
    try {
      let saved: TaskJson;
      if (task === undefined) {
        const input: NewTask = { subject: subject.value, description: description.value, priority: p };
        if (wantLabels.length > 0) input.labels = wantLabels;
        if (wantBlockers.length > 0) input.blockedBy = wantBlockers;
        saved = (await api.create(list, input)).task;
      } else {
        // The revision of the task as stored: `state` is the API's derived field, not part of it
        // (a key the task does not model would count in its fingerprint and read as an outside edit).
        const { state: _state, ...stored } = task;
        const patch: TaskPatch = { ifRev: revisionOf(stored) };
        if (subject.value !== task.subject) patch.subject = subject.value;
        if (description.value !== task.description) patch.description = description.value;
        if (p !== priorityOf(task)) patch.priority = p;
        if (wantLabels.join('\n') !== labelsOf(task).join('\n')) patch.labels = wantLabels;
        const add = wantBlockers.filter((id) => !task.blockedBy.includes(id));
        const remove = task.blockedBy.filter((id) => !wantBlockers.includes(id));
        if (add.length > 0) patch.addBlockedBy = add;
        if (remove.length > 0) patch.removeBlockedBy = remove;
        saved = (await api.update(list, task.id, patch)).task;
      }
      dialog.close();
      done(saved);
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      save.disabled = false;
    }
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  subject.focus();
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
