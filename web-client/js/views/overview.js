// A coordinator's programme overview: relationships and rooms with states, dates,
// member counts and activity counts — never a message, and never a pseudonymous
// member's chosen name (the server does not send them).

import { h, render, formatTime } from '../dom.js';
import { errorText } from '../protocol.js';

function date(ms) {
  return ms ? formatTime(ms) : '—';
}

function sparkline(perWeek = []) {
  const text = perWeek.length ? perWeek.join(' · ') : '—';
  return h('span', { class: 'weekly', title: 'Messages per week, oldest first' }, text);
}

export function mountOverview(view, app) {
  const body = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  view.append(
    h('h1', {}, 'Programme overview'),
    h('p', { class: 'muted' }, 'Who is paired, in what state, and how active — never what is said.'),
    body,
  );

  async function load() {
    try {
      const { oversight } = await app.api.get('/oversight');
      render(
        body,
        h('h2', {}, `Relationships (${oversight.relationships.length})`),
        h('div', { class: 'table-wrap' }, h(
          'table',
          { class: 'overview' },
          h('caption', { class: 'visually-hidden' }, 'Relationships'),
          h('thead', {}, h('tr', {}, ['Started by', 'State', 'Parties', 'Messages', 'Per week', 'Last activity', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, oversight.relationships.map((r) => h(
            'tr',
            { dataset: { relationship: r.id } },
            h('td', {}, r.origin),
            h('td', {}, r.state),
            h('td', {}, r.parties ? r.parties.map((p) => `${p.name} (${p.role})`).join(', ') : `${r.mentees} mentee, ${r.mentors} mentor${r.mentors === 1 ? '' : 's'}`),
            h('td', {}, String(r.activity.messages)),
            h('td', {}, sparkline(r.activity.messages_per_week)),
            h('td', {}, date(r.activity.last_activity)),
            h('td', {}, date(r.created_at)),
          ))),
        )),
        h('h2', {}, `Rooms (${oversight.rooms.length})`),
        h('div', { class: 'table-wrap' }, h(
          'table',
          { class: 'overview' },
          h('caption', { class: 'visually-hidden' }, 'Rooms'),
          h('thead', {}, h('tr', {}, ['Room', 'Kind', 'State', 'Members', 'Agreed', 'Messages', 'Last activity'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, oversight.rooms.map((r) => h(
            'tr',
            { dataset: { room: r.id } },
            h('td', {}, r.title || 'Room'),
            h('td', {}, r.room_kind || 'group'),
            h('td', {}, r.state),
            h('td', {}, `${r.members}${r.member_limit ? ` / ${r.member_limit}` : ''}`),
            h('td', {}, String(r.agreed)),
            h('td', {}, String(r.activity.messages)),
            h('td', {}, date(r.activity.last_activity)),
          ))),
        )),
        h('p', { class: 'muted' }, `As of ${date(oversight.generated_at)}.`),
      );
    } catch (error) {
      render(body, h('p', { class: 'error', role: 'alert' }, errorText(error.code, error.message)));
    }
  }
  load();
}
