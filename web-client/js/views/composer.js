// Writing a message: Enter sends (Shift+Enter for a new line), typing is announced to
// the others while keys are pressed, and everything goes through the outbox so a
// message written offline is sent when the connection is back.

import { h } from '../dom.js';
import { frames } from '../protocol.js';

const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 5000;

export function createComposer(app, conversation, { thread = null } = {}) {
  const { outbox, connection, store } = app;
  const id = `composer-${thread ?? 'main'}`;
  const input = h('textarea', { id, class: 'composer-input', rows: 2, autocomplete: 'off', placeholder: thread ? 'Reply in thread' : 'Write a message' });
  const hint = h('p', { class: 'muted composer-hint', id: `${id}-hint` });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  input.setAttribute('aria-describedby', hint.id);
  let typingSentAt = 0;
  let idleTimer = null;

  function setTyping(active) {
    if (!connection.ready) return;
    connection.send(frames.typing(conversation, active, thread ?? undefined));
  }

  input.addEventListener('input', () => {
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
        const body = input.value.trim();
        if (!body) return;
        const max = store.limits?.max_body_chars || 4000;
        if ([...body].length > max) {
          hint.textContent = `Messages are limited to ${max} characters.`;
          return;
        }
        outbox.add(conversation, body, thread);
        input.value = '';
        hint.textContent = '';
        stopTyping();
        input.focus();
      },
    },
    h('label', { for: id, class: 'visually-hidden' }, thread ? 'Reply' : 'Message'),
    input,
    send,
    hint,
  );

  /** Enables or disables writing, with the reason shown under the box. */
  function setWritable(writable, reason = '') {
    input.disabled = !writable;
    send.disabled = !writable;
    hint.textContent = writable ? '' : reason;
  }

  return { element: form, setWritable, focus: () => input.focus(), destroy: stopTyping };
}
