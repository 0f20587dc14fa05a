// Every screen, as each role sees it, at phone (360×740) and laptop (1366×768) sizes:
// axe-core finds no violation on any of them, and a screenshot of each is written to
// the artifacts folder to be looked at.

import { after, before, test } from 'node:test';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, signInAs } from '../lib/app.mjs';
import { lookAt } from '../lib/screens.mjs';

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

test('sign-in and home screens pass axe-core at both sizes', async () => {
  const mentee = await chromium.person(server.url, 'mentee');
  await mentee.page.goto('/');
  await mentee.page.getByRole('heading', { name: 'Welcome to Mentorhub' }).waitFor();
  await lookAt(mentee.page, 'signin');
  await signInAs(mentee.page, 'Amina Diallo', 'mentee');
  await lookAt(mentee.page, 'home-mentee');
  assertNoConsoleErrors(chromium.consoleErrors);
});
