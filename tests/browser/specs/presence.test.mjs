// A pseudonymous mentee's presence, from the browser: off by default (her mentor never
// sees her come and go), turned on and off from the conversation's menu, and then shown
// as online / offline only.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, conversationAction, pairUp } from '../lib/app.mjs';

let server;
let chromium;

before(async () => {
  // A short delay before a pseudonym's presence change is shown (the default is 60 s).
  server = await startServer({ env: { MENTORHUB_PSEUDONYMOUS_PRESENCE_DELAY_SECS: '1' } });
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await server?.stop();
});

test("a pseudonym's presence is hidden until she shows it, per conversation", async () => {
  const { mentor, mentee } = await pairUp(chromium, server, {
    pseudonym: 'Night Owl', mentorName: 'Dr Ana Okafor', menteeName: 'Zanele Khumalo',
  });
  const owl = mentor.page.locator('.members-panel li', { hasText: 'Night Owl' });
  await owl.waitFor({ state: 'attached' });
  // Connected all along, yet her mentor sees no presence of hers.
  await mentor.page.waitForTimeout(2500);
  assert.equal(await owl.locator('.presence').count(), 0, 'her presence is shown by default');
  await mentee.page.locator('.members-panel li .tag', { hasText: 'presence hidden' }).waitFor({ state: 'attached' });

  // She shows it here: he sees her online, and her menu now offers to hide it.
  await conversationAction(mentee.page, "Show when I'm online");
  await owl.locator('.presence-online').waitFor({ state: 'attached', timeout: 10_000 });
  await mentee.page.keyboard.press('Escape');
  await conversationAction(mentee.page, "Hide when I'm online");
  await owl.locator('.presence-offline').waitFor({ state: 'attached', timeout: 10_000 });
  await mentee.page.locator('.members-panel li .tag', { hasText: 'presence hidden' }).waitFor({ state: 'attached' });

  assertNoConsoleErrors(chromium.consoleErrors);
});
