// Settings: read receipts (off by default: nobody sees when you have read unless you
// choose so), a default pseudonym for new requests, the notification sound, and —
// where the server offers Web Push — notifications on this device while it is closed;
// then when the server may notify this account at all: quiet hours, kinds, a daily cap
// and the e-mail digest.

import { ApiError } from '../api.js';
import { h, render, announce, formatTime } from '../dom.js';
import { errorText } from '../protocol.js';
import { refreshSafety } from '../safety-state.js';
import { mentorProfileForm } from './mentor-profile.js';
import { unblock } from './safety.js';
import { pushOffered, pushState, turnOffPush, turnOnPush } from '../push.js';

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
  view.append(form);
  if (pushOffered(app)) view.append(pushSection(app));
  view.append(whenToNotifySection(app));
  view.append(blocks.section);
  if (app.session.hasRole('mentor')) view.append(mentorProfileForm(app));
  refreshSafety(app);
  return blocks.off;
}

const PUSH_STATUS = {
  on: 'On: this device is told when something happens.',
  off: 'Off.',
  blocked: 'This browser blocks notifications for this site: allow them in its site settings first.',
};

/** "Notifications on this device": Web Push, turned on or off at once (the browser asks
 * its permission on the click that turns it on). */
function pushSection(app) {
  const status = h('p', { role: 'status', id: 'push-status' }, 'Checking…');
  const button = h('button', { type: 'button', id: 'push-toggle', disabled: true }, 'Turn on notifications on this device');
  let state = 'off';
  function show(next, problem) {
    state = next;
    status.textContent = problem || PUSH_STATUS[next];
    button.textContent = `Turn ${next === 'on' ? 'off' : 'on'} notifications on this device`;
    button.disabled = next === 'blocked';
  }
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      // The status line is a live region: the outcome is read out from there.
      show(state === 'on' ? await turnOffPush(app) : await turnOnPush(app));
    } catch (error) {
      // The server's refusal in its words; the browser's own failures (no push
      // service reachable, …) say nothing useful to a person.
      show(await pushState(app).catch(() => 'off'), error instanceof ApiError
        ? errorText(error.code, error.message)
        : 'This browser could not set up notifications right now. Try again later.');
    }
  });
  pushState(app).then((current) => show(current), () => show('off'));
  return h('section', { class: 'card', id: 'push-settings', 'aria-labelledby': 'push-title' },
    h('h2', { id: 'push-title' }, 'Notifications on this device'),
    h('p', { class: 'muted' }, 'While Mentorhub is closed, this device can tell you that something happened: new messages, mentoring requests, invitations and calls. It says only what kind and how many — never what was said or who said it.'),
    status,
    h('div', { class: 'actions' }, button));
}

const KINDS = [
  ['message', 'New messages and replies'],
  ['relationship', 'Mentoring requests and their answers'],
  ['invitation', 'Invitations to rooms'],
  ['missed_call', 'Missed calls'],
  ['ringing_call', 'Incoming calls'],
];

const DIGESTS = [
  ['off', 'Never'],
  ['daily', 'At most once a day, about messages unread for an hour'],
  ['after_hours', 'When a message has been unread for a number of hours'],
];

/** This device's IANA time zone, and the same in words ("India Standard Time"). */
function deviceZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return { zone, words: zoneInWords(zone) };
}

function zoneInWords(zone) {
  try {
    const part = new Intl.DateTimeFormat(undefined, { timeZone: zone, timeZoneName: 'long' })
      .formatToParts(new Date()).find((p) => p.type === 'timeZoneName');
    const place = zone.includes('/') ? zone.split('/').pop().replaceAll('_', ' ') : zone;
    return part ? `${part.value} (${place})` : place;
  } catch {
    return zone;
  }
}

/** The server's refusal of a preference, in words a person can act on. */
function refusalText(error) {
  const message = error?.message || '';
  if (error?.code === 'body_invalid' || error?.code === 'invalid_frame') {
    if (/start and end must differ/.test(message)) return 'Not saved: quiet hours must start and end at different times.';
    if (/quiet_hours\.(start|end)/.test(message)) return 'Not saved: give quiet hours as a start and an end time.';
    if (/time_zone/.test(message)) return "Not saved: the server does not know this device's time zone. Quiet hours were not changed.";
    if (/daily_cap/.test(message)) return 'Not saved: the daily limit must be a whole number from 0 to 1000.';
    if (/hours/.test(message)) return 'Not saved: the number of hours must be from 1 to 168.';
    return `Not saved: the server refused these choices (${message}).`;
  }
  return `Not saved: ${errorText(error?.code, message)}`;
}

/** "When to notify me": the account's notification preferences (§11.11) and e-mail
 * digest (§11.12), for every device, saved on the server. */
function whenToNotifySection(app) {
  const { api } = app;
  const here = deviceZone();
  const status = h('p', { role: 'status', id: 'notify-prefs-status' }, 'Loading your choices…');
  const quietOn = h('input', { id: 'np-quiet', type: 'checkbox' });
  const quietStart = h('input', { id: 'np-quiet-start', type: 'time', value: '22:00' });
  const quietEnd = h('input', { id: 'np-quiet-end', type: 'time', value: '07:00' });
  const zoneNote = h('p', { class: 'muted', id: 'np-zone' });
  const ringing = h('input', { id: 'np-ringing', type: 'checkbox' });
  const kinds = Object.fromEntries(KINDS.map(([kind]) => [kind, h('input', { id: `np-kind-${kind}`, type: 'checkbox', checked: true })]));
  const cap = h('input', { id: 'np-cap', type: 'number', min: 0, max: 1000, step: 1, required: true, inputmode: 'numeric', 'aria-describedby': 'np-cap-help' });
  const digests = Object.fromEntries(DIGESTS.map(([value]) => [value, h('input', { id: `np-digest-${value}`, type: 'radio', name: 'np-digest', value })]));
  const afterHours = h('input', { id: 'np-after-hours', type: 'number', min: 1, max: 168, step: 1, required: true, inputmode: 'numeric' });
  const save = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Save notification choices');
  let push = true;

  function showQuiet() {
    quietStart.disabled = !quietOn.checked;
    quietEnd.disabled = !quietOn.checked;
  }
  function showDigest() {
    afterHours.disabled = !digests.after_hours.checked;
  }
  function show(prefs, digest) {
    push = prefs.push;
    quietOn.checked = Boolean(prefs.quiet_hours);
    if (prefs.quiet_hours) {
      quietStart.value = prefs.quiet_hours.start;
      quietEnd.value = prefs.quiet_hours.end;
    }
    const saved = prefs.quiet_hours?.time_zone;
    zoneNote.textContent = saved && saved !== here.zone
      ? `Saved in ${zoneInWords(saved)}. Saving here uses this device's time zone: ${here.words}.`
      : `Times in your time zone: ${here.words}.`;
    ringing.checked = prefs.ringing_in_quiet_hours;
    for (const [kind] of KINDS) kinds[kind].checked = prefs.kinds[kind];
    cap.value = String(prefs.daily_cap);
    (digests[digest.email_digest] || digests.off).checked = true;
    afterHours.value = String(digest.email_after_hours ?? 12);
    showQuiet();
    showDigest();
  }
  quietOn.addEventListener('change', showQuiet);
  for (const radio of Object.values(digests)) radio.addEventListener('change', showDigest);

  const form = h(
    'form',
    {
      class: 'card',
      id: 'notify-prefs',
      'aria-labelledby': 'notify-prefs-title',
      onsubmit: async (event) => {
        event.preventDefault();
        const prefs = {
          push,
          kinds: Object.fromEntries(KINDS.map(([kind]) => [kind, kinds[kind].checked])),
          quiet_hours: quietOn.checked
            ? { start: quietStart.value, end: quietEnd.value, time_zone: here.zone }
            : null,
          ringing_in_quiet_hours: ringing.checked,
          daily_cap: Number(cap.value),
        };
        const choice = Object.values(digests).find((r) => r.checked)?.value || 'off';
        const digest = { email_digest: choice };
        if (choice === 'after_hours') digest.email_after_hours = Number(afterHours.value);
        save.disabled = true;
        status.textContent = 'Saving…';
        try {
          const savedPrefs = await api.put('/me/notifications', prefs);
          const savedDigest = await api.put('/me/email-digest', digest);
          show(savedPrefs, savedDigest);
          status.textContent = 'Saved.';
        } catch (error) {
          status.textContent = refusalText(error);
        } finally {
          save.disabled = false;
        }
      },
    },
    h('h2', { id: 'notify-prefs-title' }, 'When to notify me'),
    h('p', { class: 'muted' }, 'For all your devices. A notification says only what kind and how many — never what was said or who said it.'),
    h('fieldset', {}, h('legend', {}, 'Quiet hours'),
      h('div', { class: 'field checkbox' }, quietOn, h('label', { for: 'np-quiet' }, 'Keep quiet hours')),
      h('div', { class: 'time-range' },
        h('div', { class: 'field' }, h('label', { for: 'np-quiet-start' }, 'From'), quietStart),
        h('div', { class: 'field' }, h('label', { for: 'np-quiet-end' }, 'Until'), quietEnd)),
      zoneNote,
      h('div', { class: 'field checkbox' }, ringing, h('label', { for: 'np-ringing' }, 'Let calls ring in quiet hours'))),
    h('fieldset', {}, h('legend', {}, 'Tell me about'),
      KINDS.map(([kind, label]) => h('div', { class: 'field checkbox' }, kinds[kind], h('label', { for: `np-kind-${kind}` }, label)))),
    h('div', { class: 'field' }, h('label', { for: 'np-cap' }, 'Daily limit'), cap,
      h('p', { class: 'muted', id: 'np-cap-help' }, 'At most this many notifications in any 24 hours (0 to 1000).')),
    h('fieldset', {}, h('legend', {}, 'E-mail digest'),
      h('p', { class: 'muted' }, 'An e-mail only ever says how many messages are unread, never what they say or who sent them.'),
      DIGESTS.map(([value, label]) => h('div', { class: 'field checkbox' }, digests[value], h('label', { for: `np-digest-${value}` }, label))),
      h('div', { class: 'field' }, h('label', { for: 'np-after-hours' }, 'Hours unread before an e-mail (1 to 168)'), afterHours)),
    status,
    h('div', { class: 'actions' }, save),
  );
  Promise.all([api.get('/me/notifications'), api.get('/me/email-digest')]).then(
    ([prefs, digest]) => {
      show(prefs, digest);
      status.textContent = '';
      save.disabled = false;
      form.dataset.state = 'ready';
    },
    (error) => {
      status.textContent = `Your notification choices could not be loaded: ${errorText(error.code, error.message)}`;
    },
  );
  return form;
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
