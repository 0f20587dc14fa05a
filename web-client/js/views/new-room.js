// Creating a group or peer room (mentors and coordinators), and joining one with an
// invite code (anyone, optionally under a pseudonym).

import { h } from '../dom.js';
import { errorText } from '../protocol.js';

const DEFAULT_AGREEMENT = 'What is said in this room stays in this room. We speak about our own experience, '
  + 'we do not share others’ stories outside, and we treat each other with respect.';

export function mountNewRoom(view, app) {
  const { api, store } = app;
  const title = h('input', { id: 'room-title', type: 'text', required: true, maxlength: 120 });
  const kind = h('select', { id: 'room-kind' },
    h('option', { value: 'group' }, 'Group (facilitated)'),
    h('option', { value: 'peer' }, 'Peer'));
  const agreement = h('textarea', { id: 'room-agreement', rows: 4, required: true, value: DEFAULT_AGREEMENT });
  const history = h('input', { id: 'room-history', type: 'checkbox' });
  const error = h('p', { class: 'error', role: 'alert' });
  view.append(h(
    'form',
    {
      class: 'card',
      id: 'new-room-form',
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = '';
        try {
          const reply = await api.post('/rooms', {
            title: title.value.trim(),
            kind: kind.value,
            agreement: agreement.value.trim(),
            history_visible: history.checked,
          });
          store.onFrame({ type: 'conversation', conversation: reply.conversation });
          app.navigate(`/c/${reply.conversation.id}`);
        } catch (problem) {
          error.textContent = errorText(problem.code, problem.message);
        }
      },
    },
    h('h1', {}, 'New room'),
    h('div', { class: 'field' }, h('label', { for: 'room-title' }, 'Name'), title),
    h('div', { class: 'field' }, h('label', { for: 'room-kind' }, 'Kind'), kind),
    h('div', { class: 'field' }, h('label', { for: 'room-agreement' }, 'Confidentiality agreement'), agreement,
      h('p', { class: 'muted' }, 'Every member accepts this before seeing anything in the room.')),
    h('div', { class: 'field checkbox' }, history, h('label', { for: 'room-history' }, 'New members may read what was said before they joined')),
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create room'), h('a', { class: 'button', href: '#/' }, 'Cancel')),
  ));
  title.focus();
}

/** "Join with an invite code" — a small form for the home screen. */
export function joinWithCodeForm(app) {
  const code = h('input', { id: 'join-code', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
  const pseudonym = h('input', { id: 'join-pseudonym', type: 'text', maxlength: 64, autocomplete: 'off', value: app.store.settings.default_pseudonym || '' });
  const error = h('p', { class: 'error', role: 'alert' });
  return h(
    'form',
    {
      class: 'card join-room',
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = '';
        const body = { code: code.value.trim() };
        if (pseudonym.value.trim()) body.pseudonym = pseudonym.value.trim();
        try {
          const reply = await app.api.post('/rooms/join', body);
          app.store.onFrame({ type: 'conversation', conversation: reply.conversation });
          app.navigate(`/c/${reply.conversation.id}`);
        } catch (problem) {
          error.textContent = errorText(problem.code, problem.message);
        }
      },
    },
    h('h2', {}, 'Join a room'),
    h('div', { class: 'field' }, h('label', { for: 'join-code' }, 'Invite code'), code),
    h('div', { class: 'field' }, h('label', { for: 'join-pseudonym' }, 'Your name in the room (optional pseudonym)'), pseudonym),
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Join')),
  );
}
