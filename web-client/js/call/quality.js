// Call quality, measured on our own peer connections (`getStats`): what the person is
// told ("Weak connection") and the content-free figures sent to the server (`stats`:
// round trip, inbound loss and bitrate, relayed or not), which only feed the operator's
// per-node histograms. Nothing here names anyone.

/** How often figures are taken and sent (the server counts one per 5 s at most). */
export const QUALITY_INTERVAL_MS = 10_000;

/** Above these the person is told the connection is weak. */
const WEAK_RTT_MS = 400;
const WEAK_LOSS = 0.05;

/** Running counters of one peer connection, to turn totals into rates. */
export class QualitySampler {
  constructor() {
    this.previous = new Map();
  }

  /** Figures over every peer since the last sample, or null before media flows. */
  async sample(peers, now = performance.now()) {
    let rttMs = 0;
    let lost = 0;
    let received = 0;
    let bytes = 0;
    let relayed = false;
    let seen = false;
    const elapsed = this.lastAt ? (now - this.lastAt) / 1000 : 0;
    for (const [member, peer] of peers) {
      const report = await peer.getStats().catch(() => null);
      if (!report) continue;
      const totals = { lost: 0, received: 0, bytes: 0 };
      const byId = new Map();
      report.forEach((entry) => byId.set(entry.id, entry));
      for (const entry of byId.values()) {
        if (entry.type === 'inbound-rtp') {
          totals.lost += Math.max(0, entry.packetsLost || 0);
          totals.received += entry.packetsReceived || 0;
          totals.bytes += entry.bytesReceived || 0;
        } else if (entry.type === 'candidate-pair' && entry.nominated && entry.state === 'succeeded') {
          seen = true;
          rttMs = Math.max(rttMs, Math.round((entry.currentRoundTripTime || 0) * 1000));
          if (byId.get(entry.localCandidateId)?.candidateType === 'relay') relayed = true;
        }
      }
      const before = this.previous.get(member);
      this.previous.set(member, totals);
      if (!before) continue;
      lost += Math.max(0, totals.lost - before.lost);
      received += Math.max(0, totals.received - before.received);
      bytes += Math.max(0, totals.bytes - before.bytes);
    }
    this.lastAt = now;
    if (!seen || !elapsed) return null;
    const loss = lost + received ? lost / (lost + received) : 0;
    return {
      rtt_ms: Math.min(rttMs, 60_000),
      loss: Math.min(1, Math.round(loss * 1000) / 1000),
      inbound_kbps: Math.min(100_000, Math.round((bytes * 8) / elapsed / 1000)),
      relayed,
    };
  }
}

/** What the person is told of a sample: `good` or `weak`. */
export function qualityOf(stats) {
  if (!stats) return 'good';
  return stats.rtt_ms > WEAK_RTT_MS || stats.loss > WEAK_LOSS ? 'weak' : 'good';
}
