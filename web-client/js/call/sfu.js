// A call through the SFU (server/PROTOCOL.md §13.7): two peer connections with the SFU
// instead of one per participant — the publish leg sends our microphone and camera once
// (simulcast where the browser can: three encodings, highest first), the subscribe leg
// receives everyone else, and the offer for it says which member each media section
// carries. Signals travel as `description` / `candidate` with `sfu: "publish"` or
// `"subscribe"`; the server relays them to the SFU and back, nothing else.
//
// For the call screen each other member is one entry in `members` with a
// `remoteStream`, as a mesh peer has; `state` follows the subscribe leg.

import { Emitter } from '../dom.js';

/** Simulcast encodings, highest first (the order the SFU expects). */
const SIMULCAST = [
  { rid: 'h', maxBitrate: 900_000 },
  { rid: 'm', maxBitrate: 300_000, scaleResolutionDownBy: 2 },
  { rid: 'l', maxBitrate: 100_000, scaleResolutionDownBy: 4 },
];

/** What the call screen needs of another member on the SFU. */
class SfuMember {
  constructor(session) {
    this.session = session;
    this.remoteStream = new MediaStream();
  }

  get state() {
    return this.session.subscribe?.connectionState || 'new';
  }

  /** No direct channel to the member on the SFU: control messages go nowhere. */
  sendControl() {}

  getStats() {
    return this.session.subscribe ? this.session.subscribe.getStats() : Promise.resolve(new Map());
  }

  close() {
    for (const track of this.remoteStream.getTracks()) this.remoteStream.removeTrack(track);
  }
}

export class SfuSession extends Emitter {
  /**
   * @param {object} options
   * @param {(action: string, fields: object) => Promise<object>} options.send
   * @param {string} options.call
   * @param {RTCIceServer[]} options.iceServers
   * @param {boolean} options.relayOnly
   */
  constructor({ send, call, iceServers, relayOnly }) {
    super();
    this.send = send;
    this.call = call;
    this.config = { iceServers: iceServers || [], iceTransportPolicy: relayOnly ? 'relay' : 'all' };
    this.publish = null;
    this.subscribe = null;
    /** member id → SfuMember */
    this.members = new Map();
    /** mid of the subscribe leg → { member, kind } */
    this.streams = new Map();
    this.quality = 'high';
    this.closed = false;
  }

  /** Sends `stream` to the SFU (audio, and video as simulcast where possible). */
  async start(stream, { lowBandwidth = false } = {}) {
    const pc = new RTCPeerConnection(this.config);
    this.publish = pc;
    this.#trickle(pc, 'publish');
    pc.addEventListener('connectionstatechange', () => this.emit('state', pc.connectionState));
    for (const track of stream?.getTracks() || []) {
      if (track.kind === 'video') this.#addVideo(pc, track, stream);
      else pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    if (lowBandwidth) await this.setLowBandwidth(true);
    await pc.setLocalDescription(await pc.createOffer());
    await this.send('description', { call: this.call, sfu: 'publish', description: pc.localDescription.toJSON() });
  }

  #addVideo(pc, track, stream) {
    try {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream], sendEncodings: SIMULCAST });
    } catch {
      // No simulcast here: one encoding, and subscribers get what there is.
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
  }

  #trickle(pc, leg) {
    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (!candidate || this.closed) return;
      this.send('candidate', { call: this.call, sfu: leg, candidate: candidate.toJSON() }).catch(() => {});
    });
  }

  /** A `description` event from the SFU. */
  async receive(frame) {
    if (this.closed) return;
    if (frame.sfu === 'publish') {
      if (frame.description.type === 'answer' && this.publish?.signalingState === 'have-local-offer') {
        await this.publish.setRemoteDescription(frame.description);
      }
      return;
    }
    for (const stream of frame.streams || []) {
      this.streams.set(stream.mid, { member: stream.member, kind: stream.kind });
    }
    const pc = this.subscribe || this.#subscribeLeg();
    await pc.setRemoteDescription(frame.description);
    await pc.setLocalDescription(await pc.createAnswer());
    await this.send('description', { call: this.call, sfu: 'subscribe', description: pc.localDescription.toJSON() });
    this.#dropStale();
  }

  #subscribeLeg() {
    const pc = new RTCPeerConnection(this.config);
    this.subscribe = pc;
    this.#trickle(pc, 'subscribe');
    pc.addEventListener('connectionstatechange', () => this.emit('state', pc.connectionState));
    pc.addEventListener('track', ({ track, transceiver }) => {
      const owner = this.streams.get(transceiver.mid);
      if (!owner) return;
      const member = this.#member(owner.member);
      for (const old of member.remoteStream.getTracks()) {
        if (old.kind === track.kind) member.remoteStream.removeTrack(old);
      }
      member.remoteStream.addTrack(track);
      track.addEventListener('ended', () => member.remoteStream.removeTrack(track));
      this.emit('track', owner.member);
    });
    return pc;
  }

  #member(id) {
    let member = this.members.get(id);
    if (!member) {
      member = new SfuMember(this);
      this.members.set(id, member);
      this.emit('members');
    }
    return member;
  }

  /** Members whose sections all went away (they left or stopped publishing). */
  #dropStale() {
    const present = new Set([...this.streams.values()].map((s) => s.member));
    const active = new Set(
      (this.subscribe?.getTransceivers() || [])
        .filter((t) => t.currentDirection !== 'inactive' && t.currentDirection !== 'stopped')
        .map((t) => this.streams.get(t.mid)?.member)
        .filter(Boolean),
    );
    for (const [id, member] of this.members) {
      if (!present.has(id) || !active.has(id)) {
        member.close();
        this.members.delete(id);
        this.emit('members');
      }
    }
  }

  /** A member left the call. */
  drop(id) {
    this.members.get(id)?.close();
    if (this.members.delete(id)) this.emit('members');
  }

  /** Low bandwidth: receive everyone's lowest layer, and stop sending our top one. */
  async setLowBandwidth(on) {
    this.quality = on ? 'low' : 'high';
    const sender = this.publish?.getSenders().find((s) => s.track?.kind === 'video');
    if (sender) {
      const parameters = sender.getParameters();
      if (parameters.encodings?.length > 1) {
        parameters.encodings[0].active = !on;
        await sender.setParameters(parameters).catch(() => {});
      }
    }
    if (this.publish?.remoteDescription) {
      await this.send('receive', { call: this.call, quality: this.quality }).catch(() => {});
    }
  }

  /** Replaces the track of a kind we send (camera back on). */
  async setTrack(kind, track) {
    const sender = this.publish?.getSenders().find((s) => s.track?.kind === kind);
    if (sender) await sender.replaceTrack(track);
  }

  /** Both legs connected: the SFU carries the call. */
  get connected() {
    return this.publish?.connectionState === 'connected' && this.subscribe?.connectionState === 'connected';
  }

  /** The network changed: a new publish offer with an ICE restart. */
  async restartIce(iceServers) {
    if (!this.publish || this.closed) return;
    if (iceServers) {
      this.config.iceServers = iceServers;
      this.publish.setConfiguration(this.config);
      this.subscribe?.setConfiguration(this.config);
    }
    await this.publish.setLocalDescription(await this.publish.createOffer({ iceRestart: true }));
    await this.send('description', { call: this.call, sfu: 'publish', description: this.publish.localDescription.toJSON() });
  }

  close() {
    this.closed = true;
    for (const member of this.members.values()) member.close();
    this.members.clear();
    this.publish?.close();
    this.subscribe?.close();
  }
}
