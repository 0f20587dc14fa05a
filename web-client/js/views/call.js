// The call screen, over everything else: an incoming ring (accept / decline), the call
// itself (remote and local video, status, mute, camera, low bandwidth, leave), and the
// outcome of the last call. Video elements are kept across updates so playback never stutters.

import { h, render, announce } from '../dom.js';

const STATUS_TEXT = {
  calling: 'Calling…',
  connecting: 'Connecting…',
  connected: 'Connected',
};

export function mountCallView(root, app) {
  const { calls, store, notifier } = app;
  const videos = new Map();
  let localVideo = null;
  let ringTimer = null;

  function nameOf(conversation, member) {
    return store.displayName(conversation, member);
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

  function incomingView(ringing) {
    const who = nameOf(ringing.conversation, ringing.from);
    return h(
      'section',
      { class: 'call-ring', role: 'alertdialog', 'aria-labelledby': 'ring-title', 'aria-describedby': 'ring-desc' },
      h('h2', { id: 'ring-title' }, `Incoming ${ringing.media} call`),
      h('p', { id: 'ring-desc' }, `${who} is calling (${store.title(ringing.conversation)}).`),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => calls.accept() }, 'Accept'),
        h('button', { type: 'button', class: 'danger', onclick: () => calls.decline() }, 'Decline'),
      ),
    );
  }

  function activeView(call) {
    const remote = [...call.peers].map(([member, peer]) =>
      h('figure', { class: 'participant' },
        videoFor(member, peer.remoteStream),
        h('figcaption', {}, `${nameOf(call.conversation, member)}${call.reconnecting.has(member) ? ' (reconnecting…)' : ''}`)));
    for (const member of [...videos.keys()]) if (!call.peers.has(member)) videos.delete(member);
    localVideo ??= h('video', { autoplay: true, playsinline: true, muted: true, class: 'local-video', 'aria-label': 'Your camera' });
    localVideo.muted = true;
    if (localVideo.srcObject !== call.local) localVideo.srcObject = call.local;
    const hasVideo = Boolean(call.local?.getVideoTracks().length);
    const ringingNames = [...call.ringing].map((m) => nameOf(call.conversation, m));
    return h(
      'section',
      { class: 'call', 'aria-labelledby': 'call-title', dataset: { status: call.status, call: call.id || '' } },
      h('h2', { id: 'call-title' }, `${call.media === 'video' ? 'Video' : 'Audio'} call — ${store.title(call.conversation)}`),
      h('p', { class: 'call-status', role: 'status' },
        STATUS_TEXT[call.status] || call.status,
        ringingNames.length && call.status !== 'connected' ? ` Ringing ${ringingNames.join(', ')}.` : ''),
      call.relayOnly ? h('p', { class: 'muted' }, 'Your network address is hidden: this call is relayed through the server.') : null,
      h('div', { class: 'stage' }, remote, hasVideo ? localVideo : null),
      h(
        'div',
        { class: 'call-controls' },
        h('button', { type: 'button', 'aria-pressed': String(call.muted), onclick: () => calls.setMuted(!call.muted) }, call.muted ? 'Unmute' : 'Mute'),
        hasVideo ? h('button', { type: 'button', 'aria-pressed': String(call.cameraOff), onclick: () => calls.setCameraOff(!call.cameraOff) }, call.cameraOff ? 'Camera on' : 'Camera off') : null,
        h('button', { type: 'button', 'aria-pressed': String(call.lowBandwidth), onclick: () => calls.setLowBandwidth(!call.lowBandwidth) }, call.lowBandwidth ? 'Normal quality' : 'Low bandwidth'),
        h('button', { type: 'button', class: 'danger', onclick: () => calls.leave() }, 'Leave'),
      ),
    );
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
    document.body.classList.toggle('in-call', Boolean(calls.active));
    if (!calls.active) localVideo = null;
    const status = calls.active?.status || null;
    if (status && status !== lastStatus) announce(STATUS_TEXT[status] || status);
    lastStatus = status;
    clearInterval(ringTimer);
    if (calls.incoming) {
      notifier.chime();
      ringTimer = setInterval(() => notifier.chime(), 2500);
    }
  }

  calls.on('changed', update);
  calls.on('ring', () => {
    announce('Incoming call');
    setTimeout(() => root.querySelector('.call-ring button.primary')?.focus(), 0);
  });
  update();
}
