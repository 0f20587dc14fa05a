// The call screen, over everything else: an incoming ring (accept, accept with audio
// only, decline), the call itself (each person as video, or as a name and avatar when
// there is no picture; who is muted or has the camera off; mute, camera, low bandwidth,
// chat, leave), and the outcome of the last call. Media elements are kept across
// updates so playback never stutters. "Chat" shrinks the call to a bar so the
// conversation is reachable during the call, on a phone too; the sound goes on.

import { h, render, announce } from '../dom.js';

const STATUS_TEXT = {
  calling: 'Calling…',
  connecting: 'Connecting…',
  connected: 'Connected',
};

/** Titles left out of initials: "Dr Ama Owusu" is AO. */
const HONORIFICS = /^(dr|prof|professor|mr|mrs|ms|mx|sr|sister|nurse)\.?$/i;

/** Up to two initials of a display name, for the avatar of someone without a picture. */
export function initials(name) {
  const all = String(name || '?').trim().split(/\s+/).filter((w) => /\p{L}|\p{N}/u.test(w));
  const named = all.filter((w) => !HONORIFICS.test(w));
  const words = named.length ? named : all;
  const letters = words.length > 1 ? [words[0], words.at(-1)] : words;
  return letters.map((w) => [...w.replace(/^[^\p{L}\p{N}]+/u, '')][0] || '').join('').toUpperCase() || '?';
}

export function mountCallView(root, app) {
  const { calls, store, notifier } = app;
  const videos = new Map();
  let localVideo = null;
  let ringTimer = null;
  let ringingFor = null;
  /** "Chat" pressed: the call is a bar and the conversation shows below it. */
  let showChat = false;

  function nameOf(conversation, member) {
    return store.displayName(conversation, member);
  }

  function isRoom(conversation) {
    return store.conversations.get(conversation)?.kind === 'room';
  }

  function videoFor(member, stream) {
    let video = videos.get(member);
    if (!video) {
      video = h('video', { autoplay: true, playsinline: true, class: 'remote-video', dataset: { member } });
      videos.set(member, video);
    }
    if (video.srcObject !== stream) video.srcObject = stream;
    return video;
  }

  function avatar(name) {
    return h('div', { class: 'avatar', 'aria-hidden': 'true' }, initials(name));
  }

  function incomingView(ringing) {
    const who = nameOf(ringing.conversation, ringing.from);
    // Named once: in a one-to-one conversation its title is that same person.
    const where = isRoom(ringing.conversation) ? ` in ${store.title(ringing.conversation)}` : '';
    return h(
      'section',
      { class: 'call-ring', role: 'alertdialog', 'aria-labelledby': 'ring-title', 'aria-describedby': 'ring-desc' },
      avatar(who),
      h('div', { class: 'ring-text' },
        h('h2', { id: 'ring-title' }, `Incoming ${ringing.media} call`),
        h('p', { id: 'ring-desc' }, `${who} is calling${where}.`)),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => calls.accept() }, 'Accept'),
        ringing.media === 'video'
          ? h('button', { type: 'button', onclick: () => calls.accept({ audioOnly: true }) }, 'Accept with audio only')
          : null,
        h('button', { type: 'button', class: 'danger', onclick: () => calls.decline() }, 'Decline'),
      ),
    );
  }

  /** One other participant: their picture, or their name and avatar without one. */
  function participantView(call, member, peer) {
    const name = nameOf(call.conversation, member);
    const said = call.remote.get(member);
    const hasPicture = call.media === 'video'
      && peer.remoteStream.getVideoTracks().some((t) => t.readyState === 'live')
      && said?.camera !== false;
    const video = videoFor(member, peer.remoteStream);
    video.classList.toggle('no-picture', !hasPicture);
    const notes = [
      said?.muted ? 'muted' : null,
      call.media === 'video' && said?.camera === false ? 'camera off' : null,
      call.reconnecting.has(member) ? 'reconnecting…' : null,
    ].filter(Boolean);
    return h('figure', { class: `participant${hasPicture ? '' : ' audio-only'}`, dataset: { member } },
      video,
      hasPicture ? null : avatar(name),
      h('figcaption', {}, h('span', { class: 'name' }, name),
        notes.length ? h('span', { class: 'notes' }, ` — ${notes.join(', ')}`) : null));
  }

  function selfView(call) {
    const sendsPicture = Boolean(call.local?.getVideoTracks().length) && !call.cameraOff;
    const notes = [call.muted ? 'muted' : null, call.media === 'video' && !sendsPicture ? 'camera off' : null].filter(Boolean);
    localVideo ??= h('video', { autoplay: true, playsinline: true, muted: true, class: 'local-video', 'aria-label': 'Your camera' });
    localVideo.muted = true;
    if (localVideo.srcObject !== call.local) localVideo.srcObject = call.local;
    // Taken off the page while the camera was off, it was paused: play it again.
    if (sendsPicture && localVideo.paused) localVideo.play().catch(() => {});
    return h('figure', { class: `participant self${sendsPicture ? '' : ' audio-only'}` },
      sendsPicture ? localVideo : avatar(call.me ? nameOf(call.conversation, call.me) : 'You'),
      h('figcaption', {}, h('span', { class: 'name' }, 'You'), notes.length ? h('span', { class: 'notes' }, ` — ${notes.join(', ')}`) : null));
  }

  function toggle(label, pressed, onclick) {
    return h('button', { type: 'button', 'aria-pressed': String(pressed), onclick }, label);
  }

  /** On a phone the call fills the screen (the page's main content is hidden), so
   * it is the main landmark and its title the page's heading. */
  const phone = matchMedia('(max-width: 600px)');
  phone.addEventListener('change', () => update());
  function fullScreen() {
    return Boolean(calls.active) && !showChat && phone.matches;
  }

  function activeView(call) {
    const remote = [...call.peers].map(([member, peer]) => participantView(call, member, peer));
    for (const member of [...videos.keys()]) if (!call.peers.has(member)) videos.delete(member);
    const hasVideo = Boolean(call.local?.getVideoTracks().length);
    const ringingNames = [...call.ringing].map((m) => nameOf(call.conversation, m));
    return h(
      'section',
      { class: `call${showChat ? ' compact' : ''}`, 'aria-labelledby': 'call-title', dataset: { status: call.status, call: call.id || '' } },
      h(fullScreen() ? 'h1' : 'h2', { id: 'call-title' }, `${call.media === 'video' ? 'Video' : 'Audio'} call — ${store.title(call.conversation)}`),
      h('p', { class: 'call-status', role: 'status' },
        STATUS_TEXT[call.status] || call.status,
        ringingNames.length && call.status !== 'connected' ? ` Ringing ${ringingNames.join(', ')}.` : ''),
      call.relayOnly ? h('p', { class: 'muted relay-note' }, 'Your network address is hidden: this call is relayed through the server.') : null,
      call.quality === 'weak' ? h('p', { class: 'muted quality-note' }, 'Weak connection: try Low bandwidth, or turn your camera off.') : null,
      h('div', { class: 'stage' }, remote, selfView(call)),
      h(
        'div',
        { class: 'call-controls' },
        toggle('Mute', call.muted, () => calls.setMuted(!call.muted)),
        hasVideo ? toggle('Camera off', call.cameraOff, () => calls.setCameraOff(!call.cameraOff)) : null,
        toggle('Low bandwidth', call.lowBandwidth, () => calls.setLowBandwidth(!call.lowBandwidth)),
        toggle('Chat', showChat, () => setShowChat(call, !showChat)),
        h('button', { type: 'button', class: 'danger', onclick: () => calls.leave() }, 'Leave'),
      ),
    );
  }

  function setShowChat(call, on) {
    showChat = on;
    if (on && location.hash !== `#/c/${call.conversation}`) app.navigate(`/c/${call.conversation}`);
    update();
  }

  function noticeView(notice) {
    return h('section', { class: 'call-notice', role: 'status' },
      h('p', {}, notice.text),
      h('button', { type: 'button', class: 'small', onclick: () => calls.dismissNotice() }, 'Dismiss'));
  }

  let lastStatus = null;
  function update() {
    const parts = [];
    if (calls.incoming) parts.push(incomingView(calls.incoming));
    if (calls.active) parts.push(activeView(calls.active));
    else if (calls.notice) parts.push(noticeView(calls.notice));
    render(root, parts);
    root.hidden = parts.length === 0;
    if (fullScreen()) root.setAttribute('role', 'main');
    else root.removeAttribute('role');
    if (!calls.active) {
      localVideo = null;
      showChat = false;
    }
    document.body.classList.toggle('in-call', Boolean(calls.active));
    document.body.classList.toggle('call-chat', Boolean(calls.active) && showChat);
    const status = calls.active?.status || null;
    if (status && status !== lastStatus) announce(STATUS_TEXT[status] || status);
    lastStatus = status;
    // One chime every 2.5 s while a call rings, however often the screen is redrawn.
    if (calls.incoming?.call !== ringingFor) {
      clearInterval(ringTimer);
      ringingFor = calls.incoming?.call || null;
      if (ringingFor) {
        notifier.chime();
        ringTimer = setInterval(() => notifier.chime(), 2500);
      }
    }
  }

  calls.on('changed', update);
  calls.on('ring', () => {
    announce('Incoming call');
    setTimeout(() => root.querySelector('.call-ring button.primary')?.focus(), 0);
  });
  update();
}
