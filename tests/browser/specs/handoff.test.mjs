// A token handed over in the address (`/#token=…`) is used only when the person says so:
// a link made by someone else must not silently sign this browser into their account
// (login CSRF) or replace the session already open here.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, confirmDialog, signInAs, waitOnline } from '../lib/app.mjs';
import { expectAccessible } from '../lib/axe.mjs';

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

async function tokenFor(name, role) {
  const response = await fetch(`${server.url}/api/dev/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).token;
}

const signedInAs = (page) => page.evaluate(() => window.mentorhub.session.current?.name || null);

test('a handed-over token replaces the open session only when the person confirms', async () => {
  const person = await chromium.person(server.url, 'hana');
  await signInAs(person.page, 'Hana Ito', 'mentee');
  const foreign = await tokenFor('Mallory Link', 'mentee');

  // Cancel: the session stays Hana's. (A fresh load, as after the institution's login.)
  await person.page.goto('about:blank');
  await person.page.goto(`/#token=${encodeURIComponent(foreign)}`);
  const dialog = person.page.locator('dialog.ask[open]');
  await dialog.getByRole('heading', { name: 'Switch account?' }).waitFor();
  assert.match(await dialog.innerText(), /signed in as Hana Ito.*as Mallory Link/s);
  assert.equal(new URL(person.page.url()).hash, '#/', 'the token left the address bar at once');
  await expectAccessible(person.page, 'token hand-off');
  await confirmDialog(person.page, 'Cancel');
  await waitOnline(person.page);
  assert.equal(await signedInAs(person.page), 'Hana Ito');

  // Confirm, on a link followed inside the open app: now it is the link's account.
  await person.page.evaluate((t) => { location.hash = `#token=${encodeURIComponent(t)}`; }, foreign);
  await confirmDialog(person.page, 'Continue as Mallory Link');
  await person.page.getByRole('heading', { name: 'Hello, Mallory Link' }).waitFor();
  assert.equal(await signedInAs(person.page), 'Mallory Link');
  await person.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('a link does not sign a fresh browser in without asking', async () => {
  const person = await chromium.person(server.url, 'fresh');
  const foreign = await tokenFor('Mallory Link', 'mentee');
  await person.page.goto(`/#token=${encodeURIComponent(foreign)}`);
  const dialog = person.page.locator('dialog.ask[open]');
  await dialog.getByRole('heading', { name: 'Sign in from a link?' }).waitFor();
  assert.equal(await signedInAs(person.page), null, 'nobody is signed in while it asks');
  await confirmDialog(person.page, 'Cancel');
  await person.page.getByRole('heading', { name: /sign in/i }).first().waitFor();
  assert.equal(await signedInAs(person.page), null);
  await person.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});
