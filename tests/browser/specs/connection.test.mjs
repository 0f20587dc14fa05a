// The connection indicator while the server is away: a real countdown to the next
// attempt (it goes down, and matches when the client will really try), and "Retry now"
// that tries at once instead of waiting for it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, screenshot } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { DEMO, assertNoConsoleErrors, signInAsDemo, waitOnline } from '../lib/app.mjs';

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

/** Seconds the pill shows, and seconds until the client's own next attempt (they may differ
 * by a tick or two: timers run late on a loaded machine). */
function countdown(page) {
  return page.evaluate(() => {
    const shown = document.getElementById('connection-state').textContent.match(/^Reconnecting in (\d+) s…$/);
    const { state, stateDetail } = window.mentorhub.connection;
    return {
      shown: shown ? Number(shown[1]) : null,
      real: state === 'reconnecting' && stateDetail?.retryAt ? (stateDetail.retryAt - Date.now()) / 1000 : null,
    };
  });
}

test('reconnecting: the pill counts down to the real next attempt; "Retry now" connects at once', async () => {
  for (const viewport of [{ width: 360, height: 740 }, { width: 1366, height: 768 }]) {
    const person = await chromium.person(server.url, `mentee-${viewport.width}`, { viewport });
    await signInAsDemo(person.page, DEMO.mentee);
    const retry = person.page.getByRole('button', { name: 'Retry now' });
    assert.equal(await retry.isVisible(), false, 'no retry button while online');

    await server.halt();
    // Refused attempts back off (full jitter): wait for a wait of at least 3 s.
    const deadline = Date.now() + 90_000;
    let first;
    for (;;) {
      first = await countdown(person.page);
      if (first.shown !== null && first.real >= 3) break;
      assert.ok(Date.now() < deadline, 'never saw a countdown of 3 s or more');
      await person.page.waitForTimeout(100);
    }
    assert.ok(Math.abs(first.shown - first.real) <= 2, `shows ${first.shown} s, next attempt in ${first.real} s`);
    await retry.waitFor();
    await screenshot(person.page, `reconnecting-${viewport.width}x${viewport.height}`);
    await person.page.waitForTimeout(1100);
    const later = await countdown(person.page);
    assert.ok(later.shown < first.shown, `the countdown went down: ${first.shown} → ${later.shown}`);
    assert.ok(Math.abs(later.shown - later.real) <= 2, `shows ${later.shown} s, next attempt in ${later.real} s`);

    server = await startServer({ dataDir: server.dataDir, port: server.port });
    const clicked = Date.now();
    const scheduled = clicked + later.real * 1000;
    await retry.click();
    await waitOnline(person.page);
    if (later.real > 1.5) assert.ok(Date.now() < scheduled, 'online before the scheduled attempt: the button retried at once');
    assert.equal(await retry.isVisible(), false);
    await person.context.close();
  }
  // A request in flight when the server stops gets an empty response; both are what a halt looks like.
  const refused = /WebSocket connection to '.*' failed|net::ERR_CONNECTION_REFUSED|net::ERR_EMPTY_RESPONSE/;
  assertNoConsoleErrors(chromium.consoleErrors.filter((line) => !refused.test(line)));
});
