// A small modal form built on <dialog> (focus trapped, Escape cancels, labelled) for
// the actions that deserve a second thought: ending, reporting, blocking.

import { h } from '../dom.js';

/**
 * Resolves with the fields' values when confirmed, or null when cancelled.
 * @param {{title: string, text?: string, field?: {label: string, hint?: string}, confirm: string, danger?: boolean}} options
 */
export function ask({ title, text, field, confirm, danger = false }) {
  return new Promise((resolve) => {
    const input = field ? h('textarea', { id: 'ask-field', rows: 3, maxlength: 2000 }) : null;
    const dialog = h(
      'dialog',
      { class: 'ask', 'aria-labelledby': 'ask-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'ask-title' }, title),
        text ? h('p', {}, text) : null,
        field ? h('label', { for: 'ask-field' }, field.label) : null,
        input,
        field?.hint ? h('p', { class: 'muted' }, field.hint) : null,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, confirm),
          h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel'),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(ok ? { text: input?.value.trim() || '' } : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * A message the person must see (instead of the browser's `alert`): a labelled modal
 * with one button. Resolves when it is closed.
 * @param {string} text
 * @param {{title?: string, details?: (Node|string)[]}} [options]
 */
export function tell(text, { title = 'Something went wrong', details = [] } = {}) {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { class: 'ask tell', 'aria-labelledby': 'tell-title', 'aria-describedby': 'tell-text' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'tell-title' }, title),
        h('p', { id: 'tell-text' }, text),
        details,
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'OK')),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
