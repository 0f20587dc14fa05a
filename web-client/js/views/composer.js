// Writing a message: Enter sends (Shift+Enter for a new line), typing is announced to
// the others while keys are pressed, and everything goes through the outbox so a
// message written offline is sent when the connection is back.

import { bodyBudget, bodyToSend, budgetText, maxBodyBytes } from '../body-limit.js';
import { h } from '../dom.js';
import { frames } from '../protocol.js';

const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 5000;

export function createComposer(app, conversation, { thread = null } = {}) {
  const { outbox, connection, store } = app;
  const id = `composer-${thread ?? 'main'}`;
  const input = h('textarea', { id, class: 'composer-input', rows: 2, autocomplete: 'off', placeholder: thread ? 'Reply in thread' : 'Write a message' });
  const hint = h('p', { class: 'muted composer-hint', id: `${id}-hint` });
  // Polite: read out when it appears or changes, not on every key.
  const budget = h('p', { class: 'composer-budget', id: `${id}-budget`, 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  input.setAttribute('aria-describedby', `${hint.id} ${budget.id}`);
  let typingSentAt = 0;
  let idleTimer = null;
  let writable = true;

  /** Shows the byte budget near the limit; over it, sending is off. */
  function checkBudget() {
    const state = bodyBudget(input.value, maxBodyBytes(store));
    const text = budgetText(state);
    if (budget.textContent !== text) budget.textContent = text;
    budget.classList.toggle('over', state.over);
    if (state.over) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    send.disabled = !writable || state.over;
    return state;
  }

  function setTyping(active) {
    if (!connection.ready) return;
    connection.send(frames.typing(conversation, active, thread ?? undefined));
  }

  input.addEventListener('input', () => {
    checkBudget();
    const now = Date.now();
    if (input.value.trim() && now - typingSentAt > TYPING_REPEAT_MS) {
      typingSentAt = now;
      setTyping(true);
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('blur', () => stopTyping());

  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingSentAt) {
      typingSentAt = 0;
      setTyping(false);
    }
  }

  const form = h(
    'form',
    {
      class: 'composer',
      onsubmit: (event) => {
        event.preventDefault();
        const state = checkBudget();
        if (state.blank || state.over || !writable) return;
        outbox.add(conversation, bodyToSend(input.value), thread);
        input.value = '';
        hint.textContent = '';
        checkBudget();
        stopTyping();
        input.focus();
      },
    },
    h('label', { for: id, class: 'visually-hidden' }, thread ? 'Reply' : 'Message'),
    input,
    send,
    budget,
    hint,
  );

  /** Enables or disables writing, with the reason shown under the box. */
  function setWritable(can, reason = '') {
    writable = can;
    input.disabled = !can;
    hint.textContent = can ? '' : reason;
    checkBudget();
  }

  return { element: form, setWritable, focus: () => input.focus(), destroy: stopTyping };
}
