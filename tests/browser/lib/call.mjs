// Placing calls the way people do, and reading a call's WebRTC statistics from the
// page (the client exposes its calls on `window.mentorhub.calls`).

import { conversationAction } from './app.mjs';

/**
 * `caller` starts an audio or video call from the conversation's header, `callee`
 * answers it from the ring (with audio only if asked), and both wait for "connected".
 * On a failure the error carries both calls' state, the console and the server's log.
 */
export async function answeredCall(caller, callee, media, { audioOnly = false, chromium, server } = {}) {
  await conversationAction(caller.page, media === 'video' ? 'Video call' : 'Audio call');
  const ring = callee.page.getByRole('alertdialog');
  await ring.waitFor();
  await ring.getByRole('button', { name: audioOnly ? 'Accept with audio only' : 'Accept', exact: true }).click();
  try {
    for (const person of [caller, callee]) {
      await person.page.locator('.call[data-status="connected"]').waitFor({ timeout: 30_000 });
    }
  } catch (error) {
    const states = {};
    for (const person of [caller, callee]) states[person.label] = await describeCall(person.page);
    throw new Error(`${error.message}\ncall state: ${JSON.stringify(states, null, 1)}\nconsole: ${JSON.stringify(chromium?.consoleMessages.slice(-40))}\nserver log tail:\n${server?.logs.join('').slice(-6000)}`);
  }
}

/** Sum of inbound RTP bytes over every peer of the active call, per media kind. */
export function inboundBytes(page) {
  return page.evaluate(async () => {
    const call = window.mentorhub.calls.active;
    const totals = { audio: 0, video: 0 };
    if (!call) return totals;
    for (const peer of call.peers.values()) {
      const stats = await peer.getStats();
      stats.forEach((report) => {
        if (report.type === 'inbound-rtp') totals[report.kind] += report.bytesReceived || 0;
      });
    }
    return totals;
  });
}

/** Candidate types seen by the active call's peers: local and remote. */
export function candidateTypes(page) {
  return page.evaluate(async () => {
    const call = window.mentorhub.calls.active;
    const types = { local: [], remote: [], selectedRemote: [] };
    for (const peer of call.peers.values()) {
      const stats = await peer.getStats();
      const byId = new Map();
      stats.forEach((report) => byId.set(report.id, report));
      stats.forEach((report) => {
        if (report.type === 'local-candidate') types.local.push(report.candidateType);
        if (report.type === 'remote-candidate') types.remote.push(report.candidateType);
        if (report.type === 'candidate-pair' && report.state === 'succeeded' && report.nominated) {
          types.selectedRemote.push(byId.get(report.remoteCandidateId)?.candidateType);
        }
      });
    }
    return types;
  });
}

/** Waits until inbound bytes of `kind` grow by at least `bytes`, or fails at the timeout. */
export async function expectInboundGrowth(page, kind, bytes = 20_000, timeoutMs = 30_000) {
  const start = (await inboundBytes(page))[kind];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = (await inboundBytes(page))[kind];
    if (now - start >= bytes) return { start, now };
    if (Date.now() > deadline) throw new Error(`inbound ${kind} bytes grew only from ${start} to ${now} in ${timeoutMs} ms`);
    await page.waitForTimeout(250);
  }
}

/** What the active call looks like on this page: for a failure message. */
export function describeCall(page) {
  return page.evaluate(async () => {
    const call = window.mentorhub.calls.active;
    if (!call) return { active: false };
    const peers = [];
    for (const [member, peer] of call.peers) {
      const stats = await peer.getStats();
      const candidates = [];
      const pairs = [];
      stats.forEach((report) => {
        if (report.type === 'local-candidate' || report.type === 'remote-candidate') {
          candidates.push(`${report.type === 'local-candidate' ? 'L' : 'R'}:${report.candidateType}/${report.protocol}`);
        }
        if (report.type === 'candidate-pair') pairs.push(`${report.state}${report.nominated ? '*' : ''}`);
      });
      peers.push({
        member,
        polite: peer.polite,
        connection: peer.pc.connectionState,
        ice: peer.pc.iceConnectionState,
        gathering: peer.pc.iceGatheringState,
        signaling: peer.pc.signalingState,
        candidates,
        pairs,
      });
    }
    return { status: call.status, relayOnly: call.relayOnly, iceServers: (call.ice?.iceServers || []).map((s) => s.urls), peers };
  });
}
