// A mentee asks a mentor for mentoring, the mentor accepts, and they chat both ways —
// two people in two browser contexts against one real server.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { lookAt } from '../lib/screens.mjs';
import { startServer } from '../lib/server.mjs';
import {
  DEMO, acceptRequestFrom, assertNoConsoleErrors, bodyCounts, expectMessage, openConversationWith,
  publishMentorProfile, requestMentor, sendMessage, signInAsDemo,
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

test('a mentee requests a mentor, the mentor accepts, they chat both ways', async () => {
  const mentor = await chromium.person(server.url, 'mentor');
  const mentee = await chromium.person(server.url, 'mentee', { viewport: { width: 390, height: 780 } });

  await signInAsDemo(mentor.page, DEMO.mentor);
  await publishMentorProfile(mentor.page);
  await signInAsDemo(mentee.page, DEMO.mentee);

  await requestMentor(mentee.page, DEMO.mentor, {
    introduction: 'I am a junior doctor at a district hospital and would value a first conversation about anaesthesia training.',
  });
  await mentee.page.locator('.list .state', { hasText: 'Waiting for an answer' }).waitFor();

  // The request reaches the mentor live, with the introduction.
  await mentor.page.locator('.request blockquote', { hasText: 'district hospital' }).waitFor();
  await lookAt(mentor.page, 'home-mentor-request');
  await acceptRequestFrom(mentor.page, DEMO.mentee);

  // The mentee sees the relationship become active, live.
  await mentee.page.locator('.list .state', { hasText: 'Active' }).waitFor();
  await lookAt(mentee.page, 'home-mentee-active');
  await openConversationWith(mentee.page, DEMO.mentor);
  await openConversationWith(mentor.page, DEMO.mentee);

  await sendMessage(mentee.page, 'Thank you for accepting! When would suit you for a first call?');
  await expectMessage(mentor.page, 'When would suit you for a first call?');
  await sendMessage(mentor.page, 'Thursday evening works well for me.');
  await expectMessage(mentee.page, 'Thursday evening works well for me.');
  await sendMessage(mentee.page, 'Thursday it is.');
  await expectMessage(mentor.page, 'Thursday it is.');

  // Own messages end up "Sent" (receipts are off by default, so never "Read").
  await mentee.page.locator('.message.mine[data-delivery="sent"] .body', { hasText: 'Thursday it is.' }).waitFor();
  for (const person of [mentor, mentee]) {
    const counts = await bodyCounts(person.page);
    for (const [body, count] of Object.entries(counts)) assert.equal(count, 1, `${person.label} shows "${body}" ${count} times`);
    assert.equal(Object.keys(counts).length, 3, `${person.label} shows ${JSON.stringify(counts)}`);
  }
  await lookAt(mentee.page, 'conversation-short');

  assertNoConsoleErrors(chromium.consoleErrors);
});
