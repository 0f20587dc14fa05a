// What a person does in the web client, as steps the specs share. Every wait is
// "until this is visible, or fail after the timeout" — never a fixed sleep.

import assert from 'node:assert/strict';

export const DEMO = {
  mentee: 'Amina Diallo',
  mentor: 'Dr Kofi Mensah',
  coordinator: 'Grace Okafor',
};

export async function signInAsDemo(page, name) {
  await page.goto('/');
  await page.getByRole('button', { name: new RegExp(`^${name}`) }).click();
  await page.getByRole('heading', { name: `Hello, ${name}` }).waitFor();
  await waitOnline(page);
}

export async function signInAs(page, name, role) {
  await page.goto('/');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Role').selectOption(role);
  await page.locator('#dev-form').getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: `Hello, ${name}` }).waitFor();
  await waitOnline(page);
}

export async function waitOnline(page) {
  await page.locator('#connection-state[data-state="online"]').waitFor();
}

/** A mentor publishes a directory profile (mentees find mentors there). */
export async function publishMentorProfile(page, { specialty = 'Anaesthesia', languages = 'en, fr' } = {}) {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel('Specialty').fill(specialty);
  await page.getByLabel(/^Languages/).fill(languages);
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.getByRole('status').filter({ hasText: 'Profile saved.' }).waitFor();
  await page.getByRole('link', { name: 'Home' }).click();
}

/** The mentee finds the mentor in the directory and asks. */
export async function requestMentor(page, mentorName, { introduction, pseudonym } = {}) {
  await page.getByRole('link', { name: 'Find a mentor' }).click();
  await page.getByRole('button', { name: `Ask ${mentorName}` }).click();
  if (pseudonym) {
    await page.getByLabel('Ask under a pseudonym').check();
    await page.getByLabel('Pseudonym', { exact: true }).fill(pseudonym);
  }
  if (introduction) await page.getByLabel('Introduction').fill(introduction);
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.getByRole('heading', { name: /^Hello,/ }).waitFor();
}

export async function acceptRequestFrom(page, name) {
  const card = page.locator('.request', { hasText: name });
  await card.waitFor();
  await card.getByRole('button', { name: 'Accept' }).click();
  await card.waitFor({ state: 'detached' });
}

export async function openConversationWith(page, name) {
  const row = page.locator('#view .list a.row', { hasText: name });
  await row.waitFor();
  await row.click();
  await page.locator('.conversation').waitFor();
}

export async function sendMessage(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until a message with this exact body is in the list and committed. */
export async function expectMessage(page, text) {
  await page.locator('.messages .message:not(.pending) .body', { hasText: text }).first().waitFor();
}

/** How many times each body occurs in the conversation on screen. */
export async function bodyCounts(page) {
  return page.locator('.messages .message .body').evaluateAll((nodes) => {
    const counts = {};
    for (const node of nodes) counts[node.textContent] = (counts[node.textContent] || 0) + 1;
    return counts;
  });
}

export function assertNoConsoleErrors(errors) {
  assert.deepEqual(errors, [], `console errors during the test:\n${errors.join('\n')}`);
}

/** Two people in a fresh active relationship, both looking at their conversation. */
export async function pairUp(chromium, server, { pseudonym, mentorName = DEMO.mentor, menteeName = DEMO.mentee } = {}) {
  const mentor = await chromium.person(server.url, 'mentor');
  const mentee = await chromium.person(server.url, 'mentee', { viewport: { width: 390, height: 780 } });
  await signInAs(mentor.page, mentorName, 'mentor');
  await publishMentorProfile(mentor.page);
  await signInAs(mentee.page, menteeName, 'mentee');
  await requestMentor(mentee.page, mentorName, { introduction: 'Hello from the district hospital.', pseudonym });
  await acceptRequestFrom(mentor.page, pseudonym || menteeName);
  await openConversationWith(mentee.page, mentorName);
  await openConversationWith(mentor.page, pseudonym || menteeName);
  return { mentor, mentee };
}

/** The message row (committed) whose body contains `text`. */
export function messageRow(page, text) {
  return page.locator('.messages .message:not(.pending)', { has: page.locator('.body', { hasText: text }) });
}

/** Taps a message (its actions appear on tap, not permanently) and uses one of them. */
export async function messageAction(page, text, name) {
  const row = messageRow(page, text);
  if (!(await row.evaluate((el) => el.classList.contains('show-actions')))) await row.locator('.body').click();
  await row.getByRole(name === 'Reply in thread' ? 'link' : 'button', { name, exact: true }).click();
}

/** Uses a conversation header action, opening its menu first when it lives there. */
export async function conversationAction(page, name) {
  const header = page.locator('.conversation-header');
  const direct = header.getByRole('button', { name, exact: true });
  if (!(await direct.first().isVisible())) {
    await header.locator('details.menu summary').filter({ visible: true }).first().click();
  }
  await header.getByRole('button', { name, exact: true }).filter({ visible: true }).first().click();
}

/** Answers the client's own confirmation dialog (never a native one). */
export async function confirmDialog(page, buttonName, text) {
  const dialog = page.locator('dialog.ask[open]').first();
  await dialog.waitFor();
  // This dialog (another may open right after it, e.g. a confirmation).
  const shown = await dialog.elementHandle();
  if (text !== undefined) await dialog.locator('textarea').fill(text);
  await dialog.getByRole('button', { name: buttonName }).click();
  await shown.waitForElementState('hidden');
}

/** Drops the console errors a step was expected to cause (e.g. Chromium logs every
 * refused request as a failed resource load); fails if there was none. */
export function expectConsoleError(errors, label, pattern) {
  const index = errors.findIndex((e) => e.startsWith(`[${label}]`) && pattern.test(e));
  assert.ok(index >= 0, `expected a console error matching ${pattern} from ${label}`);
  errors.splice(index, 1);
}

/** Makes the page's tab hidden or visible as far as the app can tell (headless Chromium
 * never hides a tab): its visibility state, and the event a browser fires. */
export function setHidden(page, hidden) {
  return page.evaluate((value) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (value ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => value });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}
