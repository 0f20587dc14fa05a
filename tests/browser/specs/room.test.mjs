// A group room with three people: the facilitator creates it with a confidentiality
// agreement and hands out invite codes; a member who has not accepted the agreement
// sees (and receives) nothing of the conversation, then accepts and takes part.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { lookAt } from '../lib/screens.mjs';
import { startServer } from '../lib/server.mjs';
import { DEMO, assertNoConsoleErrors, expectMessage, sendMessage, signInAs, signInAsDemo } from '../lib/app.mjs';

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

async function newInviteCode(page) {
  const members = page.locator('.members-panel');
  if (!(await members.evaluate((el) => el.open))) await members.locator('summary').click();
  const before = await page.locator('.invite-code').textContent();
  await page.getByRole('button', { name: 'New invite code' }).click();
  await page.locator('.invite-code').filter({ hasNotText: before || '\u0000' }).filter({ hasText: 'Invite code:' }).waitFor();
  const text = await page.locator('.invite-code').textContent();
  return text.match(/Invite code: (\S+)/)[1];
}

async function joinWithCode(page, code) {
  await page.goto('/#/');
  await page.getByLabel('Invite code').fill(code);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('heading', { name: 'Confidentiality agreement' }).waitFor();
}

test('group room: nothing is shown before the agreement is accepted', async () => {
  const facilitator = await chromium.person(server.url, 'facilitator');
  const amina = await chromium.person(server.url, 'amina', { viewport: { width: 390, height: 780 } });
  const bongani = await chromium.person(server.url, 'bongani');
  await signInAsDemo(facilitator.page, DEMO.mentor);
  await signInAsDemo(amina.page, DEMO.mentee);
  await signInAs(bongani.page, 'Bongani Dube', 'mentee');

  await facilitator.page.getByRole('link', { name: 'New room' }).click();
  await facilitator.page.getByLabel('Name').fill('Rural anaesthesia peer group');
  await facilitator.page.getByLabel('Confidentiality agreement').fill('What is said here stays here.');
  await facilitator.page.getByRole('button', { name: 'Create room' }).click();
  await facilitator.page.locator('.conversation').waitFor();
  const roomId = await facilitator.page.evaluate(() => window.mentorhub.store.open.conversation);

  await joinWithCode(amina.page, await newInviteCode(facilitator.page));
  await joinWithCode(bongani.page, await newInviteCode(facilitator.page));
  await amina.page.getByText('What is said here stays here.').waitFor();
  await lookAt(bongani.page, 'room-agreement-gate');

  await amina.page.getByRole('button', { name: 'I accept the agreement' }).click();
  await amina.page.locator('.conversation').waitFor();

  await sendMessage(facilitator.page, 'Welcome, everyone.');
  await expectMessage(amina.page, 'Welcome, everyone.');
  await sendMessage(amina.page, 'Thank you — glad to be here.');
  await expectMessage(facilitator.page, 'Thank you — glad to be here.');

  // Bongani has not agreed: the agreement is all there is, on screen and in memory.
  await bongani.page.getByRole('heading', { name: 'Confidentiality agreement' }).waitFor();
  assert.equal(await bongani.page.locator('.message').count(), 0);
  const seen = await bongani.page.evaluate((id) => {
    const { store } = window.mentorhub;
    return {
      entries: store.timelines.get(id)?.entries.size || 0,
      members: store.conversations.get(id)?.members?.length || 0,
    };
  }, roomId);
  assert.deepEqual(seen, { entries: 0, members: 0 });

  await bongani.page.getByRole('button', { name: 'I accept the agreement' }).click();
  await bongani.page.locator('.conversation').waitFor();
  await sendMessage(bongani.page, 'Hello from Bongani.');
  await expectMessage(facilitator.page, 'Hello from Bongani.');
  await expectMessage(amina.page, 'Hello from Bongani.');
  await sendMessage(amina.page, 'Welcome, Bongani!');
  await expectMessage(bongani.page, 'Welcome, Bongani!');

  // Members and presence are listed by display name.
  const panel = facilitator.page.locator('.members-panel');
  if (!(await panel.evaluate((el) => el.open))) await panel.locator('summary').click();
  await panel.locator('.members li', { hasText: 'Bongani Dube' }).waitFor();
  await panel.locator('.members li', { hasText: 'Amina Diallo' }).waitFor();
  await lookAt(facilitator.page, 'room');

  // How the room's calls carry media is the facilitator's toggle; its state shows in its
  // face (a ticked box), everyone sees the change in the timeline, and nobody else has it.
  const toggle = panel.getByRole('button', { name: 'Calls always through the media server' });
  const mark = () => toggle.evaluate((el) => getComputedStyle(el, '::before').content);
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
  assert.match(await mark(), /\u2610/, 'an empty box while off');
  await toggle.click();
  await panel.locator('button[aria-pressed="true"]', { hasText: 'Calls always through the media server' }).waitFor();
  assert.match(await mark(), /\u2611/, 'a ticked box while on');
  await amina.page.locator('.messages .system', { hasText: 'Calls in this room now always go through the media server.' }).waitFor();
  await lookAt(facilitator.page, 'room-calls-toggle');
  await toggle.click();
  await panel.locator('button[aria-pressed="false"]', { hasText: 'Calls always through the media server' }).waitFor();
  await bongani.page.locator('.messages .system', { hasText: 'Calls in this room go through the media server only when they grow large.' }).waitFor();
  const aminaPanel = amina.page.locator('.members-panel');
  if (!(await aminaPanel.evaluate((el) => el.open))) await aminaPanel.locator('summary').click();
  await aminaPanel.locator('.members li', { hasText: 'Bongani Dube' }).waitFor();
  assert.equal(await aminaPanel.getByRole('button', { name: 'Calls always through the media server' }).count(), 0, 'only a facilitator has the toggle');

  assertNoConsoleErrors(chromium.consoleErrors);
});
