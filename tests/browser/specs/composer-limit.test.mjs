// The message box counts what the server counts: bytes of UTF-8, not letters. Near the
// limit it shows what is left, over it it says by how much and does not send; a message
// at the limit exactly goes through. The server never has to refuse a body.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, expectMessage, messageAction, pairUp, waitOnline } from '../lib/app.mjs';

const MAX_BYTES = 16000;
const EMOJI = '\u{1F600}'; // 4 bytes of UTF-8, 2 UTF-16 units, 1 character
const utf8 = (text) => Buffer.byteLength(text, 'utf8');

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

/** Every frame the page's WebSocket sends and receives, from the next connection on. */
function recordFrames(page) {
  const frames = { sent: [], received: [] };
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => frames.sent.push(JSON.parse(payload)));
    ws.on('framereceived', ({ payload }) => frames.received.push(JSON.parse(payload)));
  });
  return frames;
}

test('the message box counts bytes as the server does and never sends too much', async () => {
  const { mentor, mentee } = await pairUp(chromium, server);
  const { page } = mentee;
  const frames = recordFrames(page);
  await page.reload();
  await page.locator('.conversation').waitFor();
  await waitOnline(page);
  const limits = frames.received.find((f) => f.type === 'welcome')?.limits;
  assert.equal(limits?.max_body_bytes, MAX_BYTES, 'the server tells the byte limit');

  const box = page.getByLabel('Message', { exact: true });
  const budget = page.locator('#composer-main-budget');
  const send = page.locator('.composer').getByRole('button', { name: 'Send' });

  // Far from the limit nothing is shown.
  await box.fill('Short note');
  assert.equal(await budget.isVisible(), false);

  // 3,999 emoji are 15,996 bytes (but only 3,999 characters): 4 bytes left.
  await box.fill(EMOJI.repeat(3999));
  await budget.filter({ hasText: '4 bytes left (an emoji takes 4).' }).waitFor();
  assert.equal(await send.isEnabled(), true);

  // Typed one by one: an accented letter takes 2, then an emoji goes over by 2.
  await box.press('End');
  await page.keyboard.type('é');
  await budget.filter({ hasText: '2 bytes left' }).waitFor();
  await page.keyboard.type(EMOJI);
  await budget.filter({ hasText: '2 bytes too long' }).waitFor();
  assert.match(await budget.textContent(), /messages hold 16,000 bytes/);
  assert.equal(await send.isDisabled(), true, 'Send is off over the limit');
  assert.equal(await box.getAttribute('aria-invalid'), 'true');
  // Enter does not send it either (still 4,001 characters: a letter count would have).
  await box.press('Enter');
  assert.equal(utf8(await box.inputValue()), MAX_BYTES + 2, 'the text stays in the box');

  // One emoji less is 15,998 bytes: it sends.
  await box.press('Backspace');
  await budget.filter({ hasText: '2 bytes left' }).waitFor();
  await box.press('Enter');
  await expectMessage(mentor.page, `${EMOJI}é`);
  assert.equal(await box.inputValue(), '');
  assert.equal(await budget.isVisible(), false);

  // Exactly at the limit: 0 bytes left, and the server takes it. Spaces around it are
  // not sent, so they do not count.
  await box.fill(`  ${'\u{1F389}'.repeat(4000)}\n`);
  await budget.filter({ hasText: '0 bytes left' }).waitFor();
  await box.press('Enter');
  await expectMessage(mentor.page, '\u{1F389}\u{1F389}');

  // Editing is held to the same budget.
  await messageAction(page, `${EMOJI}é`, 'Edit');
  const edit = page.getByLabel('Edit message');
  await edit.press('End');
  await page.keyboard.type(`${EMOJI}${EMOJI}`);
  const editBudget = page.locator('.edit-form .composer-budget');
  await editBudget.filter({ hasText: '6 bytes too long' }).waitFor();
  assert.equal(await page.locator('.edit-form').getByRole('button', { name: 'Save' }).isDisabled(), true);
  await edit.press('Backspace');
  await edit.press('Backspace');
  await edit.press('Backspace');
  await page.keyboard.type('!');
  await editBudget.filter({ hasText: '3 bytes left' }).waitFor();
  await page.locator('.edit-form').getByRole('button', { name: 'Save' }).click();
  await expectMessage(mentor.page, `${EMOJI}!`);

  // What went over the wire: no body over the limit, no refusal.
  const bodies = frames.sent.filter((f) => f.type === 'send' || f.type === 'edit').map((f) => f.body);
  assert.equal(bodies.length, 3, `sent ${bodies.length} bodies`);
  for (const body of bodies) assert.ok(utf8(body) <= MAX_BYTES, `a ${utf8(body)}-byte body was sent`);
  assert.deepEqual(bodies.map(utf8), [15998, 16000, 15997]);
  const refusals = frames.received.filter((f) => f.type === 'error');
  assert.deepEqual(refusals, [], 'the server refused something');
  assert.equal(await page.locator('.delivery-failed').count(), 0);

  assertNoConsoleErrors(chromium.consoleErrors);
});
