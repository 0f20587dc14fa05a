// A coordinator's programme overview: relationships and rooms with states, dates,
// member counts and activity counts — never a message, and never a pseudonymous
// member's chosen name (the server does not send them).

import { h, render, formatTime } from '../dom.js';
import { errorText } from '../protocol.js';

function date(ms) {
  return ms ? formatTime(ms) : '—';
}

const ORIGIN_TEXT = { assigned: 'Paired by a coordinator', requested: 'Asked by the mentee', offered: 'Offered by the mentor' };
const RELATIONSHIP_STATE_TEXT = { pending: 'Waiting for an answer', active: 'Active', ended: 'Ended', declined: 'Declined', withdrawn: 'Withdrawn' };
const ROOM_KIND_TEXT = { group: 'Group (facilitated)', peer: 'Peer' };
const ROOM_STATE_TEXT = { active: 'Open', read_only: 'Read-only', closed: 'Closed' };
const ROLE_TEXT = { mentee: 'mentee', mentor: 'mentor' };

/** The server counts weeks newest first (`[0]` = the last 7 days); people read time
 * left to right, so the row is shown oldest first, and says so. */
function sparkline(perWeek = []) {
  if (!perWeek.length) return '—';
  const oldestFirst = [...perWeek].reverse();
  const explained = `Messages per week over the last ${perWeek.length} weeks, oldest first; the last number is the past 7 days.`;
  return h('span', { class: 'weekly', title: explained },
    h('span', { 'aria-hidden': 'true' }, oldestFirst.join(' · ')),
    h('span', { class: 'visually-hidden' }, `${explained} ${oldestFirst.join(', ')}`));
}

/** A cell that also carries its column name, shown before the value on phones. */
function cell(label, ...content) {
  return h('td', { 'data-label': label }, ...content);
}

export function mountOverview(view, app) {
  const body = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  view.append(
    h('h1', {}, 'Programme overview'),
    h('p', { class: 'muted' }, 'Who is paired, in what state, and how active — never what is said.'),
    h('div', { class: 'home-actions' }, h('a', { class: 'button primary', href: '#/assign' }, 'Pair a mentee')),
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
          h('thead', {}, h('tr', {}, ['How it started', 'State', 'Who', 'Messages', 'Per week (oldest first)', 'Last activity', 'Started'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, oversight.relationships.map((r) => h(
            'tr',
            { dataset: { relationship: r.id } },
            cell('How it started', ORIGIN_TEXT[r.origin] || r.origin),
            cell('State', RELATIONSHIP_STATE_TEXT[r.state] || r.state),
            cell('Who', r.parties
              ? r.parties.map((p) => `${p.name} (${ROLE_TEXT[p.role] || p.role})`).join(', ')
              : `${r.mentees} mentee, ${r.mentors} mentor${r.mentors === 1 ? '' : 's'} (names shown only to the coordinator who paired them)`),
            cell('Messages', String(r.activity.messages)),
            cell('Per week', sparkline(r.activity.messages_per_week)),
            cell('Last activity', date(r.activity.last_activity)),
            cell('Started', date(r.created_at)),
          ))),
        )),
        h('h2', {}, `Rooms (${oversight.rooms.length})`),
        h('div', { class: 'table-wrap' }, h(
          'table',
          { class: 'overview' },
          h('caption', { class: 'visually-hidden' }, 'Rooms'),
          h('thead', {}, h('tr', {}, ['Room', 'Kind', 'State', 'Members', 'Accepted the agreement', 'Messages', 'Last activity'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, oversight.rooms.map((r) => h(
            'tr',
            { dataset: { room: r.id } },
            cell('Room', r.title || 'Room'),
            cell('Kind', ROOM_KIND_TEXT[r.room_kind] || ROOM_KIND_TEXT.group),
            cell('State', ROOM_STATE_TEXT[r.state] || r.state),
            cell('Members', r.member_limit ? `${r.members} of at most ${r.member_limit}` : String(r.members)),
            cell('Accepted the agreement', `${r.agreed} of ${r.members}`),
            cell('Messages', String(r.activity.messages)),
            cell('Last activity', date(r.activity.last_activity)),
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
