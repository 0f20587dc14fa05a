// Finding a mentor: the directory (filter by specialty, language, accepting), then a
// request with an introduction, optionally under a pseudonym ("ask for a first
// conversation, then make the bigger ask"). Browsing leaves no trace a mentor can see.

import { h, render } from '../dom.js';
import { errorText } from '../protocol.js';

const languageNames = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'language' }) : null;

/** "fr" → "French", "pt-br" → "Brazilian Portuguese" (the tag itself when unknown). */
function languageName(tag) {
  try {
    return languageNames?.of(tag) || tag;
  } catch {
    return tag;
  }
}

export function mountRequestMentor(view, app) {
  const { api, store } = app;
  const specialty = h('input', { id: 'filter-specialty', type: 'text', autocomplete: 'off' });
  const language = h('input', { id: 'filter-language', type: 'text', autocomplete: 'off' });
  const accepting = h('input', { id: 'filter-accepting', type: 'checkbox', checked: true });
  const results = h('div', { class: 'directory', 'aria-live': 'polite' });
  const error = h('p', { class: 'error', role: 'alert' });

  async function search() {
    error.textContent = '';
    const query = new URLSearchParams();
    if (specialty.value.trim()) query.set('specialty', specialty.value.trim());
    if (language.value.trim()) query.set('language', language.value.trim());
    if (accepting.checked) query.set('accepting', 'true');
    try {
      const reply = await api.get(`/mentors?${query}`);
      drawMentors(reply.mentors);
    } catch (problem) {
      error.textContent = errorText(problem.code, problem.message);
    }
  }

  function emptyText() {
    const asked = [];
    if (specialty.value.trim()) asked.push(`specialty “${specialty.value.trim()}”`);
    if (language.value.trim()) asked.push(`language “${language.value.trim()}”`);
    if (!asked.length) {
      return accepting.checked
        ? 'No mentor is taking new mentees right now. Untick “Only mentors taking new mentees” to see everyone, or look again later.'
        : 'No mentor has published a profile yet. Look again later.';
    }
    const also = accepting.checked ? ' who is taking new mentees' : '';
    return `No mentor${also} matches ${asked.join(' and ')}. Try another word, a language’s name or code (e.g. “French” or “fr”), or fewer filters.`;
  }

  function drawMentors(mentors) {
    if (!mentors.length) {
      render(results, h('p', { class: 'muted empty-directory' }, emptyText()));
      return;
    }
    render(results, h('ul', { class: 'cards' }, mentors.map((m) => h(
      'li',
      { class: 'card mentor', dataset: { mentor: m.mentor } },
      h('h2', {}, m.display_name),
      h('p', {}, h('strong', {}, m.specialty || 'No specialty given'), m.languages?.length ? ` · speaks ${m.languages.map(languageName).join(', ')}` : ''),
      m.interests?.length ? h('p', { class: 'muted' }, `Interests: ${m.interests.join(', ')}`) : null,
      m.bio ? h('p', {}, m.bio) : null,
      h('p', { class: 'muted' }, m.accepting && m.places_left > 0 ? `${m.places_left} of ${m.capacity} ${m.capacity === 1 ? 'place' : 'places'} free` : 'Not taking new mentees'),
      m.accepting && m.places_left > 0
        ? h('button', { type: 'button', class: 'primary', onclick: () => showRequestForm(m) }, `Ask ${m.display_name}`)
        : null,
    ))));
  }

  function showRequestForm(mentor) {
    const formError = h('p', { class: 'error', role: 'alert' });
    const usePseudonym = h('input', { id: 'request-use-pseudonym', type: 'checkbox', checked: Boolean(store.settings.default_pseudonym) });
    const pseudonym = h('input', { id: 'request-pseudonym', type: 'text', maxlength: 64, autocomplete: 'off', value: store.settings.default_pseudonym || '' });
    const introduction = h('textarea', { id: 'request-introduction', rows: 5, maxlength: 2000 });
    const pseudonymRow = h('div', { class: 'field' }, h('label', { for: 'request-pseudonym' }, 'Pseudonym'), pseudonym,
      h('p', { class: 'muted' }, 'The mentor sees only this name until you choose to reveal who you are.'));
    pseudonymRow.hidden = !usePseudonym.checked;
    usePseudonym.addEventListener('change', () => {
      pseudonymRow.hidden = !usePseudonym.checked;
      if (usePseudonym.checked) pseudonym.focus();
    });
    const form = h(
      'form',
      {
        class: 'card',
        id: 'request-form',
        onsubmit: async (event) => {
          event.preventDefault();
          formError.textContent = '';
          const request = { mentor: mentor.mentor };
          if (introduction.value.trim()) request.introduction = introduction.value.trim();
          if (usePseudonym.checked && pseudonym.value.trim()) request.pseudonym = pseudonym.value.trim();
          try {
            const reply = await api.post('/relationships', request);
            store.upsertRelationship(reply.relationship);
            app.navigate('/');
          } catch (problem) {
            formError.textContent = errorText(problem.code, problem.message);
          }
        },
      },
      h('h1', {}, `Ask ${mentor.display_name}`),
      h('p', {}, 'Introduce yourself and ask for a first conversation. A mentor can decline without giving a reason.'),
      h('div', { class: 'field checkbox' }, usePseudonym, h('label', { for: 'request-use-pseudonym' }, 'Ask under a pseudonym')),
      pseudonymRow,
      h('div', { class: 'field' }, h('label', { for: 'request-introduction' }, 'Introduction'), introduction),
      formError,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Send request'),
        h('button', { type: 'button', onclick: () => drawPage() }, 'Back to the directory')),
    );
    render(view, form);
    introduction.focus();
  }

  function drawPage() {
    render(
      view,
      h('h1', {}, 'Find a mentor'),
      h(
        'form',
        { class: 'card filters', onsubmit: (event) => { event.preventDefault(); search(); } },
        h('div', { class: 'field' }, h('label', { for: 'filter-specialty' }, 'Specialty'), specialty),
        h('div', { class: 'field' }, h('label', { for: 'filter-language' }, 'Language (name or code, e.g. French or fr)'), language),
        h('div', { class: 'field checkbox' }, accepting, h('label', { for: 'filter-accepting' }, 'Only mentors taking new mentees')),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')),
      ),
      error,
      results,
    );
    search();
  }

  drawPage();
}
