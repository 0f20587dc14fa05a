// Rooms: the confidentiality agreement before anything else; the member list with
// display names and presence; the facilitator's controls (invite code, remove, mute,
// how the room's calls carry media).

import { h, render, announce } from '../dom.js';
import { errorText } from '../protocol.js';
import { ask } from './dialog.js';

/** Shown instead of the room until the member accepts its agreement: only the title
 * and the agreement text are known to the client at this point. */
export function mountAgreementGate(view, app, summary) {
  const error = h('p', { class: 'error', role: 'alert' });
  const accept = h('button', { type: 'button', class: 'primary' }, 'I accept the agreement');
  accept.addEventListener('click', async () => {
    accept.disabled = true;
    try {
      const reply = await app.api.post(`/rooms/${summary.id}/agreement`);
      app.store.onFrame({ type: 'conversation', conversation: reply.conversation });
      announce('Agreement accepted. The room is open.');
    } catch (problem) {
      error.textContent = errorText(problem.code, problem.message);
      accept.disabled = false;
    }
  });
  view.append(
    h(
      'section',
      { class: 'card agreement', 'aria-labelledby': 'agreement-title', dataset: { conversation: summary.id } },
      h('a', { class: 'back', href: '#/' }, '← Home'),
      h('h1', { id: 'agreement-title' }, summary.title || 'Group room'),
      h('h2', {}, 'Confidentiality agreement'),
      h('p', {}, 'Everyone in this room has agreed to keep what is said here confidential. You will see the conversation once you accept too.'),
      h('blockquote', { class: 'agreement-text' }, summary.agreement || 'What is said in this room stays in this room.'),
      error,
      h('div', { class: 'actions' }, accept, h('a', { class: 'button', href: '#/' }, 'Not now')),
    ),
  );
  accept.focus();
}

const PRESENCE_TEXT = { online: 'online', away: 'away', offline: 'offline' };

/** Members with display names and presence; facilitators also get controls. */
export function createMemberPanel(app, conversationId) {
  const { store, api } = app;
  const element = h('details', { class: 'members-panel' });
  const error = h('p', { class: 'error', role: 'alert' });
  const tools = inviteTools(app, conversationId);
  let wasOpen = false;

  async function act(path, done, body) {
    error.textContent = '';
    try {
      const reply = body ? await api.put(path, body) : await api.post(path);
      done?.(reply);
    } catch (problem) {
      error.textContent = errorText(problem.code, problem.message);
    }
  }

  function facilitatorControls(summary, member) {
    if (member.member === summary.me) return [];
    return [
      // A toggle: one label, its state in aria-pressed (a changing label reads as two buttons).
      h('button', {
        type: 'button',
        class: 'small',
        'aria-pressed': String(Boolean(member.muted)),
        onclick: () => act(`/rooms/${summary.id}/members/${member.member}/${member.muted ? 'unmute' : 'mute'}`),
      }, `Mute ${member.display_name}`),
      h('button', {
        type: 'button',
        class: 'small danger',
        onclick: async () => {
          const answer = await ask({ title: `Remove ${member.display_name} from the room?`, text: 'They stop seeing the room. They can come back only with a new invitation.', confirm: 'Remove', danger: true });
          if (answer) act(`/rooms/${summary.id}/members/${member.member}/remove`);
        },
      }, `Remove ${member.display_name}`),
    ];
  }

  /** Calls through the media server from the start (servers without one ignore it). */
  function callsToggle(summary) {
    const sfu = summary.calls === 'sfu';
    return h('button', {
      type: 'button',
      class: 'small',
      'aria-pressed': String(sfu),
      onclick: () => act(`/rooms/${summary.id}/settings`, (reply) => {
        store.onFrame({ type: 'conversation', conversation: reply.conversation });
      }, { calls: sfu ? 'auto' : 'sfu' }),
    }, 'Calls always through the media server');
  }

  function update() {
    const summary = store.conversations.get(conversationId);
    const members = (summary?.members || []).filter((m) => !m.left);
    const presence = store.presence.get(conversationId) || new Map();
    const isRoom = summary?.kind === 'room';
    const me = members.find((m) => m.member === summary?.me);
    const facilitator = isRoom && me?.role === 'facilitator';
    wasOpen = element.open;
    element.hidden = !summary || members.length === 0;
    render(
      element,
      h('summary', {}, `Members (${members.length})`),
      h(
        'ul',
        { class: 'members' },
        members.map((m) => {
          // Presence is shown only once the server has said something about it.
          const status = m.member === summary.me ? 'online' : presence.get(m.member);
          return h(
            'li',
            { dataset: { member: m.member } },
            status ? h('span', { class: `presence presence-${status}`, role: 'img', 'aria-label': PRESENCE_TEXT[status] || status }) : null,
            h('span', { class: 'name' }, m.member === summary.me ? `${m.display_name} (you)` : m.display_name),
            h('span', { class: 'role' }, m.role),
            m.pseudonymous ? h('span', { class: 'tag' }, 'pseudonym') : null,
            m.member === summary.me && summary.presence_shown === false ? h('span', { class: 'tag' }, 'presence hidden') : null,
            isRoom && !m.agreed ? h('span', { class: 'tag' }, 'not yet agreed') : null,
            m.muted ? h('span', { class: 'tag' }, 'muted') : null,
            facilitator ? h('span', { class: 'member-controls' }, facilitatorControls(summary, m)) : null,
          );
        }),
      ),
      facilitator ? callsToggle(summary) : null,
      facilitator ? tools.element : null,
      isRoom
        ? h('button', {
          type: 'button',
          class: 'small',
          onclick: async () => {
            const answer = await ask({ title: 'Leave this room?', text: 'You will no longer see what is said here. You can come back only with a new invitation.', confirm: 'Leave room', danger: true });
            if (answer) act(`/rooms/${conversationId}/leave`, () => app.navigate('/'));
          },
        }, 'Leave room')
        : null,
      error,
    );
    element.open = wasOpen;
    if (facilitator) tools.update();
  }
  return { element, update };
}

/** The link a code makes: the code travels in the fragment, which no server sees. */
function inviteLink(code) {
  return `${location.origin}${location.pathname}#/join/${encodeURIComponent(code)}`;
}

/** A facilitator's ways to bring people in: a single-use invite link (copy, or the
 * device's share sheet where there is one), or an invitation to someone they already
 * know from another conversation (their mentee, a member of another room). */
function inviteTools(app, conversationId) {
  const { api, store } = app;
  const codeOut = h('p', { class: 'invite-code', role: 'status' });
  const linkBox = h('div', { class: 'invite-link', hidden: true });
  const status = h('p', { class: 'muted', role: 'status' });
  const people = h('select', { id: 'invite-person' });
  const inviteButton = h('button', { type: 'submit' }, 'Invite');

  async function newCode() {
    status.textContent = '';
    try {
      const { invite_code: invite } = await api.post(`/rooms/${conversationId}/invite-codes`);
      const link = inviteLink(invite.code);
      codeOut.textContent = `Invite code: ${invite.code} (works once, for 7 days)`;
      const field = h('input', { type: 'text', readonly: true, value: link, id: 'invite-link-field', 'aria-label': 'Invite link' });
      const copy = h('button', {
        type: 'button',
        class: 'small',
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(link);
            status.textContent = 'Link copied. Send it to one person: it works once.';
          } catch {
            field.select();
            status.textContent = 'Select the link and copy it.';
          }
        },
      }, 'Copy link');
      const share = navigator.share
        ? h('button', {
          type: 'button',
          class: 'small',
          onclick: () => navigator.share({ title: 'Join our mentoring room', text: 'An invitation to a Mentorhub room (works once):', url: link }).catch(() => {}),
        }, 'Share…')
        : null;
      render(linkBox, field, h('div', { class: 'actions' }, copy, share));
      linkBox.hidden = false;
      // The members panel scrolls: bring the link and its button into sight, ready to copy.
      copy.focus();
      linkBox.scrollIntoView({ block: 'nearest' });
    } catch (problem) {
      status.textContent = errorText(problem.code, problem.message);
    }
  }

  /** People the facilitator knows elsewhere, as they know them (never an account id). */
  function candidates() {
    const here = new Set();
    const out = [];
    for (const summary of store.conversations.values()) {
      if (summary.id === conversationId || summary.agreement_required) continue;
      for (const m of summary.members || []) {
        if (m.member === summary.me || m.left) continue;
        const key = `${summary.id}|${m.member}`;
        if (here.has(key)) continue;
        here.add(key);
        out.push({ key, label: `${m.display_name} — ${store.title(summary.id)}` });
      }
    }
    return out.sort((a, b) => a.label.localeCompare(b.label));
  }

  function update() {
    const list = candidates();
    const chosen = people.value;
    render(people, list.length
      ? list.map((c) => h('option', { value: c.key, selected: c.key === chosen }, c.label))
      : h('option', { value: '' }, 'Nobody yet: use an invite link'));
    people.disabled = !list.length;
    inviteButton.disabled = !list.length;
  }

  const form = h('form', {
    class: 'invite-person',
    onsubmit: async (event) => {
      event.preventDefault();
      const [conversation, member] = people.value.split('|');
      if (!member) return;
      const name = people.selectedOptions[0]?.textContent.split(' — ')[0] || 'They';
      try {
        await api.post(`/rooms/${conversationId}/invitations`, { conversation, member });
        status.textContent = `Invitation sent to ${name}. They see it on their home screen and decide.`;
      } catch (problem) {
        status.textContent = errorText(problem.code, problem.message);
      }
    },
  },
  h('label', { for: 'invite-person' }, 'Invite someone you know here'),
  h('div', { class: 'inline-field' }, people, inviteButton));

  const element = h('div', { class: 'facilitator' },
    h('h2', {}, 'Invite people'),
    form,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: newCode }, 'New invite code')),
    codeOut,
    linkBox,
    status);
  return { element, update };
}
