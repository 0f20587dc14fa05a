// Calls: the signalling state machine (`{"type":"call","action":…}` out,
// `{"type":"call","event":…}` in), one Peer per other participant (a mesh), local media,
// mute / camera / low-bandwidth controls, rejoin after a dropped connection and ICE
// restart when the network changes. Participants are known only by member id.
//
// Over each peer's control channel the clients tell each other their mute and camera
// state (shown on the other side); the signalling protocol has no frame for it.
// Answering "with audio only" joins with `media: "audio"`: this side sends no video but
// still sees the others. What a participant receives is the protocol's business:
// low-bandwidth mode sends `receive_limit` so every other client caps the video it sends
// us; this client honours the `receive_limit` event and the view's `receive_limits`.
//
// Who offers: the participant who joins offers to everyone already in the call (the
// server says so in `started`/`joined`); for perfect negotiation the joiner is the
// impolite peer and those already in the call are polite. The polite side sends its
// media in its answer rather than offering it, so a call's first negotiation never glares.
//
// A call the server puts on the SFU (`topology: "sfu"`, see sfu.js) has no peer per
// participant: `call.peers` then holds the SFU session's members. A mesh call that grows
// onto the SFU keeps its mesh peers until the SFU carries media, then closes them.

import { Emitter } from '../dom.js';
import { errorText } from '../protocol.js';
import { Peer } from './peer.js';
import { SfuSession } from './sfu.js';
import { LOW_BANDWIDTH_VIDEO_BPS, getLocalMedia, stopMedia } from './media.js';
import { QUALITY_INTERVAL_MS, QualitySampler, qualityOf } from './quality.js';
import { reasonText } from './reasons.js';

export class Calls extends Emitter {
  constructor({ connection, store, api, preferences }) {
    super();
    this.connection = connection;
    this.store = store;
    this.api = api;
    this.preferences = preferences;
    /** The call this device is in (or starting), if any. */
    this.active = null;
    /** A call ringing this device, if any. */
    this.incoming = null;
    /** The last call's outcome, shown until dismissed. */
    this.notice = null;
    connection.on('welcome', () => this.#rejoin());
    window.addEventListener('online', () => this.#networkChanged());
    navigator.connection?.addEventListener?.('change', () => this.#networkChanged());
  }

  /** Header buttons for a conversation. */
  buttons(summary) {
    if (summary.state !== 'active' || summary.agreement_required) return [];
    const busy = Boolean(this.active);
    return [
      { label: 'Audio call', media: 'audio' },
      { label: 'Video call', media: 'video' },
    ].map(({ label, media }) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = label;
      button.disabled = busy || !this.connection.ready;
      button.addEventListener('click', () => this.start(summary.id, media));
      return button;
    });
  }

  #send(action, fields) {
    return this.connection.request({ type: 'call', action, ...fields });
  }

  async start(conversation, media) {
    if (this.active) return;
    this.notice = null;
    const call = this.#newCall({ conversation, media, direction: 'outgoing' });
    this.active = call;
    this.emit('changed');
    try {
      await this.#acquireMedia();
      const view = await this.#send('start', { conversation, media });
      if (this.active !== call) {
        // Hung up while the server was answering: leave the place it just gave us.
        this.#send('leave', { call: view.call, reason: 'user_hangup' }).catch(() => {});
        return;
      }
      this.#adopt(view);
    } catch (error) {
      if (this.active === call) this.#fail(error);
    }
  }

  /** Answers the ringing call; `audioOnly` answers a video call without the camera. */
  async accept({ audioOnly = false } = {}) {
    const ringing = this.incoming;
    if (!ringing || this.active) return;
    this.incoming = null;
    this.notice = null;
    const call = this.#newCall({ conversation: ringing.conversation, media: ringing.media, direction: 'incoming', id: ringing.call });
    call.audioOnly = audioOnly;
    this.active = call;
    this.emit('changed');
    try {
      await this.#acquireMedia();
      const view = await this.#send('accept', audioOnly ? { call: ringing.call, media: 'audio' } : { call: ringing.call });
      if (this.active !== call) {
        // Hung up while the server was answering: leave the place it just gave us.
        this.#send('leave', { call: view.call, reason: 'user_hangup' }).catch(() => {});
        return;
      }
      this.#adopt(view);
    } catch (error) {
      if (this.active === call) this.#fail(error);
    }
  }

  async decline() {
    const ringing = this.incoming;
    if (!ringing) return;
    this.incoming = null;
    this.emit('changed');
    try {
      await this.#send('decline', { call: ringing.call, reason: 'user_declined' });
    } catch {
      // The ring ends by itself (timeout) if the decline did not get through.
    }
  }

  async leave() {
    const call = this.active;
    if (!call) return;
    this.#teardown({ reason: 'user_hangup', quiet: true });
    if (call.id) {
      try {
        await this.#send('leave', { call: call.id, reason: 'user_hangup' });
      } catch {
        // Disconnected: the server ends our place after its grace period.
      }
    }
  }

  hangUpAll() {
    if (this.active) this.leave();
    if (this.incoming) this.decline();
  }

  dismissNotice() {
    this.notice = null;
    this.emit('changed');
  }

  // ---- controls -------------------------------------------------------------------------

  setMuted(muted) {
    const call = this.active;
    if (!call?.local) return;
    call.muted = muted;
    for (const track of call.local.getAudioTracks()) track.enabled = !muted;
    this.#tellPeers(call);
    this.emit('changed');
  }

  setCameraOff(off) {
    const call = this.active;
    if (!call?.local) return;
    call.cameraOff = off;
    for (const track of call.local.getVideoTracks()) track.enabled = !off;
    this.#tellPeers(call);
    this.emit('changed');
  }

  /** Low bandwidth: outgoing video capped (or off with the camera button), and every
   * other participant asked to cap the video it sends us. */
  async setLowBandwidth(on) {
    const call = this.active;
    if (!call) return;
    call.lowBandwidth = on;
    this.preferences.set('lowBandwidth', on);
    await call.sfu?.setLowBandwidth(on);
    this.#askReceiveLimit(call);
    for (const peer of this.#meshPeers(call)) await peer.capVideo(on ? LOW_BANDWIDTH_VIDEO_BPS : null);
    this.emit('changed');
  }

  /** Mesh: asks every other participant for little video (low bandwidth) or lifts the
   * request. The server keeps it with our place; asking again changes nothing. */
  #askReceiveLimit(call) {
    if (!call.id || call.audioOnly || call.topology === 'sfu') return;
    const kbps = call.lowBandwidth ? LOW_BANDWIDTH_VIDEO_BPS / 1000 : null;
    this.#send('receive_limit', { call: call.id, max_video_kbps: kbps }).catch((error) => {
      if (error.code !== 'offline') console.warn('receive limit refused', error.code);
    });
  }

  /** What another participant may receive from us: nothing (audio only, or 0), at most
   * a bitrate, or whatever we send. */
  #honourLimit(call, member, kbps) {
    const capped = Number.isInteger(kbps);
    if (capped) call.limits.set(member, kbps);
    else call.limits.delete(member);
    call.peers.get(member)?.honourVideoRequest(capped ? kbps * 1000 : null);
  }

  /** What the other clients show of us. */
  #controlMessages(call) {
    return [{ type: 'state', muted: call.muted, camera: this.#sendsVideo(call) && !call.cameraOff }];
  }

  #sendsVideo(call) {
    return Boolean(call.local?.getVideoTracks().some((t) => t.readyState === 'live'));
  }

  #tellPeers(call, peers = call.peers.values()) {
    const messages = this.#controlMessages(call);
    for (const peer of peers) for (const message of messages) peer.sendControl(message);
  }

  /** A message from another participant's client (untrusted: checked field by field). */
  #onControl(call, member, message) {
    if (message.type === 'state') {
      call.remote.set(member, { muted: message.muted === true, camera: message.camera !== false });
      this.emit('changed');
    }
  }

  // ---- frames from the server ----------------------------------------------------------

  onFrame(frame) {
    if (frame.type !== 'call') return;
    const call = this.active;
    const mine = call && frame.call === call.id;
    switch (frame.event) {
      case 'ringing':
        if (this.active) {
          // Already in a call on this device: say busy rather than ring over it.
          this.#send('decline', { call: frame.call, reason: 'user_busy' }).catch(() => {});
          return;
        }
        this.incoming = frame;
        this.emit('changed');
        this.emit('ring', frame);
        return;
      case 'ring_stopped':
        if (this.incoming?.call === frame.call) {
          this.incoming = null;
          this.emit('changed');
        }
        return;
      case 'started':
      case 'joined':
        // Replies to our own requests are handled where they were awaited.
        return;
      case 'participant_joined':
        // Whoever joins is no longer being rung: without this a 1:1 caller would
        // stay in the call alone after the other side hangs up.
        if (mine) {
          call.ringing.delete(frame.member);
          this.#honourLimit(call, frame.member, null);
          if (call.topology !== 'sfu') this.#peerFor(frame.member, { polite: true });
        }
        this.emit('changed');
        return;
      case 'participant_left':
        if (mine) {
          call.ringing.delete(frame.member);
          call.remote.delete(frame.member);
          call.sfu?.drop(frame.member);
          this.#dropPeer(frame.member);
          this.#leaveIfAlone();
        }
        return;
      case 'receive_limit':
        if (mine && frame.member !== call.me) {
          this.#honourLimit(call, frame.member, frame.max_video_kbps);
        }
        return;
      case 'participant_disconnected':
      case 'participant_reconnected':
        if (mine) {
          call.reconnecting[frame.event === 'participant_disconnected' ? 'add' : 'delete'](frame.member);
          this.emit('changed');
        }
        return;
      case 'declined':
        if (mine) {
          call.ringing.delete(frame.member);
          this.emit('changed');
        }
        return;
      case 'description':
        if (mine && frame.sfu) {
          call.sfu?.receive(frame).catch((error) => console.warn('SFU negotiation problem', error?.name || error));
        } else if (mine) {
          this.#meshPeer(call, frame.from)?.receive({ description: frame.description });
        }
        return;
      case 'topology':
        // The call moved onto the SFU (it grew), or to another SFU instance.
        if (mine) this.#useSfu(call);
        return;
      case 'candidate':
        if (mine && frame.candidate?.candidate) {
          this.#meshPeer(call, frame.from)?.receive({ candidate: frame.candidate });
        }
        return;
      case 'left':
      case 'ended':
        if (mine) this.#teardown({ reason: frame.reason });
        else if (this.incoming?.call === frame.call) {
          this.incoming = null;
          this.emit('changed');
        }
        return;
      default:
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  #newCall({ conversation, media, direction, id = null }) {
    return {
      id,
      conversation,
      media,
      direction,
      topology: 'mesh',
      /** The SFU session, when the call is on the SFU. */
      sfu: null,
      /** Mesh peers kept while the call moves onto the SFU. */
      leavingMesh: null,
      me: null,
      ice: null,
      relayOnly: false,
      status: direction === 'outgoing' ? 'calling' : 'connecting',
      peers: new Map(),
      ringing: new Set(),
      reconnecting: new Set(),
      /** A network change came while the socket was down: restart ICE once it is back. */
      iceRestartPending: false,
      /** What each other participant's client says of itself: `{muted, camera}`. */
      remote: new Map(),
      /** Video each other participant may receive from us, in kbit/s (0: none); absent: no cap. */
      limits: new Map(),
      /** `good` or `weak`, from our own connections' figures (quality.js). */
      quality: 'good',
      qualityTimer: null,
      local: null,
      audioOnly: false,
      muted: false,
      cameraOff: false,
      lowBandwidth: Boolean(this.preferences.get('lowBandwidth')),
    };
  }

  async #acquireMedia() {
    const call = this.active;
    const local = await getLocalMedia(call.audioOnly ? 'audio' : call.media, { lowBandwidth: call.lowBandwidth });
    if (this.active !== call) {
      // The call ended while the camera was starting: nothing may stay live.
      stopMedia(local);
      throw Object.assign(new Error('the call ended'), { code: 'call_gone' });
    }
    call.local = local;
    this.emit('changed');
  }

  /** Takes the server's view of the call (`started`/`joined`) and offers to everyone in it. */
  #adopt(view) {
    const call = this.active;
    if (!call) return;
    call.id = view.call;
    call.me = view.me;
    call.ice = view.ice;
    call.relayOnly = view.ice?.iceTransportPolicy === 'relay';
    call.ringing = new Set(view.ringing || []);
    call.reconnecting = new Set(view.reconnecting || []);
    call.limits = new Map();
    for (const { member, max_video_kbps: kbps } of view.receive_limits || []) {
      if (member !== view.me && Number.isInteger(kbps)) call.limits.set(member, kbps);
    }
    for (const [member, peer] of call.peers) peer.honourVideoRequest(call.limits.has(member) ? call.limits.get(member) * 1000 : null);
    call.status = view.participants.length ? 'connecting' : 'calling';
    if (view.topology === 'sfu') {
      this.#useSfu(call);
      this.emit('changed');
      return;
    }
    if (call.lowBandwidth) this.#askReceiveLimit(call);
    this.#watchQuality(call);
    for (const member of view.participants) {
      if (call.reconnecting.has(member)) continue;
      const existing = call.peers.get(member);
      if (existing && existing.state === 'connected') continue;
      if (existing) this.#dropPeer(member);
      this.#peerFor(member, { polite: false });
    }
    // Taken back after a reconnect: a peer that stayed connected says no "connected" again.
    if ([...call.peers.values()].some((peer) => peer.state === 'connected')) call.status = 'connected';
    this.emit('changed');
  }

  #peerFor(member, { polite }) {
    const call = this.active;
    let peer = call.peers.get(member);
    if (peer) return peer;
    peer = new Peer({
      polite,
      iceServers: call.ice?.iceServers || [],
      relayOnly: call.relayOnly,
      onSignal: (signal) => this.#signal(call, member, signal),
    });
    peer.on('state', (state) => {
      if (state === 'connected') call.status = 'connected';
      this.emit('changed');
    });
    peer.on('track', () => this.emit('changed'));
    peer.on('control', (message) => this.#onControl(call, member, message));
    peer.on('error', (error) => console.warn('call negotiation problem', error?.name || error));
    call.peers.set(member, peer);
    // The joiner offers; those already in the call answer with their media.
    if (call.local) {
      if (polite) peer.answerWith(call.local);
      else peer.addStream(call.local);
    }
    if (call.lowBandwidth) peer.capVideo(LOW_BANDWIDTH_VIDEO_BPS);
    if (call.limits.has(member)) peer.honourVideoRequest(call.limits.get(member) * 1000);
    this.#tellPeers(call, [peer]);
    this.emit('changed');
    return peer;
  }

  /** Connects the call to the SFU (again, after a move to another instance). Mesh peers
   * keep carrying media until both SFU legs are connected. */
  #useSfu(call) {
    if (this.active !== call || !call.id) return;
    const wasMesh = call.topology !== 'sfu';
    call.topology = 'sfu';
    call.sfu?.close();
    const session = new SfuSession({
      send: (action, fields) => this.#send(action, fields),
      call: call.id,
      iceServers: call.ice?.iceServers,
      relayOnly: call.relayOnly,
    });
    call.sfu = session;
    if (wasMesh && call.peers.size) call.leavingMesh = call.peers;
    else call.peers = session.members;
    session.on('members', () => this.emit('changed'));
    session.on('track', () => this.emit('changed'));
    session.on('state', () => {
      if (call.sfu !== session || !session.connected) return;
      call.status = 'connected';
      if (call.leavingMesh) {
        for (const peer of call.leavingMesh.values()) peer.close();
        call.leavingMesh = null;
        call.peers = session.members;
      }
      this.emit('changed');
    });
    session.start(call.local, { lowBandwidth: call.lowBandwidth })
      .catch((error) => console.warn('SFU publish problem', error?.name || error));
  }

  /** The mesh peer for a participant's signal; none is made once the call is on the
   * SFU (a late signal for a mesh connection being closed goes to it, if it is left). */
  #meshPeer(call, member) {
    if (call.topology !== 'sfu') return this.#peerFor(member, { polite: true });
    return call.leavingMesh?.get(member) || null;
  }

  /** The mesh peers of the call (none once it is on the SFU). */
  #meshPeers(call) {
    if (call.leavingMesh) return call.leavingMesh.values();
    return call.topology === 'sfu' ? [] : call.peers.values();
  }

  #signal(call, member, signal) {
    if (!call.id || this.active !== call) return;
    const frame = signal.description
      ? ['description', { call: call.id, to: member, description: signal.description }]
      : ['candidate', { call: call.id, to: member, candidate: signal.candidate }];
    this.#send(...frame).catch((error) => {
      if (error.code !== 'offline') console.warn('signal refused', error.code);
    });
  }

  /** In a one-to-one relationship a call with nobody else left (and nobody ringing)
   * is over for us too; in a room one may wait for others to join. */
  #leaveIfAlone() {
    const call = this.active;
    if (!call || call.peers.size || call.ringing.size) return;
    if (this.store.conversations.get(call.conversation)?.kind === 'room') return;
    const id = call.id;
    this.#teardown({ reason: 'user_hangup' });
    if (id) this.#send('leave', { call: id, reason: 'user_hangup' }).catch(() => {});
  }

  /** Every few seconds: tell the person when the connection is weak, and send the
   * server the content-free figures behind it. */
  #watchQuality(call) {
    if (call.qualityTimer) return;
    const sampler = new QualitySampler();
    call.qualityTimer = setInterval(async () => {
      if (this.active !== call || call.topology === 'sfu' || !call.peers.size) return;
      const stats = await sampler.sample(call.peers);
      if (!stats || this.active !== call) return;
      this.#send('stats', { call: call.id, stats }).catch(() => {});
      const quality = qualityOf(stats);
      if (quality !== call.quality) {
        call.quality = quality;
        this.emit('changed');
      }
    }, QUALITY_INTERVAL_MS);
  }

  #dropPeer(member) {
    const call = this.active;
    const peer = call?.peers.get(member);
    if (!peer) return;
    peer.close();
    call.peers.delete(member);
    this.emit('changed');
  }

  #teardown({ reason, quiet = false }) {
    const call = this.active;
    if (!call) return;
    clearInterval(call.qualityTimer);
    for (const peer of call.peers.values()) peer.close();
    for (const peer of call.leavingMesh?.values() || []) peer.close();
    call.sfu?.close();
    stopMedia(call.local);
    this.active = null;
    this.notice = quiet ? null : { conversation: call.conversation, text: reasonText(reason) };
    this.emit('changed');
  }

  #fail(error) {
    const text = error?.name === 'NotAllowedError' || error?.name === 'NotFoundError'
      ? 'Camera or microphone unavailable.'
      : errorText(error?.code, error?.message);
    const call = this.active;
    if (call?.id) this.#send('leave', { call: call.id, reason: 'user_media_failed' }).catch(() => {});
    this.#teardown({ reason: 'unknown_error' });
    this.notice = { conversation: call?.conversation, text };
    this.emit('changed');
  }

  /** After a reconnect the server kept our place for a grace period: take it back. */
  async #rejoin() {
    const call = this.active;
    if (!call?.id) return;
    try {
      const view = await this.#send('join', { call: call.id });
      this.#adopt(view);
      // An offer made while the socket was down (an ICE restart on a network change) was
      // lost with it, or its answer was: make a fresh one now that signals travel again.
      const restart = call.iceRestartPending;
      call.iceRestartPending = false;
      for (const peer of this.#meshPeers(call)) peer.renegotiate({ restartIce: restart });
    } catch (error) {
      this.#teardown({ reason: error.code === 'call_state' ? 'connection_lost' : 'unknown_error' });
    }
  }

  /** A new network (Wi-Fi → mobile, or back online): fresh TURN credentials, then an
   * ICE restart on every peer so media moves to the new path. */
  async #networkChanged() {
    const call = this.active;
    if (call?.sfu) {
      const ice = await this.api.get(`/ice-servers?conversation=${encodeURIComponent(call.conversation)}`).catch(() => null);
      if (ice) call.ice = { ...call.ice, ...ice };
      await call.sfu.restartIce(ice?.iceServers).catch(() => {});
      return;
    }
    if (!call?.peers.size) return;
    if (!this.connection.ready) {
      // The offer would be lost with the socket: restart once it is back (`#rejoin`).
      call.iceRestartPending = true;
    }
    try {
      const ice = await this.api.get(`/ice-servers?conversation=${encodeURIComponent(call.conversation)}`);
      call.ice = { ...call.ice, ...ice };
      for (const peer of call.peers.values()) {
        peer.pc.setConfiguration({
          iceServers: ice.iceServers,
          iceTransportPolicy: call.relayOnly ? 'relay' : 'all',
        });
      }
    } catch {
      // Keep the old credentials: they are valid for minutes.
    }
    if (call.iceRestartPending) return;
    for (const peer of call.peers.values()) peer.restartIce();
  }
}
