// Web Push as the person's device handles it: the service worker turns a delivered push
// into a content-free notification, and clicking that notification opens the
// conversation — in the open Mentorhub window, or in a new one.
//
// The push is delivered by Chromium's DevTools protocol (`ServiceWorker.deliverPushMessage`:
// the worker's real `push` event with this plaintext, as after decryption). The
// notification is shown on a desktop the test provides (lib/desktop.mjs: a private D-Bus
// session bus with a freedesktop.org notification server), where Chromium on Linux puts
// it, and it is clicked there the way a desktop does — Chromium then fires the worker's
// real `notificationclick`. (The DevTools protocol itself has no way to click one.) The
// mentee uses Chromium's own profile: a desktop click is routed to the profile that
// showed the notification, which a Playwright browser context is not.
//
// The server runs here without Web Push (its delivery is tested end to end in
// tests/tests/e2e/notify.rs): the Settings control is checked hidden without it, and
// shown — with the page's inline server info amended before the app reads it — to check
// it is accessible.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { launchBrowser, launchProfile, screenshot } from '../lib/browser.mjs';
import { startDesktop } from '../lib/desktop.mjs';
import { startServer } from '../lib/server.mjs';
import {
  acceptRequestFrom, assertNoConsoleErrors, expectConsoleError, expectMessage, openConversationWith, publishMentorProfile,
  requestMentor, sendMessage, setHidden, signInAs,
} from '../lib/app.mjs';
import { lookAt, SIZES } from '../lib/screens.mjs';

/** Extra fields a push might (wrongly) carry: none may ever be shown. */
const CANARIES = {
  body: 'CANARY-BODY I failed the OSCE',
  title: 'CANARY-TITLE rotation plans',
  display_name: 'CANARY-NAME Night Owl',
  agreement: 'CANARY-AGREEMENT weekly calls',
};
const CANARY_WORDS = ['CANARY', 'OSCE', 'rotation', 'Night Owl', 'agreement'];

let server;
let desktop;
let chromium;
let mentee;
let cdp;
let registrationId;
let conversation;

before(async () => {
  // Without Web Push on the server: the Settings tests show the control both ways by
  // amending the page's server info; pushes here come through DevTools, not the server.
  server = await startServer({ env: { MENTORHUB_PUSH_ENABLED: 'false' } });
  desktop = await startDesktop();
  chromium = await launchBrowser();
  mentee = await launchProfile(server.url, 'mentee', { env: desktop.env, permissions: ['notifications'] });
  // The service worker's registration id, which deliverPushMessage names.
  cdp = await mentee.context.newCDPSession(mentee.page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) => {
    for (const r of updated) {
      if (r.isDeleted) registrations.delete(r.scopeURL);
      else registrations.set(r.scopeURL, r.registrationId);
    }
  });
  await cdp.send('ServiceWorker.enable');

  // A real conversation between a mentor and the mentee, with one message in it.
  const mentor = await chromium.person(server.url, 'mentor');
  await signInAs(mentor.page, 'Dr Selam Tesfaye', 'mentor');
  await publishMentorProfile(mentor.page);
  await signInAs(mentee.page, 'Chidi Obi', 'mentee');
  await requestMentor(mentee.page, 'Dr Selam Tesfaye', { introduction: 'About my rotation plans', pseudonym: 'Night Owl' });
  await acceptRequestFrom(mentor.page, 'Night Owl');
  await openConversationWith(mentor.page, 'Night Owl');
  await sendMessage(mentor.page, 'Shall we talk on Thursday?');
  await expectMessage(mentor.page, 'Shall we talk on Thursday?');
  conversation = await mentor.page.evaluate(() => window.mentorhub.store.open.conversation);
  assert.match(conversation, /^c_[a-z0-9]+$/);

  await mentee.page.evaluate(() => window.mentorhub.shellCached);
  await mentee.page.evaluate(() => navigator.serviceWorker.ready);
  registrationId = registrations.get(`${server.url}/`);
  assert.ok(registrationId !== undefined, `no service worker registration for ${server.url}/: ${JSON.stringify([...registrations])}`);
});

after(async () => {
  await mentee?.close();
  await chromium?.close();
  await desktop?.stop();
  await server?.stop();
});

/** Delivers a push whose decrypted plaintext is `data` (an object is sent as JSON). */
function deliverPush(data) {
  return cdp.send('ServiceWorker.deliverPushMessage', {
    origin: server.url,
    registrationId,
    data: typeof data === 'string' ? data : JSON.stringify(data),
  });
}

/** The notifications the worker shows now, as the page's registration reports them. */
function shownNotifications(page) {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications()).map((n) => ({
      title: n.title, body: n.body, tag: n.tag, link: n.data?.link, requireInteraction: n.requireInteraction,
    }));
  });
}

/** Waits until the worker shows exactly one notification with `tag` and returns it. */
async function shownWithTag(page, tag) {
  await page.waitForFunction(async (t) => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications({ tag: t })).length === 1;
  }, tag, { timeout: 15_000, polling: 100 });
  return (await shownNotifications(page)).find((n) => n.tag === tag);
}

/** What the service worker asks the browser to show, from now on: every
 * `showNotification` call, recorded in the worker. (What the page's getNotifications()
 * lists is not reliable here: Chromium reconciles it with what its Linux bridge reports
 * as displayed, and that can drop, or fail to replace, a notification the desktop still
 * shows.) */
async function recordShowCalls() {
  const worker = mentee.context.serviceWorkers()[0] || await mentee.context.waitForEvent('serviceworker');
  await worker.evaluate(() => {
    self.__shown = [];
    const registration = self.registration;
    const show = ServiceWorkerRegistration.prototype.showNotification;
    registration.showNotification = (title, options) => {
      self.__shown.push({
        title, body: options.body, tag: options.tag, link: options.data?.link, requireInteraction: options.requireInteraction,
      });
      return show.call(registration, title, options);
    };
  });
  return { calls: () => worker.evaluate(() => self.__shown) };
}

/** What the desktop shows now, by its id: each notification's latest body, less those
 * closed. */
function desktopShowing() {
  const showing = new Map();
  for (const e of desktop.events) {
    if (e.event === 'notify') showing.set(e.id, e.body);
    if (e.event === 'close') showing.delete(e.id);
  }
  return showing;
}

function assertNoCanary(what, shown) {
  const text = JSON.stringify(shown);
  for (const word of CANARY_WORDS) assert.ok(!text.includes(word), `${what} says "${word}": ${text}`);
}

test('a delivered push shows a content-free notification; clicking it on the desktop opens the conversation in the open window', async () => {
  const { page } = mentee;
  await page.goto('/#/');
  await page.getByRole('heading', { name: 'Hello, Chidi Obi' }).waitFor();
  assert.deepEqual(await shownNotifications(page), []);
  const since = desktop.events.length;

  await deliverPush({ kind: 'message', count: 2, link: `/#/c/${conversation}`, ...CANARIES });
  const shown = await shownWithTag(page, 'mentorhub-message');
  assert.deepEqual(shown, {
    title: 'Mentorhub',
    body: '2 new messages in a mentoring conversation',
    tag: 'mentorhub-message',
    link: `/#/c/${conversation}`,
    requireInteraction: false,
  });
  // What the desktop shows (Chromium puts the site before the body).
  const onDesktop = await desktop.waitFor((e) => e.event === 'notify', 'notification', { since });
  assert.equal(onDesktop.summary, 'Mentorhub');
  assert.ok(onDesktop.body.endsWith('2 new messages in a mentoring conversation'), onDesktop.body);
  assert.ok(onDesktop.actions.includes('default'), 'the desktop notification can be clicked');
  assertNoCanary('the notification', shown);
  assertNoCanary('the desktop notification', onDesktop);

  // A person clicks it: the open window goes to the conversation.
  desktop.click(onDesktop.id);
  await page.waitForURL((url) => url.hash === `#/c/${conversation}`);
  await page.locator('.conversation').waitFor();
  await expectMessage(page, 'Shall we talk on Thursday?');
  await screenshot(page, 'push-clicked-opens-conversation');
  // The worker closed the clicked notification.
  await desktop.waitFor((e) => e.event === 'close' && e.id === onDesktop.id, 'close of the clicked notification', { since });
  assert.deepEqual(await shownNotifications(page), []);
  assertNoConsoleErrors(mentee.consoleErrors);
});

test('each kind has its words and its tag (a newer push replaces the one shown); anything unreadable is a generic notice that opens home', async () => {
  const { page } = mentee;
  assert.deepEqual(await shownNotifications(page), [], 'the clicked notifications are gone');
  const link = `/#/c/${conversation}`;
  const kinds = [
    [{ kind: 'message', count: 1, link }, 'A new message in a mentoring conversation'],
    [{ kind: 'message', count: 5, link }, '5 new messages in a mentoring conversation'],
    [{ kind: 'reply', count: 3, link }, '3 new replies in a conversation thread'],
    [{ kind: 'relationship', count: 1, link: '/#/' }, 'A new mentoring request'],
    [{ kind: 'invitation', count: 2, link: '/#/' }, '2 invitations to conversations'],
    [{ kind: 'missed_call', count: 2, link }, '2 missed calls'],
    [{ kind: 'ringing_call', count: 1, link }, 'Incoming call'],
  ];
  // What the worker asks for: each kind its words and its tag, so that a newer push of a
  // kind takes the place of the one shown.
  const recorder = await recordShowCalls();
  const seen = {};
  for (const [payload, body] of kinds) {
    const since = desktop.events.length;
    await deliverPush({ ...payload, ...CANARIES });
    seen[body] = await desktop.waitFor((e) => e.event === 'notify' && e.body.endsWith(`\n\n${body}`), `"${body}"`, { since });
    assert.equal(seen[body].summary, 'Mentorhub');
  }
  const calls = await recorder.calls();
  const tags = ['mentorhub-message', 'mentorhub-message', 'mentorhub-reply', 'mentorhub-request', 'mentorhub-invitation',
    'mentorhub-missed-call', 'mentorhub-call'];
  assert.deepEqual(calls, kinds.map(([payload, body], i) => ({
    title: 'Mentorhub', body, tag: tags[i], link: payload.link, requireInteraction: payload.kind === 'ringing_call',
  })));
  assertNoCanary('what the worker showed', calls);
  // What the desktop shows a person: the same words, nothing else; a ringing call stays
  // until answered (no expiry, critical), the rest expire as the desktop decides.
  assertNoCanary('the desktop notifications', seen);
  assert.deepEqual([seen['Incoming call'].timeout, seen['Incoming call'].urgency], [0, 2]);
  for (const [, body] of kinds.slice(0, -1)) assert.deepEqual([seen[body].timeout, seen[body].urgency], [-1, 1], body);

  const unreadable = [
    'not json',
    '',
    { kind: 'gossip', count: 1, link },
    { kind: 'message', count: 0, link },
    { kind: 'message', count: 1.5, link },
    { kind: 'message', count: '2', link },
    { kind: 'message', count: 1, link: 'https://elsewhere.example/#/c/c_abc' },
    { kind: 'message', count: 1, link: '/#/c/../settings' },
    { kind: 'message', count: 1, link: 'javascript:alert(1)' },
    { kind: 'message', count: 1 },
    { kind: 'toString', count: 1, link },
    [1, 2],
  ];
  // Each one shows the generic notice, which replaces the one before (same tag). (Not
  // closed in between: a desktop reports a close later, and Chromium would apply that
  // report to the next notification with the same tag.)
  for (const payload of unreadable) {
    const since = desktop.events.length;
    await deliverPush(payload);
    const onDesktop = await desktop.waitFor((e) => e.event === 'notify', `a notification for ${JSON.stringify(payload)}`, { since });
    assert.ok(onDesktop.body.endsWith('\n\nSomething new in Mentorhub'), `for ${JSON.stringify(payload)}: ${onDesktop.body}`);
    assert.deepEqual([onDesktop.summary, onDesktop.timeout], ['Mentorhub', -1]);
  }
  // One tag for all of them: each takes the place of the one before.
  assert.deepEqual((await recorder.calls()).slice(kinds.length), unreadable.map(() => ({
    title: 'Mentorhub', body: 'Something new in Mentorhub', tag: 'mentorhub-push', link: '/#/', requireInteraction: false,
  })));
  // The generic notice opens the home screen.
  await page.goto(`/#/c/${conversation}`);
  await page.locator('.conversation').waitFor();
  const since = desktop.events.length;
  await deliverPush({ kind: 'gossip', count: 1, link, ...CANARIES });
  const onDesktop = await desktop.waitFor((e) => e.event === 'notify', 'notification', { since });
  assert.ok(onDesktop.body.endsWith('Something new in Mentorhub'), onDesktop.body);
  desktop.click(onDesktop.id);
  await page.waitForURL((url) => url.hash === '#/');
  await page.getByRole('heading', { name: 'Hello, Chidi Obi' }).waitFor();
  assertNoConsoleErrors(mentee.consoleErrors);
});

// After the kinds, not before: Chromium applies a close that a desktop reports for a
// clicked notification to the next notification with the same tag, and with no window
// open that report can arrive late, after the kinds test has shown that tag again.
test('with no Mentorhub window open, clicking a pushed notification opens one on the conversation', async () => {
  const since = desktop.events.length;
  // A blank tab keeps the browser (and the DevTools session that delivers pushes) open.
  const blank = await mentee.context.newPage();
  cdp = await mentee.context.newCDPSession(blank);
  await cdp.send('ServiceWorker.enable');
  await mentee.page.close();

  await deliverPush({ kind: 'missed_call', count: 1, link: `/#/c/${conversation}` });
  const onDesktop = await desktop.waitFor((e) => e.event === 'notify', 'notification', { since });
  assert.ok(onDesktop.body.endsWith('A missed call'), onDesktop.body);

  const opened = mentee.context.waitForEvent('page');
  desktop.click(onDesktop.id);
  const page = await opened;
  await page.waitForURL((url) => url.hash === `#/c/${conversation}`);
  await page.locator('.conversation').waitFor();
  await expectMessage(page, 'Shall we talk on Thursday?');
  await screenshot(page, 'push-clicked-opens-window');
  mentee.page = page;
  assertNoConsoleErrors(mentee.consoleErrors);
});

test('opening Mentorhub, or coming back to its tab, clears every notification it showed, pushed ones included', async () => {
  const { page } = mentee;
  const link = `/#/c/${conversation}`;
  const pushes = [
    [{ kind: 'reply', count: 1, link }, 'A new reply in a conversation thread'],
    [{ kind: 'invitation', count: 1, link: '/#/' }, 'An invitation to a conversation'],
    [{ kind: 'missed_call', count: 1, link }, 'A missed call'],
    ['not json', 'Something new in Mentorhub'],
  ];
  /** Delivers every push; resolves the desktop's ids of what it shows. */
  async function showAll() {
    const ids = [];
    for (const [payload, body] of pushes) {
      const since = desktop.events.length;
      await deliverPush(payload);
      const shown = await desktop.waitFor((e) => e.event === 'notify' && e.body.endsWith(`\n\n${body}`), `"${body}"`, { since });
      ids.push(shown.id);
    }
    const showing = desktopShowing();
    assert.ok(ids.every((id) => showing.has(id)), `all of them on the desktop: ${JSON.stringify([...showing])}`);
    return ids;
  }
  async function expectAllClosed(ids, since, what) {
    for (const id of ids) await desktop.waitFor((e) => e.event === 'close' && e.id === id, `${what}: the close of ${id}`, { since });
    await page.waitForFunction(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 0);
  }

  // The window the last test opened has cleared the rest (it does so on opening).
  await page.waitForFunction(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length === 0);
  // Opened again (a reload is what opening the app from the home screen does).
  let ids = await showAll();
  let since = desktop.events.length;
  await page.reload();
  await page.locator('.conversation').waitFor();
  await expectAllClosed(ids, since, 'on opening');

  // Hidden, then back to the tab.
  await setHidden(page, true);
  ids = await showAll();
  await new Promise((resolve) => { setTimeout(resolve, 500); });
  const showing = desktopShowing();
  assert.ok(ids.every((id) => showing.has(id)), 'nothing is cleared while the tab is hidden');
  since = desktop.events.length;
  await setHidden(page, false);
  await expectAllClosed(ids, since, 'back on the tab');
  assertNoConsoleErrors(mentee.consoleErrors);
});

test('Settings: no "Notifications on this device" when the server offers no Web Push', async () => {
  const { page } = mentee;
  await page.goto('/#/settings');
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'People you blocked' }).waitFor();
  assert.equal(await page.evaluate(() => window.mentorhub.server.push), undefined, 'this server has no push info');
  assert.equal(await page.getByRole('heading', { name: 'Notifications on this device' }).count(), 0);
  assert.equal(await page.locator('#push-settings').count(), 0);
  assertNoConsoleErrors(mentee.consoleErrors);
});

test('Settings: with a server that offers Web Push (its info amended in the page) the control is there and accessible', async () => {
  // An uncompressed P-256 point, as the server's info would carry.
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const key = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]).toString('base64url');
  const person = await chromium.person(server.url, 'settings', { context: { permissions: ['notifications'] } });
  // The page's inline server info gains the key before the app reads it.
  await person.page.addInitScript((vapidKey) => {
    new MutationObserver((_, observer) => {
      const info = document.getElementById('server-info');
      let parsed;
      try {
        parsed = JSON.parse(info?.textContent);
      } catch {
        return; // not parsed yet
      }
      info.textContent = JSON.stringify({ ...parsed, push: { vapid_public_key: vapidKey } });
      observer.disconnect();
    }).observe(document, { childList: true, subtree: true, characterData: true });
  }, key);
  await signInAs(person.page, 'Abebe Kebede', 'mentee');
  assert.equal(await person.page.evaluate(() => window.mentorhub.server.push?.vapid_public_key), key);
  await person.page.getByRole('link', { name: 'Settings' }).click();
  const section = person.page.locator('#push-settings');
  await section.getByRole('heading', { name: 'Notifications on this device' }).waitFor();
  await section.getByRole('status').filter({ hasText: 'Off.' }).waitFor();
  const toggle = section.getByRole('button', { name: 'Turn on notifications on this device' });
  assert.equal(await toggle.isEnabled(), true);
  await lookAt(person.page, 'settings-push');
  // The section itself as a person scrolls to it, phone and laptop.
  for (const [size, viewport] of Object.entries(SIZES)) {
    await person.page.setViewportSize(viewport);
    await section.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await screenshot(person.page, `settings-push-section-${size}`);
  }
  // Turning it on subscribes through the browser's push service, which a test browser
  // (a separate context, no push service) refuses: the failure is said, nothing breaks.
  await toggle.click();
  await section.getByRole('status').filter({ hasText: 'This browser could not set up notifications right now. Try again later.' }).waitFor();
  await section.getByRole('button', { name: 'Turn on notifications on this device' }).waitFor();
  await screenshot(person.page, 'settings-push-subscribe-refused');
  // Chromium's own explanation, logged as an error.
  expectConsoleError(chromium.consoleErrors, 'settings', /does not support the Push API in incognito/);
  await person.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});
