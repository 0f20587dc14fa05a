// Settings: read receipts (off by default: nobody sees when you have read unless you
// choose so), a default pseudonym for new requests, and the notification sound.

import { h, render, announce, formatTime } from '../dom.js';
import { errorText } from '../protocol.js';
import { refreshSafety } from '../safety-state.js';
import { mentorProfileForm } from './mentor-profile.js';
import { unblock } from './safety.js';

export function mountSettings(view, app) {
  const { api, store, preferences } = app;
  const receipts = h('input', { id: 'setting-receipts', type: 'checkbox', checked: Boolean(store.settings.read_receipts) });
  const pseudonym = h('input', { id: 'setting-pseudonym', type: 'text', maxlength: 64, value: store.settings.default_pseudonym || '', autocomplete: 'off' });
  const sound = h('input', { id: 'setting-sound', type: 'checkbox', checked: preferences.get('sound') });
  const notifications = h('input', { id: 'setting-notifications', type: 'checkbox', checked: app.notifier.notificationsAllowed });
  const lowBandwidth = h('input', { id: 'setting-low-bandwidth', type: 'checkbox', checked: preferences.get('lowBandwidth') });
  const status = h('p', { role: 'status', class: 'muted' });

  const form = h(
    'form',
    {
      class: 'card',
      id: 'settings-form',
      onsubmit: async (event) => {
        event.preventDefault();
        // Asked first, while the click still counts as the person's own action.
        const wantsNotifications = notifications.checked;
        const notifying = app.notifier.enableNotifications(wantsNotifications);
        preferences.set('sound', sound.checked);
        preferences.set('lowBandwidth', lowBandwidth.checked);
        const settings = {
          read_receipts: receipts.checked,
          default_pseudonym: pseudonym.value.trim() || null,
        };
        try {
          store.settings = await api.put('/me/settings', settings);
          store.persistSoon();
          notifications.checked = await notifying;
          status.textContent = wantsNotifications && !notifications.checked
            ? 'Saved. This browser does not allow notifications for this site.'
            : 'Saved.';
          announce('Settings saved.');
          // The connection reads the receipt setting when it starts: reconnect to apply it.
          app.connection.reconnectNow();
        } catch (error) {
          status.textContent = errorText(error.code, error.message);
        }
      },
    },
    h('h1', {}, 'Settings'),
    h('fieldset', {}, h('legend', {}, 'Privacy'),
      h('div', { class: 'field checkbox' }, receipts, h('label', { for: 'setting-receipts' }, 'Let others see when I have read their messages')),
      h('div', { class: 'field' }, h('label', { for: 'setting-pseudonym' }, 'Default pseudonym'), pseudonym,
        h('p', { class: 'muted' }, 'Used when you ask a mentor or join a room, unless you choose another name there.'))),
    h('fieldset', {}, h('legend', {}, 'This device'),
      h('div', { class: 'field checkbox' }, sound, h('label', { for: 'setting-sound' }, 'Play a sound when a message arrives')),
      h('div', { class: 'field checkbox' }, notifications, h('label', { for: 'setting-notifications' }, 'Notify me while Mentorhub is in the background (new messages, requests and calls — never what was said or who said it)')),
      h('div', { class: 'field checkbox' }, lowBandwidth, h('label', { for: 'setting-low-bandwidth' }, 'Low-bandwidth calls (start with audio only, cap video quality)'))),
    status,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save')),
  );
  const blocks = blockList(app);
  view.append(form, blocks.section);
  if (app.session.hasRole('mentor')) view.append(mentorProfileForm(app));
  refreshSafety(app);
  return blocks.off;
}

/** "since 6 Dec 10:32", and the room's name for a block made in a room. */
function blockedWhere(store, block) {
  const summary = store.conversations.get(block.conversation);
  const room = summary?.kind === 'room' ? `in ${summary.title || 'a room'}, ` : '';
  return `${room}since ${formatTime(block.created_at)}`;
}

/** The people this account blocked (as it knew them), each with "Unblock". */
function blockList(app) {
  const { store } = app;
  const section = h('section', { class: 'card blocks', 'aria-labelledby': 'blocks-title' });
  function draw() {
    const blocks = [...store.blocks.values()];
    render(
      section,
      h('h2', { id: 'blocks-title' }, 'People you blocked'),
      h('p', { class: 'muted' }, 'You see nothing a blocked person sends, and they cannot call you or ask you again. They are not told.'),
      blocks.length
        ? h('ul', { class: 'list' }, blocks.map((b) => h('li', {},
          h('div', { class: 'row' },
            h('span', { class: 'name' }, b.display_name),
            h('span', { class: 'state' }, blockedWhere(store, b)),
            h('button', { type: 'button', class: 'small', onclick: () => unblock(app, b) }, `Unblock ${b.display_name}`)))))
        : h('p', {}, 'You have not blocked anyone.'),
    );
  }
  draw();
  return { section, off: store.on('safety', draw) };
}
