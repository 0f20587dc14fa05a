// Home: requests awaiting an answer, relationships and rooms with unread badges and
// state, and the ways to start something (find a mentor, programme overview).

import { h, render, announce } from '../dom.js';
import { errorText } from '../protocol.js';
import { joinWithCodeForm } from './new-room.js';
import { ask, tell } from './dialog.js';

const RELATIONSHIP_STATE = {
  pending: 'Waiting for an answer',
  active: 'Active',
  declined: 'Declined',
  ended: 'Ended',
  withdrawn: 'Withdrawn',
};

export function mountHome(view, app) {
  const { store, session } = app;
  const requests = h('section', { 'aria-labelledby': 'requests-title', class: 'requests' });
  const relationships = h('section', { 'aria-labelledby': 'relationships-title' });
  const rooms = h('section', { 'aria-labelledby': 'rooms-title' });
  const actions = h('div', { class: 'home-actions' });
  const invitations = h('section', { 'aria-labelledby': 'invitations-title' });
  const heading = h('h1', { id: 'home-title' }, 'Home');
  view.append(heading, actions, requests, invitations, relationships, rooms, joinWithCodeForm(app));

  function drawActions() {
    render(
      actions,
      session.hasRole('mentee') && h('a', { class: 'button primary', href: '#/request' }, 'Find a mentor'),
      (session.hasRole('mentor') || session.hasRole('coordinator')) && h('a', { class: 'button', href: '#/rooms/new' }, 'New room'),
      session.hasRole('coordinator') && h('a', { class: 'button', href: '#/assign' }, 'Pair a mentee'),
      session.hasRole('coordinator') && h('a', { class: 'button', href: '#/overview' }, 'Programme overview'),
      session.hasRole('safeguarding') && h('a', { class: 'button primary', href: '#/reports' }, 'Safeguarding inbox'),
      session.hasRole('safeguarding') && newReports ? h('p', { class: 'new-reports', role: 'status' }, newReports === 1 ? 'A new report arrived.' : `${newReports} new reports arrived.`) : null,
    );
    heading.textContent = store.account ? `Hello, ${store.account.name}` : `Hello, ${session.current?.name || ''}`;
  }

  function unreadBadge(conversationId) {
    const summary = store.conversations.get(conversationId);
    if (!summary) return null;
    const threads = Object.values(summary.thread_unread || {}).reduce((a, b) => a + b, 0);
    const count = (summary.unread || 0) + threads;
    return count ? h('span', { class: 'badge', 'aria-label': `${count} unread` }, String(count)) : null;
  }

  async function respond(relationship, accept) {
    try {
      const reply = await app.api.post(`/relationships/${relationship.id}/${accept ? 'accept' : 'decline'}`);
      store.upsertRelationship(reply.relationship);
      announce(accept ? 'Request accepted.' : 'Request declined.');
    } catch (error) {
      await tell(errorText(error.code, error.message));
    }
  }

  async function withdraw(relationship) {
    const answer = await ask({ title: 'Withdraw this request?', text: 'The mentor will no longer see it. You can ask again later.', confirm: 'Withdraw' });
    if (!answer) return;
    try {
      const reply = await app.api.post(`/relationships/${relationship.id}/withdraw`);
      store.upsertRelationship(reply.relationship);
    } catch (error) {
      await tell(errorText(error.code, error.message));
    }
  }

  function drawRequests() {
    const awaiting = [...store.relationships.values()].filter((r) => r.awaiting_me);
    if (!awaiting.length) {
      render(requests);
      requests.hidden = true;
      return;
    }
    requests.hidden = false;
    render(
      requests,
      h('h2', { id: 'requests-title' }, 'Requests for you'),
      h(
        'ul',
        { class: 'cards' },
        awaiting.map((r) => {
          const other = r.parties.filter((p) => p.member !== r.me);
          const names = other.map((p) => p.display_name).join(', ');
          const verb = r.origin === 'offered' ? 'offers to mentor you' : r.origin === 'assigned' ? 'was paired with you by your programme' : 'asks you to be their mentor';
          return h(
            'li',
            { class: 'card request', dataset: { relationship: r.id } },
            h('p', {}, h('strong', {}, names), ` ${verb}.`, other.some((p) => p.pseudonymous) ? h('span', { class: 'tag' }, 'pseudonym') : null),
            r.introduction && h('blockquote', {}, r.introduction),
            h(
              'div',
              { class: 'actions' },
              h('button', { type: 'button', class: 'primary', onclick: () => respond(r, true) }, 'Accept'),
              h('button', { type: 'button', onclick: () => respond(r, false) }, 'Decline'),
            ),
          );
        }),
      ),
    );
  }

  async function answerInvitation(invitation, join) {
    try {
      if (join) {
        const reply = await app.api.post('/rooms/join', { room: invitation.room });
        store.onFrame({ type: 'conversation', conversation: reply.conversation });
        store.dropInvitation(invitation.room);
        app.navigate(`/c/${invitation.room}`);
      } else {
        await app.api.post(`/invitations/${invitation.room}/decline`);
        store.dropInvitation(invitation.room);
      }
    } catch (error) {
      await tell(errorText(error.code, error.message));
    }
  }

  function drawInvitations() {
    const list = [...store.invitations.values()].filter((i) => !store.conversations.has(i.room));
    invitations.hidden = list.length === 0;
    render(
      invitations,
      h('h2', { id: 'invitations-title' }, 'Room invitations'),
      h('ul', { class: 'cards' }, list.map((i) => h(
        'li',
        { class: 'card invitation', dataset: { room: i.room } },
        h('p', {}, 'You are invited to ', h('strong', {}, i.title || 'a room'), '.'),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', onclick: () => answerInvitation(i, true) }, 'Join'),
          h('button', { type: 'button', onclick: () => answerInvitation(i, false) }, 'Decline')),
      ))),
    );
  }

  function drawRelationships() {
    const list = [...store.relationships.values()]
      .filter((r) => !r.awaiting_me)
      .sort((a, b) => b.updated_at - a.updated_at);
    render(
      relationships,
      h('h2', { id: 'relationships-title' }, 'Mentoring'),
      list.length
        ? h(
          'ul',
          { class: 'list' },
          list.map((r) => {
            // The assigning coordinator is not a party: it sees everyone, by name.
            const others = r.my_role === 'coordinator' ? r.parties : r.parties.filter((p) => p.member !== r.me);
            const names = others.map((p) => p.display_name).join(r.my_role === 'coordinator' ? ' & ' : ', ');
            const openable = store.conversations.has(r.conversation) && r.state !== 'pending';
            const label = h('span', { class: 'name' }, names || 'Relationship');
            const state = h('span', { class: `state state-${r.state}` }, RELATIONSHIP_STATE[r.state] || r.state);
            return h(
              'li',
              { dataset: { relationship: r.id, conversation: r.conversation } },
              openable
                ? h('a', { href: `#/c/${r.conversation}`, class: 'row' }, label, state, unreadBadge(r.conversation))
                : h('div', { class: 'row' }, label, state,
                  r.state === 'pending' && r.my_role !== 'coordinator'
                    ? h('button', { type: 'button', class: 'small', onclick: () => withdraw(r) }, 'Withdraw')
                    : null),
            );
          }),
        )
        : h('p', { class: 'muted' }, session.hasRole('mentee') ? 'No mentoring yet. Find a mentor to start.' : 'No mentoring relationships yet.'),
    );
  }

  function drawRooms() {
    const list = [...store.conversations.values()].filter((c) => c.kind === 'room');
    render(
      rooms,
      h('h2', { id: 'rooms-title' }, 'Group rooms'),
      list.length
        ? h(
          'ul',
          { class: 'list' },
          list.map((c) =>
            h(
              'li',
              { dataset: { conversation: c.id } },
              h(
                'a',
                { href: `#/c/${c.id}`, class: 'row' },
                h('span', { class: 'name' }, c.title || 'Room'),
                h('span', { class: 'state' }, c.agreement_required ? 'Agreement needed' : c.state === 'active' ? `${c.members.filter((m) => !m.left).length} members` : c.state),
                unreadBadge(c.id),
              ),
            ),
          ),
        )
        : h('p', { class: 'muted' }, 'No rooms yet.'),
    );
  }

  function draw() {
    drawActions();
    drawRequests();
    drawInvitations();
    drawRelationships();
    drawRooms();
  }

  let newReports = 0;
  draw();
  const offs = [
    store.on('reports', (frame) => {
      if (frame.type === 'report_filed') newReports += 1;
      drawActions();
    }),
    store.on('relationships', draw),
    store.on('conversations', draw),
    store.on('account', draw),
    store.on('invitations', draw),
  ];
  return () => offs.forEach((off) => off());
}
