// One WebRTC peer connection with "perfect negotiation" (the polite peer yields when
// both sides offer at once; the impolite one ignores the colliding offer), trickle ICE,
// ICE restart when the network changes or the link fails, relay-only ICE when asked,
// and a bitrate cap for slow links. Signals go out through `onSignal`, and come in
// through `receive`; how they travel is the caller's business.
//
// A data channel (`control`) carries what the two clients tell each other directly and
// the signalling protocol has no frame for: whether one is muted or has the camera off. The joiner (impolite side) opens it
// with its first offer; the other side receives it, so it never needs an offer of its own.

import { Emitter } from '../dom.js';

/** How long a `disconnected` ICE state may last before an ICE restart is tried. */
const DISCONNECTED_GRACE_MS = 4000;
/** Control messages are a few fields; anything longer is not one of ours. */
const MAX_CONTROL_BYTES = 1024;

export class Peer extends Emitter {
  /**
   * @param {object} options
   * @param {boolean} options.polite       yields on offer collisions
   * @param {RTCIceServer[]} options.iceServers
   * @param {boolean} options.relayOnly    only relay (TURN) candidates: hides our address
   * @param {(signal: {description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit|null}) => void} options.onSignal
   */
  constructor({ polite, iceServers, relayOnly, onSignal }) {
    super();
    this.polite = polite;
    this.onSignal = onSignal;
    this.relayOnly = relayOnly;
    this.pc = new RTCPeerConnection({
      iceServers: iceServers || [],
      iceTransportPolicy: relayOnly ? 'relay' : 'all',
    });
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.remoteStream = new MediaStream();
    /** Our media, held back until the other side's first offer (see `answerWith`). */
    this.heldStream = null;
    this.maxVideoBitrate = null;
    /** What the other side asked us to send it at most (null: no request). */
    this.requestedVideoBitrate = null;
    this.disconnectedTimer = null;
    this.channel = null;
    /** The latest control message of each kind, sent when the channel opens. */
    this.pendingControl = new Map();

    this.pc.addEventListener('negotiationneeded', () => this.#negotiate());
    this.pc.addEventListener('icecandidate', ({ candidate }) => {
      // A null candidate marks the end of gathering; it is not signalled.
      if (candidate) this.onSignal({ candidate: candidate.toJSON() });
    });
    this.pc.addEventListener('track', ({ track }) => {
      this.remoteStream.addTrack(track);
      track.addEventListener('ended', () => this.remoteStream.removeTrack(track));
      this.emit('track', track, this.remoteStream);
    });
    this.pc.addEventListener('connectionstatechange', () => {
      this.emit('state', this.pc.connectionState);
    });
    this.pc.addEventListener('iceconnectionstatechange', () => this.#watchIce());
    this.pc.addEventListener('datachannel', ({ channel }) => this.#useChannel(channel));
    if (!polite) this.#useChannel(this.pc.createDataChannel('control'));
  }

  #useChannel(channel) {
    if (channel.label !== 'control' || this.channel) return;
    this.channel = channel;
    channel.addEventListener('open', () => {
      for (const message of this.pendingControl.values()) channel.send(JSON.stringify(message));
      this.pendingControl.clear();
    });
    channel.addEventListener('message', ({ data }) => {
      if (typeof data !== 'string' || data.length > MAX_CONTROL_BYTES) return;
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (message && typeof message.type === 'string') this.emit('control', message);
    });
  }

  /** Tells the other client something (the latest of each `type` is kept until the
   * channel is open). */
  sendControl(message) {
    if (this.channel?.readyState === 'open') this.channel.send(JSON.stringify(message));
    else this.pendingControl.set(message.type, message);
  }

  get state() {
    return this.pc.connectionState;
  }

  async #negotiate() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.onSignal({ description: this.pc.localDescription.toJSON() });
    } catch (error) {
      this.emit('error', error);
    } finally {
      this.makingOffer = false;
    }
  }

  /** An offer, answer or candidate from the other peer. */
  async receive({ description, candidate }) {
    try {
      if (description) {
        const readyForOffer = !this.makingOffer
          && (this.pc.signalingState === 'stable' || this.settingRemoteAnswer);
        const collision = description.type === 'offer' && !readyForOffer;
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        this.settingRemoteAnswer = description.type === 'answer';
        await this.pc.setRemoteDescription(description);
        this.settingRemoteAnswer = false;
        if (description.type === 'offer' && this.heldStream) {
          // Added after the offer, the tracks ride on its transceivers: no offer of ours.
          this.addStream(this.heldStream);
          this.heldStream = null;
        }
        if (description.type === 'offer') {
          await this.pc.setLocalDescription();
          this.onSignal({ description: this.pc.localDescription.toJSON() });
        }
        await this.#applyBitrate();
      } else if (candidate) {
        try {
          await this.pc.addIceCandidate(candidate);
        } catch (error) {
          // A candidate for an offer we ignored is expected to fail.
          if (!this.ignoreOffer) throw error;
        }
      }
    } catch (error) {
      this.emit('error', error);
    }
  }

  /** Sends our tracks (adding them triggers negotiation). */
  addStream(stream) {
    for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
  }

  /** Sends our tracks in the answer to the other side's first offer. A participant
   * already in the call waits for the joiner's offer instead of offering too: two
   * offers at once (glare) are recoverable, but rolling back a relay-only transport
   * mid-gathering left Chromium with no candidate at all now and then. */
  answerWith(stream) {
    if (this.pc.remoteDescription) this.addStream(stream);
    else this.heldStream = stream;
  }

  /** Replaces or adds a track of a kind (camera back on, low-bandwidth off). */
  async setTrack(kind, track, stream) {
    const sender = this.pc.getSenders().find((s) => s.track?.kind === kind || (!s.track && s.__kind === kind));
    if (sender) {
      await sender.replaceTrack(track);
    } else if (track) {
      const added = this.pc.addTrack(track, stream);
      added.__kind = kind;
    }
    await this.#applyBitrate();
  }

  /** Caps outgoing video (bits per second), or lifts the cap with null. */
  async capVideo(bitsPerSecond) {
    this.maxVideoBitrate = bitsPerSecond;
    await this.#applyBitrate();
  }

  /** The other side asked for at most this much video from us (null: as we like; 0: none,
   * it takes part audio only or its link cannot carry video). */
  async honourVideoRequest(bitsPerSecond) {
    this.requestedVideoBitrate = bitsPerSecond;
    await this.#applyBitrate();
  }

  /** The lower of our own cap and the other side's request. */
  get videoBitrateCap() {
    const caps = [this.maxVideoBitrate, this.requestedVideoBitrate].filter((cap) => cap);
    return caps.length ? Math.min(...caps) : null;
  }

  async #applyBitrate() {
    const cap = this.videoBitrateCap;
    for (const sender of this.pc.getSenders()) {
      if (sender.track?.kind !== 'video') continue;
      const parameters = sender.getParameters();
      if (!parameters.encodings?.length) continue;
      for (const encoding of parameters.encodings) {
        if (cap) encoding.maxBitrate = cap;
        else delete encoding.maxBitrate;
        // Asked for no video at all: the encoder stops (the track stays, for a lift).
        encoding.active = this.requestedVideoBitrate !== 0;
        // Asked for less by a slow receiver: fewer pixels too, so the cap buys a
        // sharp small picture rather than a smeared large one.
        encoding.scaleResolutionDownBy = this.requestedVideoBitrate ? 2 : 1;
      }
      try {
        await sender.setParameters(parameters);
      } catch {
        // Not negotiated yet: applied again after the next description.
      }
    }
  }

  /** The network changed (or the link failed): gather fresh candidates and renegotiate. */
  restartIce() {
    if (this.pc.connectionState === 'closed') return;
    this.emit('ice-restart');
    this.pc.restartIce();
  }

  /** After the signalling socket came back: an offer still waiting for its answer was
   * lost on the way (ours or the answer), so it is withdrawn and made again; with
   * `restartIce` a restart is made even when nothing was waiting. */
  async renegotiate({ restartIce = false } = {}) {
    if (this.pc.connectionState === 'closed') return;
    if (this.pc.signalingState === 'have-local-offer') {
      try {
        await this.pc.setLocalDescription({ type: 'rollback' });
      } catch (error) {
        this.emit('error', error);
        return;
      }
      this.restartIce();
    } else if (restartIce) {
      this.restartIce();
    }
  }

  #watchIce() {
    const state = this.pc.iceConnectionState;
    clearTimeout(this.disconnectedTimer);
    if (state === 'failed') this.restartIce();
    if (state === 'disconnected') {
      this.disconnectedTimer = setTimeout(() => {
        if (this.pc.iceConnectionState === 'disconnected') this.restartIce();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  getStats() {
    return this.pc.getStats();
  }

  close() {
    clearTimeout(this.disconnectedTimer);
    this.channel?.close();
    this.pc.close();
    this.emit('state', 'closed');
  }
}
