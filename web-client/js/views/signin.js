// Sign-in. Where the server names the institution's identity provider: "Sign in with
// your institution" (the provider's own page, then back here). With `--dev`: pick a demo
// account or any name and role. With neither: the institution's login hands a token over
// (`/#token=…`), or it is pasted here.

import { h } from '../dom.js';

export const DEMO_ACCOUNTS = [
  { name: 'Amina Diallo', roles: ['mentee'], about: 'Rural mentee — a junior doctor at a district hospital, on a slow mobile link' },
  { name: 'Dr Kofi Mensah', roles: ['mentor'], about: 'Consultant mentor — anaesthesia, teaching hospital' },
  { name: 'Grace Okafor', roles: ['coordinator'], about: 'Programme coordinator — assigns mentors, sees activity, never content' },
];

const ROLES = [
  ['mentee', 'Mentee'],
  ['mentor', 'Mentor'],
  ['coordinator', 'Coordinator'],
  ['safeguarding', 'Safeguarding contact'],
];

export function mountSignIn(view, app) {
  const error = h('p', { class: 'error', role: 'alert' }, sessionStorage.getItem('mh.signin-error') || '');
  sessionStorage.removeItem('mh.signin-error');

  async function devSignIn(name, roles) {
    error.textContent = '';
    try {
      await app.session.devLogin(name, roles);
      app.navigate('/');
    } catch (problem) {
      error.textContent = problem.message;
    }
  }

  const tokenInput = h('textarea', { id: 'signin-token', rows: 3, autocomplete: 'off', spellcheck: 'false', required: true });
  const tokenForm = h(
    'form',
    {
      class: 'card',
      onsubmit: (event) => {
        event.preventDefault();
        try {
          app.session.useToken(tokenInput.value, null);
          app.navigate('/');
        } catch (problem) {
          error.textContent = problem.message;
        }
      },
    },
    h('h2', {}, 'Sign in with your institution'),
    h('p', {}, 'Your institution’s login page sends you here signed in. If it gave you a token instead, paste it below.'),
    h('label', { for: 'signin-token' }, 'Token'),
    tokenInput,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  );

  const sections = [h('h1', {}, 'Welcome to Mentorhub'), error];

  let institution = null;
  if (app.server?.sign_in) {
    const button = h('button', { type: 'button', class: 'primary', id: 'signin-institution' }, 'Sign in with your institution');
    button.addEventListener('click', async () => {
      error.textContent = '';
      button.disabled = true;
      button.textContent = 'Opening your institution’s sign-in…';
      try {
        await app.session.signInAtProvider();
      } catch (problem) {
        error.textContent = problem.message;
        button.disabled = false;
        button.textContent = 'Sign in with your institution';
      }
    });
    institution = h(
      'section',
      { class: 'card', 'aria-labelledby': 'institution-title' },
      h('h2', { id: 'institution-title' }, 'Your institution’s account'),
      h('p', {}, 'You sign in on your institution’s own page, then come back here. Mentorhub never sees your password.'),
      h('div', { class: 'actions' }, button),
    );
    sections.push(institution);
  }

  if (app.server?.dev) {
    const nameInput = h('input', { id: 'dev-name', type: 'text', required: true, maxlength: 64, autocomplete: 'name' });
    const roleSelect = h(
      'select',
      { id: 'dev-role' },
      ROLES.map(([value, label]) => h('option', { value }, label)),
    );
    sections.push(
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'demo-title' },
        h('h2', { id: 'demo-title' }, 'Development sign-in'),
        h('p', {}, 'This server runs with --dev: choose a demo account, or any name and role.'),
        h(
          'ul',
          { class: 'demo-accounts' },
          DEMO_ACCOUNTS.map((demo) =>
            h(
              'li',
              {},
              h(
                'button',
                { type: 'button', class: 'demo', onclick: () => devSignIn(demo.name, demo.roles) },
                h('strong', {}, demo.name),
                h('span', {}, demo.about),
              ),
            ),
          ),
        ),
        h(
          'form',
          {
            id: 'dev-form',
            onsubmit: (event) => {
              event.preventDefault();
              devSignIn(nameInput.value.trim(), [roleSelect.value]);
            },
          },
          h('label', { for: 'dev-name' }, 'Name'),
          nameInput,
          h('label', { for: 'dev-role' }, 'Role'),
          roleSelect,
          h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
        ),
      ),
    );
  }
  // Pasting a token is the way in only where no sign-in is configured.
  if (!institution) sections.push(tokenForm);
  view.append(...sections);
  (view.querySelector('#signin-institution') || view.querySelector('.demo') || tokenInput).focus();
}
