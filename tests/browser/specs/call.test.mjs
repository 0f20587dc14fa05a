// Calls between two browser contexts with Chromium's fake camera and microphone:
// a video call reaches "connected" and media flows both ways; a pseudonymous mentee's
// call reaches the mentor only through the relay (the mentor never sees an address of
// the mentee's own).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, screenshot } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, pairUp } from '../lib/app.mjs';
import { answeredCall, candidateTypes, describeCall, expectInboundGrowth, inboundBytes } from '../lib/call.mjs';

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

function callAndAnswer(caller, callee, media) {
  return answeredCall(caller, callee, media, { chromium, server });
}

async function hangUp(caller, callee) {
  await caller.page.locator('.call').getByRole('button', { name: 'Leave' }).click();
  await callee.page.locator('.call').waitFor({ state: 'detached' });
  await caller.page.locator('.call').waitFor({ state: 'detached' });
}

test('a video call connects and media flows both ways', async () => {
  const { mentor, mentee } = await pairUp(chromium, server);
  await callAndAnswer(mentee, mentor, 'video');
  for (const person of [mentor, mentee]) {
    await expectInboundGrowth(person.page, 'video');
    await expectInboundGrowth(person.page, 'audio', 2_000);
  }
  // The controls work during the call.
  await mentee.page.getByRole('button', { name: 'Mute' }).click();
  await mentee.page.locator('button[aria-pressed="true"]', { hasText: 'Mute' }).waitFor();
  await mentee.page.getByRole('button', { name: 'Low bandwidth' }).click();
  await mentee.page.locator('button[aria-pressed="true"]', { hasText: 'Low bandwidth' }).waitFor();
  await screenshot(mentor.page, 'call');
  await hangUp(mentee, mentor);
  await mentor.context.close();
  await mentee.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('a pseudonymous mentee is reached only through the relay', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { pseudonym: 'Night Owl', mentorName: 'Dr Lena Petrov', menteeName: 'Chidi Obi' });
  await callAndAnswer(mentee, mentor, 'audio');
  await expectInboundGrowth(mentor.page, 'audio', 2_000);
  const seenByMentor = await candidateTypes(mentor.page);
  assert.ok(seenByMentor.remote.length > 0, 'the mentor received candidates');
  assert.deepEqual([...new Set(seenByMentor.remote)], ['relay'], `mentor saw ${JSON.stringify(seenByMentor)}`);
  assert.deepEqual([...new Set(seenByMentor.selectedRemote)], ['relay']);
  const menteeOwn = await candidateTypes(mentee.page);
  assert.deepEqual([...new Set(menteeOwn.local)], ['relay'], `mentee gathered ${JSON.stringify(menteeOwn)}`);
  await hangUp(mentee, mentor);
  assertNoConsoleErrors(chromium.consoleErrors);
});

/** Outgoing video bitrate of the active call's peers, in kbit/s over `ms`, from getStats. */
async function outgoingVideoKbps(page, ms = 3_000) {
  const bytesSent = () => page.evaluate(async () => {
    let total = 0;
    for (const peer of window.mentorhub.calls.active.peers.values()) {
      (await peer.getStats()).forEach((report) => {
        if (report.type === 'outbound-rtp' && report.kind === 'video') total += report.bytesSent || 0;
      });
    }
    return total;
  });
  const before = await bytesSent();
  await page.waitForTimeout(ms);
  return ((await bytesSent()) - before) * 8 / ms;
}

/** The ICE username fragments the active call's peers use now (a restart changes them). */
function iceFragments(page) {
  return page.evaluate(() => [...window.mentorhub.calls.active.peers.values()]
    .map((peer) => /a=ice-ufrag:(\S+)/.exec(peer.pc.localDescription?.sdp || '')?.[1]));
}

test('answering with audio only sends no video and still shows the caller', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Rui Costa', menteeName: 'Aiyana Redcloud' });
  await answeredCall(mentor, mentee, 'video', { audioOnly: true, chromium, server });
  await expectInboundGrowth(mentor.page, 'audio', 2_000);
  await expectInboundGrowth(mentee.page, 'audio', 2_000);
  // Audio only is about what she sends: the caller's video still reaches her.
  await expectInboundGrowth(mentee.page, 'video');
  const theirs = await inboundBytes(mentor.page);
  assert.equal(theirs.video, 0, 'the mentee sent video');
  assert.ok(await outgoingVideoKbps(mentee.page, 1_000) === 0, 'the mentee sends video');
  await hangUp(mentor, mentee);
  await mentor.context.close();
  await mentee.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('low bandwidth on one side lowers what the other sends; a network change restarts ICE and media goes on', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Ama Boateng', menteeName: 'Kofi Asante' });
  await callAndAnswer(mentor, mentee, 'video');
  await expectInboundGrowth(mentee.page, 'video');
  // Let the sender's bandwidth estimate ramp up on loopback before the first reading.
  await mentor.page.waitForTimeout(5_000);
  const normal = await outgoingVideoKbps(mentor.page);

  // The mentee asks for less (`receive_limit` through the server); the mentor's client
  // honours it (the cap is 150 kbit/s).
  await mentee.page.getByRole('button', { name: 'Low bandwidth' }).click();
  await mentee.page.locator('button[aria-pressed="true"]', { hasText: 'Low bandwidth' }).waitFor();
  await mentor.page.waitForFunction(() => [...window.mentorhub.calls.active.limits.values()].includes(150));
  await mentor.page.waitForTimeout(2_000);
  const low = await outgoingVideoKbps(mentor.page);
  assert.ok(low < 200, `the mentor sends at most about the cap: ${low.toFixed(0)} kbit/s (before: ${normal.toFixed(0)})`);
  assert.ok(low < normal * 0.7, `the mentor's video dropped: ${normal.toFixed(0)} → ${low.toFixed(0)} kbit/s`);
  await expectInboundGrowth(mentee.page, 'video', 5_000);

  // The mentee's network changes (offline for a moment, then back): her client gets fresh
  // TURN credentials and restarts ICE; the call stays up and media flows both ways again.
  const fragmentsBefore = await iceFragments(mentee.page);
  await mentee.context.setOffline(true);
  await mentee.page.waitForTimeout(1_000);
  await mentee.context.setOffline(false);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = await iceFragments(mentee.page);
    if (now.length && now.every((f, i) => f && f !== fragmentsBefore[i])) break;
    assert.ok(Date.now() < deadline, `no ICE restart after the network change: ${fragmentsBefore} → ${now}`);
    await mentee.page.waitForTimeout(200);
  }
  for (const person of [mentor, mentee]) {
    await person.page.locator('.call[data-status="connected"]').waitFor({ timeout: 20_000 }).catch(async (error) => {
      const status = await person.page.locator('.call').getAttribute('data-status').catch(() => 'no call');
      throw new Error(`${person.label}: ${error.message}; status ${status}; ${JSON.stringify(await describeCall(person.page))}; connection ${await person.page.locator('.connection').textContent()}`);
    });
    await expectInboundGrowth(person.page, 'video', 10_000);
    await expectInboundGrowth(person.page, 'audio', 1_000);
  }
  await hangUp(mentor, mentee);
  await mentor.context.close();
  await mentee.context.close();
  // Requests made while she was offline fail in her console, as they should; nothing else may.
  const offline = /^\[mentee\].*ERR_INTERNET_DISCONNECTED/;
  chromium.consoleErrors.splice(0, Infinity, ...chromium.consoleErrors.filter((e) => !offline.test(e)));
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('both sides renegotiating at once (glare) settle by perfect negotiation and media goes on', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Ines Duarte', menteeName: 'Tariq Aziz' });
  await callAndAnswer(mentee, mentor, 'video');
  await expectInboundGrowth(mentor.page, 'video');
  const before = { mentor: await iceFragments(mentor.page), mentee: await iceFragments(mentee.page) };
  // Both clients restart ICE in the same instant: two offers cross on the wire.
  const restart = (page) => page.evaluate(() => {
    for (const peer of window.mentorhub.calls.active.peers.values()) peer.restartIce();
  });
  await Promise.all([restart(mentor.page), restart(mentee.page)]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = { mentor: await iceFragments(mentor.page), mentee: await iceFragments(mentee.page) };
    const signalling = await Promise.all([mentor, mentee].map((p) => p.page.evaluate(() => [...window.mentorhub.calls.active.peers.values()].map((peer) => peer.pc.signalingState))));
    const restarted = now.mentor[0] !== before.mentor[0] && now.mentee[0] !== before.mentee[0];
    if (restarted && signalling.flat().every((state) => state === 'stable')) break;
    assert.ok(Date.now() < deadline, `glare did not settle: ${JSON.stringify({ before, now, signalling })}`);
    await mentor.page.waitForTimeout(200);
  }
  for (const person of [mentor, mentee]) {
    await person.page.locator('.call[data-status="connected"]').waitFor({ timeout: 20_000 });
    await expectInboundGrowth(person.page, 'video', 10_000);
  }
  await hangUp(mentee, mentor);
  await mentor.context.close();
  await mentee.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});
