// A coordinator pairs a mentee with one mentor (a dyad) or two (a triad), with an
// introduction both sides read before they accept. People are chosen by name from the
// programme's list; mentors show their specialty and free places from the directory.

import { h, render, announce } from '../dom.js';
import { errorText } from '../protocol.js';

const ASSIGN_ERRORS = {
  capacity_reached: 'A chosen mentor has no free place right now. Choose another, or ask them to raise their capacity.',
  conflict: 'This mentee already has a pending or active relationship with a chosen mentor.',
  not_found: 'A chosen person is no longer in the programme. Reload the lists and choose again.',
};

function mentorLabel(person, profile) {
  if (!profile) return `${person.name} — no directory profile`;
  const places = profile.accepting ? `${profile.places_left} of ${profile.capacity} places free` : 'not taking new mentees';
  return `${person.name} — ${profile.specialty || 'no specialty given'}, ${places}`;
}

export function mountAssign(view, app) {
  const { api } = app;
  const mentee = h('select', { id: 'assign-mentee', required: true });
  const mentor = h('select', { id: 'assign-mentor', required: true });
  const second = h('select', { id: 'assign-second-mentor' });
  const introduction = h('textarea', { id: 'assign-introduction', rows: 4, maxlength: 4000 });
  const error = h('p', { class: 'error', role: 'alert' });
  const status = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Pair them');

  const form = h(
    'form',
    {
      class: 'card',
      id: 'assign-form',
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = '';
        status.textContent = '';
        const mentors = [mentor.value, second.value].filter(Boolean);
        if (new Set(mentors).size !== mentors.length) {
          error.textContent = 'Choose two different mentors, or no second mentor.';
          return;
        }
        const body = { mentee: mentee.value, mentors };
        if (introduction.value.trim()) body.introduction = introduction.value.trim();
        submit.disabled = true;
        try {
          const { relationship } = await api.post('/relationships/assignments', body);
          app.store.upsertRelationship(relationship);
          const names = [mentee, mentor, second].filter((s) => s.value).map((s) => s.selectedOptions[0].dataset.name);
          status.textContent = `Paired ${names[0]} with ${names.slice(1).join(' and ')}. Each of them is asked to accept.`;
          announce(status.textContent);
          introduction.value = '';
          await load();
        } catch (problem) {
          error.textContent = ASSIGN_ERRORS[problem.code] || errorText(problem.code, problem.message);
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', {}, 'Pair a mentee'),
    h('p', { class: 'muted' }, 'Choose a mentee and one mentor, or two for a triad. Each of them sees your introduction and accepts or declines; a mentee may answer under a pseudonym.'),
    h('div', { class: 'field' }, h('label', { for: 'assign-mentee' }, 'Mentee'), mentee),
    h('div', { class: 'field' }, h('label', { for: 'assign-mentor' }, 'Mentor'), mentor),
    h('div', { class: 'field' }, h('label', { for: 'assign-second-mentor' }, 'Second mentor (optional, for a triad)'), second),
    h('div', { class: 'field' }, h('label', { for: 'assign-introduction' }, 'Introduction'), introduction,
      h('p', { class: 'muted' }, 'Why you paired them and what to talk about first. Both sides read it.')),
    error,
    status,
    h('div', { class: 'actions' }, submit, h('a', { class: 'button', href: '#/overview' }, 'Programme overview')),
  );
  view.append(form);

  async function load() {
    try {
      const [mentees, mentors, directory] = await Promise.all([
        api.get('/people?role=mentee'),
        api.get('/people?role=mentor'),
        api.get('/mentors'),
      ]);
      const profiles = new Map(directory.mentors.map((p) => [p.mentor, p]));
      const option = (person, label) => h('option', { value: person.account, dataset: { name: person.name } }, label);
      render(mentee, mentees.people.length
        ? mentees.people.map((p) => option(p, p.name))
        : h('option', { value: '' }, 'No mentee has signed in yet'));
      const mentorOptions = () => mentors.people.map((p) => option(p, mentorLabel(p, profiles.get(p.account))));
      render(mentor, mentors.people.length ? mentorOptions() : h('option', { value: '' }, 'No mentor has signed in yet'));
      render(second, h('option', { value: '' }, 'No second mentor'), mentorOptions());
      submit.disabled = !mentees.people.length || !mentors.people.length;
    } catch (problem) {
      error.textContent = errorText(problem.code, problem.message);
    }
  }
  load();
}
