// The conversation screen beyond plain chat: read receipts (opt-in), typing, threads
// with reply counts, edit, delete, and paging back through history.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import {
  DEMO, assertNoConsoleErrors, confirmDialog, expectMessage, messageAction, messageRow, pairUp, sendMessage, waitOnline,
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

test('receipts, typing, threads, edit, delete and paging', async () => {
  const { mentor, mentee } = await pairUp(chromium, server);

  // Receipts are off by default: a read message stays "Sent".
  await sendMessage(mentee.page, 'First question');
  await expectMessage(mentor.page, 'First question');
  await messageRow(mentee.page, 'First question').locator('.delivery', { hasText: 'Sent' }).waitFor();

  // The mentor opts in; from then on the mentee sees "Read".
  const conversationUrl = mentor.page.url();
  await mentor.page.getByRole('link', { name: 'Settings' }).click();
  const receipts = mentor.page.getByLabel('Let others see when I have read their messages');
  assert.equal(await receipts.isChecked(), false, 'read receipts must be off by default');
  await receipts.check();
  await mentor.page.getByRole('button', { name: 'Save', exact: true }).click();
  await mentor.page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await waitOnline(mentor.page);
  await mentor.page.goto(conversationUrl);
  await sendMessage(mentee.page, 'Second question');
  await expectMessage(mentor.page, 'Second question');
  await messageRow(mentee.page, 'Second question').locator('.delivery', { hasText: 'Read' }).waitFor();

  // Typing is shown while the other person writes.
  await mentor.page.getByLabel('Message', { exact: true }).fill('Let me think');
  await mentee.page.locator('.typing', { hasText: `${DEMO.mentor} is typing…` }).waitFor();
  await mentor.page.getByLabel('Message', { exact: true }).press('Enter');
  await expectMessage(mentee.page, 'Let me think');

  // A thread: the mentee replies to the mentor's message; both see the reply count.
  await messageAction(mentee.page, 'Let me think', 'Reply in thread');
  await mentee.page.getByRole('heading', { name: 'Thread' }).waitFor();
  await mentee.page.getByLabel('Reply', { exact: true }).fill('Take your time');
  await mentee.page.getByLabel('Reply', { exact: true }).press('Enter');
  await expectMessage(mentee.page, 'Take your time');
  // The mentor, in the main list, is told a reply landed in a thread.
  await mentor.page.locator('#announcer', { hasText: `${DEMO.mentee} replied in a thread.` }).waitFor();
  await messageRow(mentor.page, 'Let me think').getByRole('link', { name: /^1 reply,/ }).click();
  await expectMessage(mentor.page, 'Take your time');
  await mentor.page.getByRole('link', { name: '← Back to conversation' }).click();
  await mentee.page.getByRole('link', { name: '← Back to conversation' }).click();
  // Replies stay in their thread.
  assert.equal(await mentor.page.locator('.messages .body', { hasText: 'Take your time' }).count(), 0);

  // Edit and delete one's own messages; the other side follows live.
  await messageAction(mentee.page, 'First question', 'Edit');
  await mentee.page.getByLabel('Edit message').fill('First question, rephrased');
  await mentee.page.getByRole('button', { name: 'Save' }).click();
  await messageRow(mentor.page, 'First question, rephrased').locator('.edited').waitFor();
  await messageAction(mentee.page, 'Second question', 'Delete');
  await confirmDialog(mentee.page, 'Delete');
  await mentor.page.locator('.message .body.deleted').waitFor();
  assert.equal(await mentor.page.locator('.messages .body', { hasText: 'Second question' }).count(), 0);

  // Paging: 60 more messages, then a fresh load shows the newest 50 and pages back.
  await mentee.page.evaluate(() => {
    const { outbox, store } = window.mentorhub;
    for (let i = 1; i <= 60; i += 1) outbox.add(store.open.conversation, `Bulk ${i}`);
  });
  await expectMessage(mentor.page, 'Bulk 60');
  await mentee.page.locator('.message.pending').first().waitFor({ state: 'detached' });
  await mentor.page.evaluate(() => {
    for (const key of Object.keys(localStorage)) if (key.startsWith('mh.cache.')) localStorage.removeItem(key);
    window.mentorhub.store.persistNow = () => {};
  });
  await mentor.page.reload();
  await expectMessage(mentor.page, 'Bulk 60');
  assert.equal(await mentor.page.locator('.messages .body', { hasText: /^Bulk 10$/ }).count(), 0);
  await mentor.page.getByRole('button', { name: 'Load earlier messages' }).click();
  await mentor.page.locator('.messages .body', { hasText: /^Bulk 10$/ }).waitFor();
  await mentor.page.locator('.messages .body', { hasText: 'First question, rephrased' }).waitFor();

  assertNoConsoleErrors(chromium.consoleErrors);
});
