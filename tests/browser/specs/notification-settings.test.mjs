// "When to notify me" in Settings: quiet hours in the device's own time zone, the kinds
// of notification, a daily cap and the e-mail digest, saved on the server. At phone and
// laptop size: the choices survive a reload, the server answers them (asked with the
// page's own token), a value the server refuses is said in words, and the card is
// accessible and fits the screen.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, screenshot } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, expectConsoleError, signInAs } from '../lib/app.mjs';
import { lookAt, SIZES, settleLayout } from '../lib/screens.mjs';

// Not the machine's zone, so the spec shows the device's zone is the one sent.
const ZONE = 'Africa/Nairobi';

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

/** GET with the token the page itself holds. */
function fromServer(page, path) {
  return page.evaluate(async (p) => {
    const response = await fetch(`/api${p}`, { headers: { Authorization: `Bearer ${window.mentorhub.session.token}` } });
    return { status: response.status, body: await response.json() };
  }, path);
}

async function openCard(page) {
  await page.getByRole('link', { name: 'Settings' }).click();
  const card = page.locator('#notify-prefs[data-state="ready"]');
  await card.getByRole('heading', { name: 'When to notify me' }).waitFor();
  return card;
}

/** Nothing on the page reaches past the viewport's right edge (no sideways scrolling). */
async function expectNoSidewaysOverflow(page, what) {
  await settleLayout(page);
  const { scrollWidth, width, outside } = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const outside = [...document.querySelectorAll('#notify-prefs *')]
      .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && (r.right > w + 0.5 || r.left < -0.5); })
      .map((el) => el.id || el.tagName);
    return { scrollWidth: document.documentElement.scrollWidth, width: w, outside };
  });
  assert.ok(scrollWidth <= width, `${what}: the page scrolls sideways (${scrollWidth} > ${width})`);
  assert.deepEqual(outside, [], `${what}: parts of the card are outside the viewport`);
}

for (const [size, viewport] of Object.entries(SIZES)) {
  test(`${size}: quiet hours, a kind turned off and the daily digest are saved, shown after a reload and answered by the server`, async () => {
    const person = await chromium.person(server.url, `prefs-${size}`, { viewport, context: { timezoneId: ZONE } });
    const { page } = person;
    await signInAs(page, `Selam ${size === 'phone' ? 'Tesfaye' : 'Girma'}`, 'mentee');
    let card = await openCard(page);

    // The defaults: no quiet hours, every kind, e-mail never.
    assert.equal(await card.getByLabel('Keep quiet hours').isChecked(), false);
    assert.equal(await card.getByLabel('From').isDisabled(), true);
    assert.equal(await card.getByRole('radio', { name: 'Never' }).isChecked(), true);
    // The zone in words, as the browser names it.
    const zone = await card.locator('#np-zone').textContent();
    assert.match(zone, /^Times in your time zone: East Africa Time \(Nairobi\)\.$/, zone);
    await card.getByText('An e-mail only ever says how many messages are unread, never what they say or who sent them.').waitFor();

    await card.getByLabel('Keep quiet hours').check();
    await card.getByLabel('From').fill('22:00');
    await card.getByLabel('Until').fill('07:00');
    await card.getByLabel('Missed calls').uncheck();
    // The digest is chosen with the keyboard: arrow keys move between the radio buttons.
    await card.getByRole('radio', { name: 'Never' }).focus();
    await page.keyboard.press('ArrowDown');
    assert.equal(await card.getByRole('radio', { name: /^At most once a day/ }).isChecked(), true);
    await expectNoSidewaysOverflow(page, `${size}, filled in`);
    await card.getByRole('button', { name: 'Save notification choices' }).click();
    await card.getByRole('status').filter({ hasText: /^Saved\.$/ }).waitFor();
    await card.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await screenshot(page, `notify-prefs-saved-${size}`);

    await page.reload();
    card = await openCard(page);
    assert.equal(await card.getByLabel('Keep quiet hours').isChecked(), true);
    assert.equal(await card.getByLabel('From').inputValue(), '22:00');
    assert.equal(await card.getByLabel('Until').inputValue(), '07:00');
    assert.equal(await card.getByLabel('Missed calls').isChecked(), false);
    assert.equal(await card.getByLabel('Incoming calls').isChecked(), true);
    assert.equal(await card.getByLabel('Let calls ring in quiet hours').isChecked(), false);
    assert.equal(await card.getByRole('radio', { name: /^At most once a day/ }).isChecked(), true);
    assert.equal(await card.getByLabel('Daily limit').inputValue(), '20');

    const prefs = await fromServer(page, '/me/notifications');
    assert.equal(prefs.status, 200);
    assert.deepEqual(prefs.body.quiet_hours, { start: '22:00', end: '07:00', time_zone: ZONE });
    assert.deepEqual(prefs.body.kinds, { message: true, relationship: true, invitation: true, missed_call: false, ringing_call: true });
    assert.equal(prefs.body.ringing_in_quiet_hours, false);
    assert.equal(prefs.body.daily_cap, 20);
    const digest = await fromServer(page, '/me/email-digest');
    assert.equal(digest.status, 200);
    assert.equal(digest.body.email_digest, 'daily');

    if (size === 'laptop') {
      await card.evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await lookAt(page, 'notify-prefs');
    }
    await expectNoSidewaysOverflow(page, `${size}, after the reload`);

    // A value the server refuses (quiet hours that start and end at the same time — the
    // browser cannot tell): said in words, and nothing saved.
    await card.getByLabel('Until').fill('22:00');
    await card.getByRole('button', { name: 'Save notification choices' }).click();
    await card.getByRole('status').filter({ hasText: 'Not saved: quiet hours must start and end at different times.' }).waitFor();
    await card.getByRole('status').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await screenshot(page, `notify-prefs-refused-${size}`);
    const unchanged = await fromServer(page, '/me/notifications');
    assert.deepEqual(unchanged.body.quiet_hours, { start: '22:00', end: '07:00', time_zone: ZONE });
    // Chromium logs the refused request as a failed resource load.
    expectConsoleError(chromium.consoleErrors, `prefs-${size}`, /status of 400/);

    await person.context.close();
    assertNoConsoleErrors(chromium.consoleErrors);
  });
}
