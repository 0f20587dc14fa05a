// The call as the two people see it: a one-to-one call ends on both sides within 5 s
// of either hanging up with every camera and microphone track stopped; a video call can
// be answered with audio only; each side sees the other's mute and camera state, and a
// name and avatar where there is no picture; low-bandwidth mode lowers the video one
// receives (the other client caps what it sends); the chat stays reachable during a
// call on a phone; the ring names the caller once. Ringing and in-call screens are
// checked with axe-core and saved at phone and laptop sizes.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, conversationAction, expectMessage, pairUp, sendMessage } from '../lib/app.mjs';
import { answeredCall, expectInboundGrowth, inboundBytes } from '../lib/call.mjs';
import { PHONE, expectInViewport, lookAt } from '../lib/screens.mjs';

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

const call = (caller, callee, media, options = {}) => answeredCall(caller, callee, media, { chromium, server, ...options });

/** Keeps this page's local tracks, to look at them after the call. */
function keepLocalTracks(page) {
  return page.evaluate(() => {
    window.__localTracks = window.mentorhub.calls.active.local.getTracks();
    return window.__localTracks.map((t) => t.kind);
  });
}

function localTrackStates(page) {
  return page.evaluate(() => window.__localTracks.map((t) => `${t.kind}:${t.readyState}`));
}

/** Hangs up on `leaver`'s side; both screens must be out of the call within 5 s. */
async function hangUpWithin5s(leaver, other) {
  const kinds = [await keepLocalTracks(leaver.page), await keepLocalTracks(other.page)];
  assert.ok(kinds.every((k) => k.includes('audio')), `both send audio: ${JSON.stringify(kinds)}`);
  const started = Date.now();
  await leaver.page.locator('.call').getByRole('button', { name: 'Leave' }).click();
  for (const person of [leaver, other]) {
    await person.page.locator('.call').waitFor({ state: 'detached', timeout: 5_000 });
  }
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 5_000, `the call ended on both sides in ${elapsed} ms`);
  for (const person of [leaver, other]) {
    assert.equal(await person.page.evaluate(() => window.mentorhub.calls.active), null, `${person.label} is out of the call`);
    for (const state of await localTrackStates(person.page)) {
      assert.match(state, /:ended$/, `${person.label}'s ${state} track is still live after the call`);
    }
    const open = await person.page.evaluate(() => [...document.querySelectorAll('video')].filter((v) => v.srcObject).length);
    assert.equal(open, 0, `${person.label} still shows media`);
  }
}

test('a 1:1 call ends on both sides within 5 s of either hanging up, every local track stopped', async () => {
  const { mentor, mentee } = await pairUp(chromium, server);
  // The callee hangs up (the case that used to leave the caller alone, camera live).
  await call(mentee, mentor, 'video');
  await hangUpWithin5s(mentor, mentee);
  // And the caller.
  await call(mentee, mentor, 'video');
  await hangUpWithin5s(mentee, mentor);
  // An audio call, the callee hanging up.
  await call(mentor, mentee, 'audio');
  await hangUpWithin5s(mentee, mentor);
  await mentor.context.close();
  await mentee.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});

test('ringing names the caller once; audio only; each side sees the other\'s mute and camera', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Ama Owusu', menteeName: 'Kwame Boateng' });
  await mentee.page.setViewportSize(PHONE);
  await conversationAction(mentee.page, 'Video call');
  const ring = mentor.page.getByRole('alertdialog');
  await ring.waitFor();
  assert.equal(await ring.locator('#ring-desc').textContent(), 'Kwame Boateng is calling.');
  assert.equal((await ring.textContent()).split('Kwame Boateng').length - 1, 1, `the caller is named once: ${await ring.textContent()}`);
  await lookAt(mentor.page, 'call-ringing');
  await ring.getByRole('button', { name: 'Accept with audio only', exact: true }).click();
  for (const person of [mentor, mentee]) await person.page.locator('.call[data-status="connected"]').waitFor({ timeout: 30_000 });

  // The mentor answered with audio only: no camera on their side, and the mentee sees
  // their name and avatar, not a black box — while the mentor still receives video.
  assert.deepEqual(await mentor.page.evaluate(() => window.mentorhub.calls.active.local.getTracks().map((t) => t.kind)), ['audio']);
  const mentorTile = mentee.page.locator('.participant:not(.self)');
  await mentorTile.locator('.avatar', { hasText: 'AO' }).waitFor();
  await mentorTile.locator('figcaption', { hasText: 'Dr Ama Owusu — camera off' }).waitFor();
  assert.ok(await mentorTile.locator('video').evaluate((v) => v.getBoundingClientRect().width <= 1), 'no black box for the audio-only side');
  await expectInboundGrowth(mentor.page, 'video');
  await expectInboundGrowth(mentee.page, 'audio', 2_000);

  // Mute and camera: the other side is told and shows it.
  const menteeTile = mentor.page.locator('.participant:not(.self)');
  await menteeTile.locator('video:not(.no-picture)').waitFor();
  await mentee.page.locator('.call').getByRole('button', { name: 'Mute', exact: true }).click();
  await menteeTile.locator('figcaption', { hasText: 'Kwame Boateng — muted' }).waitFor();
  await mentee.page.locator('.call').getByRole('button', { name: 'Camera off', exact: true }).click();
  await menteeTile.locator('figcaption', { hasText: 'Kwame Boateng — muted, camera off' }).waitFor();
  await menteeTile.locator('.avatar', { hasText: 'KB' }).waitFor();
  assert.equal(await mentee.page.locator('button[aria-pressed="true"]', { hasText: 'Camera off' }).count(), 1);
  await mentee.page.locator('.call').getByRole('button', { name: 'Mute', exact: true }).click();
  await mentee.page.locator('.call').getByRole('button', { name: 'Camera off', exact: true }).click();
  await menteeTile.locator('figcaption', { hasText: /^Kwame Boateng$/ }).waitFor();
  await menteeTile.locator('video:not(.no-picture)').waitFor();
  // The mentee's own preview plays again (not a frozen black box).
  await mentee.page.waitForFunction(() => {
    const video = document.querySelector('video.local-video');
    return video && !video.paused && video.videoWidth > 0;
  });
  await lookAt(mentee.page, 'call-video');
  await lookAt(mentor.page, 'call-audio-only');
  await mentee.page.locator('.call').getByRole('button', { name: 'Leave' }).click();
  await mentor.page.locator('.call').waitFor({ state: 'detached', timeout: 5_000 });
  await mentor.context.close();
  await mentee.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});

/** Video bits per second received over `ms`. */
async function inboundVideoRate(page, ms) {
  const before = (await inboundBytes(page)).video;
  await page.waitForTimeout(ms);
  const after = (await inboundBytes(page)).video;
  return ((after - before) * 8 * 1000) / ms;
}

test('low bandwidth lowers the video one receives; the chat stays reachable in a call on a phone', async () => {
  const { mentor, mentee } = await pairUp(chromium, server, { mentorName: 'Dr Yaw Darko', menteeName: 'Efua Mensah' });
  await mentee.page.setViewportSize(PHONE);
  await call(mentor, mentee, 'video');
  await expectInboundGrowth(mentee.page, 'video');

  await mentee.page.locator('.call').getByRole('button', { name: 'Low bandwidth', exact: true }).click();
  // The mentor's client honours the request: its video to the mentee is capped and scaled down.
  const senderParameters = () => mentor.page.evaluate(() => {
    const peer = [...window.mentorhub.calls.active.peers.values()][0];
    const sender = peer.pc.getSenders().find((s) => s.track?.kind === 'video');
    const [encoding] = sender.getParameters().encodings;
    return { maxBitrate: encoding.maxBitrate, scale: encoding.scaleResolutionDownBy };
  });
  const deadline = Date.now() + 10_000;
  while ((await senderParameters()).maxBitrate !== 150_000) {
    assert.ok(Date.now() < deadline, `the mentor's sender was never capped: ${JSON.stringify(await senderParameters())}`);
    await mentee.page.waitForTimeout(100);
  }
  assert.deepEqual(await senderParameters(), { maxBitrate: 150_000, scale: 2 });
  // What arrives: within the cap (after the encoder has adapted), and video still flows.
  await mentee.page.waitForTimeout(3_000);
  const rate = await inboundVideoRate(mentee.page, 5_000);
  assert.ok(rate > 5_000 && rate <= 200_000, `the mentee receives ${Math.round(rate / 1000)} kbit/s of video`);
  // Lifted again when the mentee turns it off.
  await mentee.page.locator('.call').getByRole('button', { name: 'Low bandwidth', exact: true }).click();
  const lifted = Date.now() + 10_000;
  while ((await senderParameters()).maxBitrate !== undefined) {
    assert.ok(Date.now() < lifted, 'the cap was never lifted');
    await mentee.page.waitForTimeout(100);
  }

  // On the phone the call fills the screen; "Chat" makes it a bar above the conversation.
  assert.equal(await mentee.page.locator('main').isVisible(), false);
  await mentee.page.locator('.call').getByRole('button', { name: 'Chat', exact: true }).click();
  const composer = mentee.page.getByLabel('Message', { exact: true });
  await composer.waitFor();
  await expectInViewport(mentee.page, composer, 'the composer during a call');
  await expectInViewport(mentee.page, mentee.page.locator('.call').getByRole('button', { name: 'Leave' }), 'Leave during chat');
  await sendMessage(mentee.page, 'Can you see the ECG I sent?');
  await expectMessage(mentor.page, 'Can you see the ECG I sent?');
  // The sound goes on while the chat is shown.
  const playing = await mentee.page.evaluate(() => [...document.querySelectorAll('video.remote-video')].map((v) => !v.paused));
  assert.deepEqual(playing, [true]);
  await expectInboundGrowth(mentee.page, 'audio', 2_000);
  await lookAt(mentee.page, 'call-chat');
  await mentee.page.locator('.call').getByRole('button', { name: 'Chat', exact: true }).click();
  assert.equal(await mentee.page.locator('main').isVisible(), false);
  await mentee.page.locator('.call').getByRole('button', { name: 'Leave' }).click();
  await mentor.page.locator('.call').waitFor({ state: 'detached', timeout: 5_000 });
  await mentor.context.close();
  await mentee.context.close();
  assertNoConsoleErrors(chromium.consoleErrors);
});
