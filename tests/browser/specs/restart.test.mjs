// The server restarts under a conversation: clients notice, back off, come back when it
// is up again, sign in again (a --dev server signs tokens with a new secret on every
// start, so the old tokens are refused with close code 4001), and resume from the last
// sequence number — a message written during the outage arrives exactly once.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, bodyCounts, expectMessage, pairUp, sendMessage, waitOnline } from '../lib/app.mjs';

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

test('a server restart: reconnect with backoff, sign in again, resume exactly', async () => {
  const { mentor, mentee } = await pairUp(chromium, server);
  await sendMessage(mentee.page, 'Before the restart');
  await expectMessage(mentor.page, 'Before the restart');
  const tokenBefore = await mentee.page.evaluate(() => window.mentorhub.session.token);

  await server.halt();
  for (const person of [mentor, mentee]) {
    await person.page.locator('#connection-state[data-state="reconnecting"]').waitFor();
  }
  await sendMessage(mentor.page, 'Written while the server was down');
  await mentor.page.locator('.message.pending[data-delivery="queued"]').waitFor();

  server = await startServer({ dataDir: server.dataDir, port: server.port });
  for (const person of [mentor, mentee]) await waitOnline(person.page);
  await expectMessage(mentee.page, 'Written while the server was down');
  const tokenAfter = await mentee.page.evaluate(() => window.mentorhub.session.token);
  assert.notEqual(tokenAfter, tokenBefore, 'the mentee signed in again with a token from the new server');

  await sendMessage(mentee.page, 'After the restart');
  await expectMessage(mentor.page, 'After the restart');
  for (const person of [mentor, mentee]) {
    const counts = await bodyCounts(person.page);
    for (const body of ['Before the restart', 'Written while the server was down', 'After the restart']) {
      assert.equal(counts[body], 1, `${person.label} shows "${body}" ${counts[body]} times`);
    }
  }

  // While the server was down the browser itself reports each refused connection
  // attempt on the console; those are expected here and nothing else is.
  // A request in flight when the server stops gets an empty response; both are what a halt looks like.
  const refused = /WebSocket connection to '.*' failed|net::ERR_CONNECTION_REFUSED|net::ERR_EMPTY_RESPONSE/;
  assertNoConsoleErrors(chromium.consoleErrors.filter((line) => !refused.test(line)));
});
