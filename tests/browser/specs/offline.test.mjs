// Poor connections: a mentee goes offline, writes three messages, reloads the page
// while still offline (the app opens from its service worker, the queue from
// localStorage), comes back — and the mentor receives each message exactly once.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import {
  DEMO, acceptRequestFrom, assertNoConsoleErrors, bodyCounts, expectMessage, openConversationWith,
  publishMentorProfile, requestMentor, sendMessage, signInAsDemo, waitOnline,
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

test('messages written offline survive a reload and arrive exactly once', async () => {
  const mentor = await chromium.person(server.url, 'mentor');
  const mentee = await chromium.person(server.url, 'mentee', { viewport: { width: 390, height: 780 } });
  await signInAsDemo(mentor.page, DEMO.mentor);
  await publishMentorProfile(mentor.page);
  await signInAsDemo(mentee.page, DEMO.mentee);
  await requestMentor(mentee.page, DEMO.mentor, { introduction: 'Hello from the district hospital.' });
  await acceptRequestFrom(mentor.page, DEMO.mentee);
  await openConversationWith(mentee.page, DEMO.mentor);
  await openConversationWith(mentor.page, DEMO.mentee);
  await sendMessage(mentee.page, 'Before the storm');
  await expectMessage(mentor.page, 'Before the storm');

  // The app's own files are kept for offline use before the link goes.
  assert.equal(await mentee.page.evaluate(() => window.mentorhub.shellCached), true);

  await mentee.context.setOffline(true);
  await mentee.page.locator('#connection-state[data-state="offline"]').waitFor();
  const offline = ['Offline one', 'Offline two', 'Offline three'];
  for (const text of offline) await sendMessage(mentee.page, text);
  await assert.doesNotReject(
    mentee.page.locator('.message.pending[data-delivery="queued"]').nth(2).waitFor(),
  );

  await mentee.page.reload();
  await mentee.page.locator('#connection-state[data-state="offline"]').waitFor();
  // After the reload, still offline: the queue and the conversation come from this device.
  await mentee.page.locator('.message.pending[data-delivery="queued"]').nth(2).waitFor();
  await expectMessage(mentee.page, 'Before the storm');
  assert.equal(await mentee.page.locator('.message.pending').count(), 3);
  // Nothing reached the mentor while the mentee was offline.
  assert.deepEqual(Object.keys(await bodyCounts(mentor.page)), ['Before the storm']);

  await mentee.context.setOffline(false);
  await waitOnline(mentee.page);
  for (const text of offline) await expectMessage(mentor.page, text);
  await mentee.page.locator('.message.pending').first().waitFor({ state: 'detached' });
  for (const text of offline) await mentee.page.locator('.message.mine[data-delivery="sent"] .body', { hasText: text }).waitFor();

  // A last message from the mentor proves everything before it was delivered; then
  // count: each message exactly once on both screens and in the store.
  await sendMessage(mentor.page, 'Got all three.');
  await expectMessage(mentee.page, 'Got all three.');
  const expected = ['Before the storm', ...offline, 'Got all three.'];
  for (const person of [mentor, mentee]) {
    const counts = await bodyCounts(person.page);
    assert.deepEqual(Object.keys(counts).sort(), [...expected].sort(), `${person.label}: ${JSON.stringify(counts)}`);
    for (const body of expected) assert.equal(counts[body], 1, `${person.label} shows "${body}" ${counts[body]} times`);
  }
  const stored = await mentor.page.evaluate(async () => {
    const { store, api } = window.mentorhub;
    const id = store.open.conversation;
    const page = await api.get(`/conversations/${id}/messages?limit=200`);
    return page.events.filter((e) => e.type === 'message').map((e) => e.body);
  });
  assert.deepEqual(stored, expected);
  assert.equal(await mentee.page.evaluate(() => window.mentorhub.outbox.items.length), 0);

  assertNoConsoleErrors(chromium.consoleErrors);
});
