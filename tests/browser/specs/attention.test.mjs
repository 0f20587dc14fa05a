// Attention outside the open view: the unread count in the tab title; system
// notifications for messages, requests and calls while the tab is hidden — content-free
// (no body, no name, pseudonym or real); the chime, which plays after the first click.
//
// Headless Chromium never hides a tab, so "hidden" is the page's own visibility state
// set from the test; the notifications are the browser's real ones (permission granted
// to the context), recorded on their way out.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import {
  acceptRequestFrom, assertNoConsoleErrors, conversationAction, expectMessage, openConversationWith,
  publishMentorProfile, requestMentor, sendMessage, setHidden, signInAs,
} from '../lib/app.mjs';

let server;
let chromium;

before(async () => {
  server = await startServer();
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await server?.stop();
});

/** Records every notification the page shows (through its service worker or not). */
function recordNotifications() {
  window.__notifications = [];
  const record = (title, options = {}) => window.__notifications.push({ title, body: options.body || '', tag: options.tag || '' });
  const show = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function showNotification(title, options) {
    record(title, options);
    return show.call(this, title, options);
  };
  const Original = window.Notification;
  window.Notification = class extends Original {
    constructor(title, options) {
      super(title, options);
      record(title, options);
    }
  };
}

async function notifications(page, count) {
  await page.waitForFunction((n) => window.__notifications.length >= n, count, { timeout: 15_000 });
  return page.evaluate(() => window.__notifications);
}

async function expectTitle(page, title) {
  try {
    await page.waitForFunction((t) => document.title === t, title, { timeout: 15_000 });
  } catch {
    assert.equal(await page.title(), title, 'the tab title');
  }
}

async function turnOnNotifications(page) {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel(/^Notify me while Mentorhub is in the background/).check();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').filter({ hasText: /^Saved\.$/ }).waitFor();
  assert.equal(await page.evaluate(() => window.mentorhub.notifier.notificationsAllowed), true);
  await page.getByRole('link', { name: 'Home' }).click();
}

test('tab title, content-free notifications while hidden, and the chime after the first click', async () => {
  const options = { context: { permissions: ['camera', 'microphone', 'notifications'] } };
  const mentor = await chromium.person(server.url, 'mentor', options);
  const mentee = await chromium.person(server.url, 'mentee', { ...options, viewport: { width: 360, height: 740 } });
  for (const person of [mentor, mentee]) await person.page.addInitScript(recordNotifications);

  // The sign-in click is the first interaction: from then on the chime may play.
  await signInAs(mentor.page, 'Dr Selam Tesfaye', 'mentor');
  assert.equal(await mentor.page.evaluate(() => window.mentorhub.notifier.context?.state), 'running');
  await publishMentorProfile(mentor.page);
  await turnOnNotifications(mentor.page);
  await mentor.page.evaluate(() => window.mentorhub.shellCached);
  await setHidden(mentor.page, true);

  // A pseudonymous mentee asks: the hidden mentor is told that a request came, not by whom.
  await signInAs(mentee.page, 'Chidi Obi', 'mentee');
  await requestMentor(mentee.page, 'Dr Selam Tesfaye', { introduction: 'About my rotation plans', pseudonym: 'Night Owl' });
  const [request] = await notifications(mentor.page, 1);
  assert.deepEqual(request, { title: 'Mentorhub', body: 'New mentoring request', tag: 'mentorhub-request' });
  await expectTitle(mentor.page, '(1) Mentorhub');
  const chimesAfterRequest = await mentor.page.evaluate(() => window.mentorhub.notifier.chimes);
  assert.ok(chimesAfterRequest >= 1, 'the request chimed');

  await setHidden(mentor.page, false);
  await acceptRequestFrom(mentor.page, 'Night Owl');
  await expectTitle(mentor.page, 'Mentorhub');

  // Messages while the mentor is elsewhere: counted in the title, chimed, and — hidden —
  // notified as a count, never with the body or a name.
  await openConversationWith(mentee.page, 'Dr Selam Tesfaye');
  await setHidden(mentor.page, true);
  await sendMessage(mentee.page, 'I failed the OSCE and I am scared to tell anyone');
  await sendMessage(mentee.page, 'Second thought about it');
  await expectTitle(mentor.page, '(2) Mentorhub');
  const shown = await notifications(mentor.page, 3);
  assert.deepEqual(shown.slice(1).map((n) => n.body), ['1 new message', '2 new messages']);
  assert.ok(await mentor.page.evaluate(() => window.mentorhub.notifier.chimes) >= chimesAfterRequest + 2, 'each message chimed');

  // A call from the mentee: "Incoming call", nothing more.
  await conversationAction(mentee.page, 'Audio call');
  const ringing = await notifications(mentor.page, 4);
  assert.deepEqual(ringing[3], { title: 'Mentorhub', body: 'Incoming call', tag: 'mentorhub-call' });
  await mentor.page.getByRole('alertdialog').getByRole('button', { name: 'Decline' }).click();

  for (const n of ringing) {
    for (const secret of ['OSCE', 'scared', 'Night Owl', 'Chidi', 'Obi', 'rotation', 'Selam']) {
      assert.ok(!`${n.title} ${n.body}`.includes(secret), `a notification says "${secret}": ${JSON.stringify(n)}`);
    }
  }

  // Back on the tab: the conversation opened clears the count (the screen names the tab).
  await setHidden(mentor.page, false);
  await openConversationWith(mentor.page, 'Night Owl');
  await expectMessage(mentor.page, 'Second thought about it');
  await expectTitle(mentor.page, 'Night Owl — Mentorhub');
  assertNoConsoleErrors(chromium.consoleErrors);
});
