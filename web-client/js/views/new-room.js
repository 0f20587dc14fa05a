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

/** What a refused join means, in words (the server answers a wrong, used or expired
 * code alike, so nobody can probe which codes existed). */
function joinErrorText(error) {
  if (error.code === 'not_found') {
    return 'This invite code does not work. Each code works once and for 7 days: it may have been used already, '
      + 'have expired, or be mistyped. Ask the facilitator for a new one.';
  }
  if (error.code === 'conflict') return 'You are already a member of this room.';
  if (error.code === 'room_full') return 'This room is full. Ask the facilitator whether a place can be made.';
  if (error.code === 'name_taken') return 'Someone in this room already uses that name. Choose another.';
  return errorText(error.code, error.message);
}

/** "Join with an invite code": a form for the home screen and for invite links. */
export function joinWithCodeForm(app, { code: given = '', heading = 'h2' } = {}) {
  const code = h('input', { id: 'join-code', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', value: given });
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
          error.textContent = joinErrorText(problem);
        }
      },
    },
    h(heading, {}, 'Join a room'),
    given ? h('p', {}, 'You were invited to a room. Choose how you appear there, then join: you will see the room’s confidentiality agreement first.') : null,
    h('div', { class: 'field' }, h('label', { for: 'join-code' }, 'Invite code'), code),
    h('div', { class: 'field' }, h('label', { for: 'join-pseudonym' }, 'Your name in the room (optional pseudonym)'), pseudonym,
      h('p', { class: 'muted' }, 'Leave it as it is to use your default pseudonym, or empty to use your real name.')),
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: given ? 'primary' : '' }, 'Join')),
  );
}

/** `#/join/<code>`: an invite link (the code travels in the fragment, never to a server log). */
export function mountJoin(view, app, code) {
  view.append(joinWithCodeForm(app, { code, heading: 'h1' }));
}
