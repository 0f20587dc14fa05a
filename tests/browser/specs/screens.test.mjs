// Every screen, as each role sees it, at phone (360×740) and laptop (1366×768) sizes:
// axe-core finds no violation on any of them, a screenshot of each is written to the
// artifacts folder, and the conversation is checked by where things are on screen —
// with 60 messages the composer and the newest message are in view, only the list
// scrolls, it opens at the first unread message, and a pill points to new messages.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import {
  DEMO, acceptRequestFrom, assertNoConsoleErrors, confirmDialog, conversationAction, expectConsoleError, expectMessage, messageAction, openConversationWith,
  pairUp, sendMessage, signInAs,
} from '../lib/app.mjs';
import { LAPTOP, PHONE, expectInViewport, lookAt, settleLayout } from '../lib/screens.mjs';

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

/** The mentee's outbox sends `count` messages at once (as a burst after being offline). */
async function sendMany(page, prefix, count) {
  await page.evaluate(({ prefix, count }) => {
    const { outbox, store } = window.mentorhub;
    for (let i = 1; i <= count; i += 1) outbox.add(store.open.conversation, `${prefix} ${i}`);
  }, { prefix, count });
  await page.locator('.message.pending').first().waitFor({ state: 'detached' });
}

/** Where the page and the list stand: does the page itself scroll, does the list? */
function scrollState(page) {
  return page.evaluate(() => {
    const scroller = document.querySelector('.scroller');
    return {
      pageOverflow: document.scrollingElement.scrollHeight - window.innerHeight,
      listScrolls: scroller.scrollHeight > scroller.clientHeight + 10,
      atBottom: scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40,
    };
  });
}

test('sign-in and home screens pass axe-core at both sizes', async () => {
  const mentee = await chromium.person(server.url, 'mentee');
  await mentee.page.goto('/');
  await mentee.page.getByRole('heading', { name: 'Welcome to Mentorhub' }).waitFor();
  await lookAt(mentee.page, 'signin');
  await signInAs(mentee.page, 'Amina Diallo', 'mentee');
  await lookAt(mentee.page, 'home-mentee');
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('a conversation of 60 messages at phone and laptop size', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Lena Ito', menteeName: 'Tomas Ruiz' });
  await sendMany(mentee.page, 'Long thread message', 60);
  await expectMessage(mentor.page, 'Long thread message 60');

  for (const viewport of [PHONE, LAPTOP]) {
    await mentor.page.setViewportSize(viewport);
    await settleLayout(mentor.page);
    const state = await scrollState(mentor.page);
    assert.ok(state.pageOverflow <= 1, `the page itself scrolls by ${state.pageOverflow}px at ${viewport.width}×${viewport.height}`);
    assert.ok(state.listScrolls, 'the message list scrolls within its own box');
    await expectInViewport(mentor.page, mentor.page.getByLabel('Message', { exact: true }), `the composer at ${viewport.width}×${viewport.height}`);
    await expectInViewport(mentor.page, mentor.page.getByRole('button', { name: 'Send' }), 'the Send button');
    await expectInViewport(mentor.page, mentor.page.locator('.messages .body', { hasText: /^Long thread message 60$/ }), 'the newest message');
  }

  // Scrolled up, a new message does not move the list: a pill says so, and takes you there.
  await mentor.page.setViewportSize(PHONE);
  await mentor.page.locator('.scroller').evaluate((el) => { el.scrollTop = 0; });
  await sendMessage(mentee.page, 'Are you still there?');
  const pill = mentor.page.getByRole('button', { name: /new message/ });
  await pill.waitFor();
  await expectInViewport(mentor.page, pill, 'the "new messages" pill');
  assert.equal((await scrollState(mentor.page)).atBottom, false, 'the list jumped while the person was reading');
  await lookAt(mentor.page, 'conversation-scrolled-up', {
    atEachSize: async (page) => expectInViewport(page, page.getByRole('button', { name: /new message/ }), 'the pill'),
  });
  const unread = () => mentor.page.evaluate(() => window.mentorhub.store.conversations.get(window.mentorhub.store.open.conversation).unread);
  assert.equal(await unread(), 1, 'a message that arrived below, out of view, counts as unread');
  await pill.click();
  await expectInViewport(mentor.page, mentor.page.locator('.messages .body', { hasText: 'Are you still there?' }), 'the new message after the pill');
  await pill.waitFor({ state: 'hidden' });
  await mentor.page.waitForFunction(() => window.mentorhub.store.conversations.get(window.mentorhub.store.open.conversation).unread === 0);

  // Away and back: the conversation opens at the first unread message, below a divider.
  await mentor.page.getByRole('link', { name: '← Home' }).click();
  await sendMany(mentee.page, 'While you were away', 12);
  await mentor.page.locator('.badge', { hasText: '12' }).waitFor();
  await openConversationWith(mentor.page, 'Tomas Ruiz');
  await expectMessage(mentor.page, 'While you were away 12');
  await settleLayout(mentor.page);
  await expectInViewport(mentor.page, mentor.page.locator('.unread-divider'), 'the "New messages" divider');
  await expectInViewport(mentor.page, mentor.page.locator('.messages .body', { hasText: /^While you were away 1$/ }), 'the first unread message');
  await expectInViewport(mentor.page, mentor.page.getByLabel('Message', { exact: true }), 'the composer');

  // Every state of the screen a person meets: plain, a message's actions, the menu, a thread.
  await lookAt(mentor.page, 'conversation');
  // A keyboard reaches a message's actions: focusing one shows them.
  const hiddenAction = mentor.page.locator('.messages .message:not(.show-actions) .message-actions button').first();
  await hiddenAction.focus();
  const shown = await hiddenAction.boundingBox();
  assert.ok(shown && shown.width > 20 && shown.height > 20, `a focused message action is not shown: ${JSON.stringify(shown)}`);
  await mentor.page.locator('.scroller').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await messageAction(mentor.page, 'While you were away 12', 'Report');
  await mentor.page.locator('dialog.ask[open]').getByRole('button', { name: 'Cancel' }).click();
  await mentor.page.locator('.messages .message', { hasText: 'While you were away 11' }).locator('.body').click();
  await lookAt(mentor.page, 'conversation-message-actions');
  await mentor.page.setViewportSize(PHONE);
  await mentor.page.locator('.conversation-header details.menu summary').filter({ visible: true }).first().click();
  await lookAt(mentor.page, 'conversation-menu');
  await mentor.page.keyboard.press('Escape');
  await messageAction(mentee.page, 'Are you still there?', 'Reply in thread');
  await mentee.page.getByLabel('Reply', { exact: true }).fill('A reply in the thread');
  await mentee.page.getByLabel('Reply', { exact: true }).press('Enter');
  await expectMessage(mentee.page, 'A reply in the thread');
  await lookAt(mentee.page, 'thread');
  await mentor.page.locator('.thread-link', { hasText: '1 reply' }).waitFor();
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('safeguarding sees a report filed by a mentee, live, and marks it handled', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Sam Hale', menteeName: 'Ines Costa' });
  const guard = await chromium.person(server.url, 'safeguarding');
  await signInAs(guard.page, 'Joy Guardian', 'safeguarding');
  await guard.page.getByRole('link', { name: 'Safeguarding inbox' }).click();
  await guard.page.getByRole('heading', { name: 'Open (0)' }).waitFor();
  await lookAt(guard.page, 'safeguarding-inbox-empty');

  await sendMessage(mentor.page, 'Meet me alone after your shift, do not tell anyone');
  await expectMessage(mentee.page, 'do not tell anyone');
  await messageAction(mentee.page, 'do not tell anyone', 'Report');
  await confirmDialog(mentee.page, 'Report', 'This made me uncomfortable');
  const next = mentee.page.locator('dialog.tell[open]');
  await next.getByRole('heading', { name: 'Reported — what happens next' }).waitFor();
  await lookAt(mentee.page, 'reported-what-happens-next');
  await confirmDialog(mentee.page, 'OK');
  // Reported once: the message says so and offers no second report.
  const row = mentee.page.locator('.messages .message', { hasText: 'do not tell anyone' });
  await row.locator('.reported-tag').waitFor();
  await row.locator('.body').click();
  assert.equal(await row.getByRole('button', { name: 'Report' }).count(), 0, 'a reported message can be reported again');

  // The inbox follows live; the report shows the message in context and who is involved.
  await guard.page.getByRole('heading', { name: 'Open (1)' }).waitFor();
  await guard.page.getByRole('status').filter({ hasText: 'A new report arrived.' }).waitFor();
  await lookAt(guard.page, 'safeguarding-inbox');
  await guard.page.locator('.reports-open a.row').first().click();
  await guard.page.locator('.reported-message .body', { hasText: 'do not tell anyone' }).waitFor();
  await guard.page.locator('.report-reason', { hasText: 'This made me uncomfortable' }).waitFor();
  await guard.page.locator('.report-people', { hasText: 'Ines Costa' }).waitFor();
  await lookAt(guard.page, 'safeguarding-report');
  await guard.page.getByRole('button', { name: 'Mark handled' }).click();
  await confirmDialog(guard.page, 'Mark handled');
  await guard.page.locator('.report-state', { hasText: 'Handled' }).waitFor();
  await guard.page.getByRole('link', { name: '← Safeguarding inbox' }).click();
  await guard.page.getByRole('heading', { name: 'Handled (1)' }).waitFor();
  const mine = await mentee.page.evaluate(() => window.mentorhub.api.get('/me/reports'));
  assert.equal(mine.reports[0].state, 'closed', 'the reporter sees the report handled');
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('blocking shows where it applies and is undone in Settings', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Pat Moss', menteeName: 'Kemi Ade' });
  await conversationAction(mentee.page, 'Block Dr Pat Moss');
  await confirmDialog(mentee.page, 'Block');
  const notice = mentee.page.locator('.blocked-note', { hasText: 'Dr Pat Moss' });
  await notice.waitFor();
  await lookAt(mentee.page, 'conversation-blocked');
  await mentee.page.getByRole('link', { name: 'Settings' }).click();
  const blocks = mentee.page.locator('section.blocks');
  await blocks.getByText('Dr Pat Moss', { exact: true }).waitFor();
  await lookAt(mentee.page, 'settings');
  await blocks.getByRole('button', { name: 'Unblock Dr Pat Moss' }).click();
  await blocks.getByText('You have not blocked anyone.').waitFor();
  await sendMessage(mentor.page, 'Heard again');
  await mentee.page.goBack();
  await expectMessage(mentee.page, 'Heard again');

  // On a touch phone, opening a conversation does not focus the composer (which would
  // pop the keyboard over what the person came to read).
  const phone = await chromium.person(server.url, 'mentee-phone', { viewport: PHONE, context: { hasTouch: true, isMobile: true } });
  await signInAs(phone.page, 'Kemi Ade', 'mentee');
  await openConversationWith(phone.page, 'Dr Pat Moss');
  await expectMessage(phone.page, 'Heard again');
  assert.equal(await phone.page.evaluate(() => document.activeElement?.tagName), 'BODY', 'something took focus on opening');
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('directory, rooms and invite links, pairing and the overview', async () => {
  // A mentor who speaks French, found by the language's name and a word's other form.
  const mentor = await chromium.person(server.url, 'mentor');
  await signInAs(mentor.page, 'Dr Chloé Martin', 'mentor');
  await mentor.page.getByRole('link', { name: 'Settings' }).click();
  await mentor.page.getByLabel('Specialty').fill('Anaesthesia');
  await mentor.page.getByLabel(/^Languages/).fill('fr, en');
  await mentor.page.getByRole('button', { name: 'Save profile' }).click();
  await mentor.page.getByRole('status').filter({ hasText: 'Profile saved.' }).waitFor();
  await lookAt(mentor.page, 'settings-mentor');

  const mentee = await chromium.person(server.url, 'mentee');
  await signInAs(mentee.page, 'Awa Ndiaye', 'mentee');
  await mentee.page.getByRole('link', { name: 'Find a mentor' }).click();
  await mentee.page.getByLabel('Specialty').fill('anaesthetics');
  await mentee.page.getByLabel(/^Language/).fill('French');
  await mentee.page.getByRole('button', { name: 'Search' }).click();
  const card = mentee.page.locator('.card.mentor', { hasText: 'Dr Chloé Martin' });
  await card.waitFor();
  await card.getByText('speaks French, English').waitFor();
  await lookAt(mentee.page, 'directory');
  await mentee.page.getByLabel('Specialty').fill('cardiology');
  await mentee.page.getByRole('button', { name: 'Search' }).click();
  await mentee.page.locator('.empty-directory', { hasText: 'No mentor who is taking new mentees matches specialty “cardiology”' }).waitFor();
  await lookAt(mentee.page, 'directory-empty');
  await mentee.page.getByLabel('Specialty').fill('');
  await mentee.page.getByRole('button', { name: 'Search' }).click();
  await card.getByRole('button', { name: 'Ask Dr Chloé Martin' }).click();
  await lookAt(mentee.page, 'request-mentor');

  // The mentor makes a room and invites by link; a used link says so in words.
  await mentor.page.getByRole('link', { name: 'Home' }).click();
  await mentor.page.getByRole('link', { name: 'New room' }).click();
  await lookAt(mentor.page, 'new-room');
  await mentor.page.getByLabel('Name').fill('Night-shift circle');
  await mentor.page.getByRole('button', { name: 'Create room' }).click();
  await mentor.page.locator('.members-panel summary').click();
  await mentor.page.getByRole('button', { name: 'New invite code' }).click();
  const link = await mentor.page.getByLabel('Invite link').inputValue();
  assert.match(link, /#\/join\/\S{40}$/);
  await expectCopyLinkInSight(mentor.page);
  // On a phone too (a second code: each link works once).
  const laptopSize = mentor.page.viewportSize();
  await mentor.page.setViewportSize({ width: 360, height: 740 });
  await mentor.page.getByRole('button', { name: 'New invite code' }).click();
  await mentor.page.waitForFunction((old) => document.querySelector('#invite-link-field')?.value !== old, link);
  await expectCopyLinkInSight(mentor.page);
  await mentor.page.setViewportSize(laptopSize);
  await lookAt(mentor.page, 'room-facilitator');

  // The link opened before signing in: sign in, then it is there, code filled in.
  const newcomer = await chromium.person(server.url, 'newcomer');
  await newcomer.page.goto(link);
  await newcomer.page.getByLabel('Name').fill('Bo Mensah');
  await newcomer.page.getByLabel('Role').selectOption('mentee');
  await newcomer.page.locator('#dev-form').getByRole('button', { name: 'Sign in' }).click();
  await newcomer.page.getByRole('heading', { name: 'Join a room' }).waitFor();
  await lookAt(newcomer.page, 'join-link');
  await newcomer.page.getByRole('button', { name: 'Join', exact: true }).click();
  await newcomer.page.getByRole('heading', { name: 'Confidentiality agreement' }).waitFor();
  await lookAt(newcomer.page, 'room-agreement');
  await mentee.page.goto(link);
  await mentee.page.getByRole('button', { name: 'Join', exact: true }).click();
  await mentee.page.getByRole('alert').filter({ hasText: 'This invite code does not work' }).waitFor();
  expectConsoleError(chromium.consoleErrors, 'mentee', /404 \(Not Found\)/);
  await lookAt(mentee.page, 'join-link-used');

  // The coordinator pairs the mentee with the mentor and reads the overview.
  const coordinator = await chromium.person(server.url, 'coordinator');
  await signInAs(coordinator.page, DEMO.coordinator, 'coordinator');
  await coordinator.page.getByRole('link', { name: 'Pair a mentee' }).click();
  await coordinator.page.getByLabel('Mentee').selectOption({ label: 'Awa Ndiaye' });
  await coordinator.page.getByLabel('Mentor', { exact: true }).selectOption({ label: 'Dr Chloé Martin — Anaesthesia, 3 of 3 places free' });
  await coordinator.page.getByLabel('Introduction').fill('You both work nights; start with rota survival.');
  await lookAt(coordinator.page, 'assign');
  await coordinator.page.getByRole('button', { name: 'Pair them' }).click();
  await coordinator.page.getByRole('status').filter({ hasText: 'Paired Awa Ndiaye with Dr Chloé Martin' }).waitFor();
  await mentee.page.goto('/#/');
  await mentee.page.locator('.request', { hasText: 'was paired with you by your programme' }).waitFor();
  await coordinator.page.getByRole('link', { name: 'Programme overview' }).click();
  await coordinator.page.locator('table.overview td', { hasText: 'Paired by a coordinator' }).waitFor();
  await lookAt(coordinator.page, 'overview');
  await coordinator.page.getByRole('link', { name: 'Home' }).click();
  await coordinator.page.getByRole('heading', { name: `Hello, ${DEMO.coordinator}` }).waitFor();
  await lookAt(coordinator.page, 'home-coordinator');

  // Both accept; the facilitator invites her mentee into the room by the name she knows.
  await acceptRequestFrom(mentee.page, 'Dr Chloé Martin');
  await mentor.page.goto('/#/');
  await acceptRequestFrom(mentor.page, 'Awa Ndiaye');
  await mentor.page.locator('#view .list a.row', { hasText: 'Night-shift circle' }).click();
  await mentor.page.locator('.members-panel summary').click();
  await mentor.page.getByLabel('Invite someone you know here').selectOption({ label: 'Awa Ndiaye — Awa Ndiaye' });
  await mentor.page.getByRole('button', { name: 'Invite', exact: true }).click();
  await mentor.page.getByRole('status').filter({ hasText: 'Invitation sent to Awa Ndiaye' }).waitFor();
  await mentee.page.locator('.invitation', { hasText: 'Night-shift circle' }).waitFor();
  await lookAt(mentee.page, 'home-invitation');
  // A facilitator's mute is a toggle: one label, its state in aria-pressed.
  const mute = mentor.page.getByRole('button', { name: 'Mute Bo Mensah' });
  await mute.click();
  await mentor.page.locator('button[aria-pressed="true"]', { hasText: 'Mute Bo Mensah' }).waitFor();
  assertNoConsoleErrors(chromium.consoleErrors);
});

/** After "New invite code": the link's Copy button is focused and in sight, inside the
 * members panel's visible area (the panel scrolls) and inside the viewport. */
async function expectCopyLinkInSight(page) {
  const copyLink = page.getByRole('button', { name: 'Copy link' });
  await copyLink.waitFor();
  assert.ok(await copyLink.evaluate((el) => el === document.activeElement), 'Copy link has the focus');
  const [button, panel] = [await copyLink.boundingBox(), await page.locator('.members-panel').boundingBox()];
  const inPanel = button.y >= panel.y && button.y + button.height <= panel.y + panel.height + 1;
  assert.ok(inPanel, `Copy link inside the panel's visible area: ${JSON.stringify({ button, panel })}`);
  assert.ok(button.y + button.height <= page.viewportSize().height, 'Copy link inside the viewport');
}
