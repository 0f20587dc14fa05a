// A mentor's directory profile: what mentees see when they look for a mentor, whether
// new mentees are welcome, and how many (a mentor's time is protected by capacity).

import { h, announce } from '../dom.js';
import { errorText } from '../protocol.js';

const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

export function mentorProfileForm(app) {
  const specialty = h('input', { id: 'profile-specialty', type: 'text', maxlength: 100 });
  const languages = h('input', { id: 'profile-languages', type: 'text', autocomplete: 'off' });
  const interests = h('input', { id: 'profile-interests', type: 'text', autocomplete: 'off' });
  const bio = h('textarea', { id: 'profile-bio', rows: 4, maxlength: 2000 });
  const accepting = h('input', { id: 'profile-accepting', type: 'checkbox', checked: true });
  const capacity = h('input', { id: 'profile-capacity', type: 'number', min: 0, max: 50, value: 3, inputmode: 'numeric' });
  const status = h('p', { role: 'status', class: 'muted' });

  app.api.get('/me/mentor-profile').then(({ profile }) => {
    if (!profile) return;
    specialty.value = profile.specialty || '';
    languages.value = (profile.languages || []).join(', ');
    interests.value = (profile.interests || []).join(', ');
    bio.value = profile.bio || '';
    accepting.checked = Boolean(profile.accepting);
    capacity.value = profile.capacity ?? 3;
  }).catch(() => {});

  return h(
    'form',
    {
      class: 'card',
      id: 'mentor-profile-form',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await app.api.put('/me/mentor-profile', {
            specialty: specialty.value.trim(),
            languages: list(languages.value),
            interests: list(interests.value),
            bio: bio.value.trim(),
            accepting: accepting.checked,
            capacity: Number(capacity.value),
          });
          status.textContent = 'Profile saved.';
          announce('Profile saved.');
        } catch (error) {
          status.textContent = errorText(error.code, error.message);
        }
      },
    },
    h('h2', {}, 'Your mentor profile'),
    h('p', { class: 'muted' }, 'Mentees see this in the directory.'),
    h('div', { class: 'field' }, h('label', { for: 'profile-specialty' }, 'Specialty'), specialty),
    h('div', { class: 'field' }, h('label', { for: 'profile-languages' }, 'Languages (comma-separated, e.g. en, fr)'), languages),
    h('div', { class: 'field' }, h('label', { for: 'profile-interests' }, 'Interests (comma-separated)'), interests),
    h('div', { class: 'field' }, h('label', { for: 'profile-bio' }, 'About you'), bio),
    h('div', { class: 'field checkbox' }, accepting, h('label', { for: 'profile-accepting' }, 'I am taking new mentees')),
    h('div', { class: 'field' }, h('label', { for: 'profile-capacity' }, 'How many mentees at a time'), capacity),
    status,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save profile')),
  );
}
