// What protects people in a relationship, from the browser: a pseudonymous mentee
// reveals who they are by their own act, a message is reported, the relationship ends
// without fault (read-only for both), and the coordinator's overview counts activity
// without showing any of it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { lookAt } from '../lib/screens.mjs';
import {
  assertNoConsoleErrors, confirmDialog, conversationAction, expectMessage, messageAction, messageRow, pairUp, sendMessage, signInAs,
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

test('reveal, report, no-fault end, content-blind overview', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, {
    pseudonym: 'Night Owl', mentorName: 'Dr Ana Okafor', menteeName: 'Zanele Khumalo',
  });
  await mentor.page.locator('#conversation-title', { hasText: 'Night Owl' }).waitFor();
  await sendMessage(mentee.page, 'A confidential worry about my rota');
  await expectMessage(mentor.page, 'A confidential worry about my rota');

  // Only the mentee can reveal, and only by their own act.
  assert.equal(await mentor.page.getByRole('button', { name: 'Reveal identity' }).count(), 0);
  await conversationAction(mentee.page, 'Reveal identity');
  await confirmDialog(mentee.page, 'Reveal my identity');
  await mentor.page.locator('#conversation-title', { hasText: 'Zanele Khumalo' }).waitFor();

  // The mentee reports one of the mentor's messages (the form says who will see it).
  await sendMessage(mentor.page, 'A message that gets reported');
  await expectMessage(mentee.page, 'A message that gets reported');
  await messageAction(mentee.page, 'A message that gets reported', 'Report');
  await confirmDialog(mentee.page, 'Report', 'Testing the report path');
  await confirmDialog(mentee.page, 'OK');
  await messageRow(mentee.page, 'A message that gets reported').locator('.reported-tag').waitFor();

  // Either party ends it, no fault: read-only for both.
  await conversationAction(mentee.page, 'End relationship');
  await confirmDialog(mentee.page, 'End relationship', 'A private note nobody else reads');
  for (const person of [mentor, mentee]) {
    await person.page.locator('.conversation-state', { hasText: 'read-only' }).waitFor();
    assert.equal(await person.page.getByLabel('Message', { exact: true }).isDisabled(), true);
    // Read-only: no reply, edit or delete on any message, even when it is tapped.
    await person.page.locator('.messages .message .body').first().click();
    for (const name of ['Reply', 'Edit', 'Delete']) {
      assert.equal(await person.page.locator('.messages').getByRole(name === 'Reply' ? 'link' : 'button', { name, exact: true }).count(), 0, `${person.label} can still ${name}`);
    }
  }
  // The private note is shown to the one who wrote it, and to nobody else.
  await mentee.page.locator('.conversation-note', { hasText: 'A private note nobody else reads' }).waitFor();
  assert.equal(await mentor.page.getByText('A private note nobody else reads').count(), 0, 'the mentor sees the private note');
  await lookAt(mentee.page, 'conversation-ended');

  // The coordinator sees that mentoring happened, never what was said or the pseudonym.
  const coordinator = await chromium.person(server.url, 'coordinator');
  await signInAs(coordinator.page, 'Grace Okafor', 'coordinator');
  await coordinator.page.getByRole('link', { name: 'Programme overview' }).click();
  const row = coordinator.page.locator('table.overview tbody tr').first();
  await row.waitFor();
  await lookAt(coordinator.page, 'overview-after-end');
  const overview = await coordinator.page.locator('#view').innerText();
  assert.match(overview, /Ended/);
  for (const secret of ['confidential worry', 'gets reported', 'Night Owl', 'private note']) {
    assert.ok(!overview.includes(secret), `the overview shows "${secret}"`);
  }

  assertNoConsoleErrors(chromium.consoleErrors);
});
