// Calls between two browser contexts with Chromium's fake camera and microphone:
// a video call reaches "connected" and media flows both ways; a pseudonymous mentee's
// call reaches the mentor only through the relay (the mentor never sees an address of
// the mentee's own).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, screenshot } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, pairUp } from '../lib/app.mjs';
import { answeredCall, candidateTypes, expectInboundGrowth } from '../lib/call.mjs';

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

function callAndAnswer(caller, callee, media) {
  return answeredCall(caller, callee, media, { chromium, server });
}

async function hangUp(caller, callee) {
  await caller.page.locator('.call').getByRole('button', { name: 'Leave' }).click();
  await callee.page.locator('.call').waitFor({ state: 'detached' });
  await caller.page.locator('.call').waitFor({ state: 'detached' });
}

test('a video call connects and media flows both ways', async () => {
  const { mentor, mentee } = await pairUp(chromium, server);
  await callAndAnswer(mentee, mentor, 'video');
  for (const person of [mentor, mentee]) {
    await expectInboundGrowth(person.page, 'video');
    await expectInboundGrowth(person.page, 'audio', 2_000);
  }
  // The controls work during the call.
  await mentee.page.getByRole('button', { name: 'Mute' }).click();
  await mentee.page.locator('button[aria-pressed="true"]', { hasText: 'Mute' }).waitFor();
  await mentee.page.getByRole('button', { name: 'Low bandwidth' }).click();
  await mentee.page.locator('button[aria-pressed="true"]', { hasText: 'Low bandwidth' }).waitFor();
  await screenshot(mentor.page, 'call');
  await hangUp(mentee, mentor);
  await mentor.context.close();
  await mentee.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('a pseudonymous mentee is reached only through the relay', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { pseudonym: 'Night Owl', mentorName: 'Dr Lena Petrov', menteeName: 'Chidi Obi' });
  await callAndAnswer(mentee, mentor, 'audio');
  await expectInboundGrowth(mentor.page, 'audio', 2_000);
  const seenByMentor = await candidateTypes(mentor.page);
  assert.ok(seenByMentor.remote.length > 0, 'the mentor received candidates');
  assert.deepEqual([...new Set(seenByMentor.remote)], ['relay'], `mentor saw ${JSON.stringify(seenByMentor)}`);
  assert.deepEqual([...new Set(seenByMentor.selectedRemote)], ['relay']);
  const menteeOwn = await candidateTypes(mentee.page);
  assert.deepEqual([...new Set(menteeOwn.local)], ['relay'], `mentee gathered ${JSON.stringify(menteeOwn)}`);
  await hangUp(mentee, mentor);
  assertNoConsoleErrors(chromium.consoleErrors);
});
