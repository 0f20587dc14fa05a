// The safeguarding inbox: reports arrive live (content-free `report_filed` frames),
// the list shows only when and in what state; opening one reads its snapshot (the
// reported message, a few around it, who reported whom) — every listing, reading and
// closing is recorded by the server and shown here — and "Mark handled" closes it.

import { h, render, announce, formatTime } from '../dom.js';
import { errorText } from '../protocol.js';
import { ask } from './dialog.js';

const STATE_TEXT = { open: 'Open', closed: 'Handled' };
const ACTION_TEXT = { listed: 'listed', viewed: 'opened', closed: 'marked handled' };
const KIND_TEXT = { relationship: 'a mentoring relationship', room: 'a group room' };

function when(ms) {
  return ms ? formatTime(ms) : '—';
}

/** `#/reports`: open reports first, then handled ones, newest first in each. */
export function mountReports(view, app) {
  const body = h('div', { class: 'reports-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const status = h('p', { class: 'muted', role: 'status' });
  view.append(
    h('h1', {}, 'Safeguarding inbox'),
    h('p', { class: 'muted' }, 'Reports filed by members. Opening a report shows the reported message and a few around it; every access is recorded.'),
    status,
    body,
  );

  function row(report) {
    return h('li', { dataset: { report: report.id } },
      h('a', { class: 'row', href: `#/reports/${report.id}` },
        h('span', { class: 'name' }, `Report filed ${when(report.created_at)}`),
        h('span', { class: `state report-${report.state}` }, STATE_TEXT[report.state] || report.state)));
  }

  async function load() {
    try {
      const { reports } = await app.api.get('/reports');
      const open = reports.filter((r) => r.state === 'open');
      const handled = reports.filter((r) => r.state !== 'open');
      render(
        body,
        h('h2', {}, `Open (${open.length})`),
        open.length ? h('ul', { class: 'list reports-open' }, open.map(row)) : h('p', { class: 'muted' }, 'No open reports. New ones appear here as they are filed.'),
        h('h2', {}, `Handled (${handled.length})`),
        handled.length ? h('ul', { class: 'list reports-handled' }, handled.map(row)) : h('p', { class: 'muted' }, 'None handled yet.'),
      );
    } catch (error) {
      render(body, h('p', { class: 'error', role: 'alert' }, errorText(error.code, error.message)));
    }
  }

  const off = app.store.on('reports', (frame) => {
    status.textContent = frame.type === 'report_filed' ? 'A new report arrived.' : 'A report was marked handled.';
    load();
  });
  load();
  return off;
}

function person(label, who, kind) {
  const shownAs = who.display_name && who.display_name !== who.name ? ` (shown there as “${who.display_name}”)` : '';
  return h('div', { class: 'report-person' },
    h('dt', {}, label),
    h('dd', {}, `${who.name || 'Unknown'}${shownAs}`, kind ? h('span', { class: 'muted' }, ` · in ${kind}`) : null));
}

/** `#/reports/<id>`: the snapshot, who and why, the access log, and "Mark handled". */
export function mountReport(view, app, id) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const error = h('p', { class: 'error', role: 'alert' });
  view.append(h('a', { class: 'back', href: '#/reports' }, '← Safeguarding inbox'), body, error);

  function draw(report) {
    const handle = h('button', { type: 'button', class: 'primary', onclick: () => markHandled(handle) }, 'Mark handled');
    render(
      body,
      h('h1', {}, `Report filed ${when(report.created_at)}`),
      h('p', { class: `report-state report-${report.state}`, role: 'status' },
        report.state === 'open' ? 'Open — not handled yet' : `Handled ${when(report.closed_at)}`),
      h('dl', { class: 'report-people' },
        person('Reported by', report.reporter, KIND_TEXT[report.conversation_kind] || null),
        person('About', report.reported)),
      h('h2', {}, 'Reason given'),
      report.reason ? h('blockquote', { class: 'report-reason' }, report.reason) : h('p', { class: 'muted' }, 'No reason given.'),
      h('h2', {}, 'The message and what was around it'),
      h('ol', { class: 'messages report-snapshot', 'aria-label': 'Reported message in context' },
        report.messages.map((m) => h('li', { class: `message${m.reported ? ' reported-message' : ''}` },
          h('div', { class: 'meta' },
            h('span', { class: 'sender' }, m.display_name || 'Someone'),
            h('time', { datetime: new Date(m.ts).toISOString() }, formatTime(m.ts)),
            m.reported ? h('strong', { class: 'reported-tag' }, 'Reported message') : null,
            m.thread ? h('span', { class: 'muted' }, '(in a thread)') : null),
          h('p', { class: 'body' }, m.body ?? 'Message deleted')))),
      report.state === 'open' ? h('div', { class: 'actions' }, handle) : null,
      h('details', { class: 'report-accesses' },
        h('summary', {}, `Access log (${report.accesses.length})`),
        h('ul', {}, report.accesses.map((a) => h('li', {}, `${when(a.at)}: ${a.account} ${ACTION_TEXT[a.action] || a.action}`)))),
    );
  }

  async function markHandled(button) {
    const answer = await ask({
      title: 'Mark this report handled?',
      text: 'It moves to “Handled” for every safeguarding contact, and the person who reported it sees it was handled. The report itself is kept.',
      confirm: 'Mark handled',
    });
    if (!answer) return;
    button.disabled = true;
    try {
      const { report } = await app.api.post(`/reports/${id}/close`);
      draw(report);
      announce('The report is marked handled.');
    } catch (problem) {
      error.textContent = errorText(problem.code, problem.message);
      button.disabled = false;
      if (problem.code === 'conflict') load();
    }
  }

  async function load() {
    try {
      const { report } = await app.api.get(`/reports/${id}`);
      draw(report);
    } catch (problem) {
      render(body, h('h1', {}, 'Report'), h('p', { class: 'error', role: 'alert' }, errorText(problem.code, problem.message)));
    }
  }
  load();
}
