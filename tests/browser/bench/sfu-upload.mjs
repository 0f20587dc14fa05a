// A 6-person video call, measured twice in one run: as a mesh (a server without an SFU:
// every participant sends its camera to each of the five others) and through the SFU
// (Janus; the room set to `"calls": "sfu"`, so the call is on it from the start: each
// participant sends once, in simulcast, and receives the others from Janus).
//
// For each, after every page plays five remote videos and a warm-up (so Chromium's
// bandwidth estimate has ramped up), over one window:
//   upload    per participant, from getStats: bytes of every `outbound-rtp` (payload and
//             headers) of all its peer connections, as a bitrate;
//   download  the same for `inbound-rtp`;
//   CPU       of the Janus and Mentorhub processes (utime + stime in /proc/<pid>/stat),
//             as a percentage of one core, divided by the six participants.
// Chromium's fake camera (640×480) and microphone; every peer on this machine, so no
// network limit applies: the figures are what the browsers choose to send.
//
// A benchmark, not a test: it asserts nothing and prints a table (and JSON with --json).
//   cargo build -p mentorhub && bash tests/browser/bench/sfu-upload.sh [--seconds 30]

import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { launchBrowser } from '../lib/browser.mjs';
import { startJanus } from '../lib/janus.mjs';
import { repoRoot, startServer } from '../lib/server.mjs';
import { conversationAction, signInAs } from '../lib/app.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const windowSeconds = option('--seconds', 30);
const warmupSeconds = option('--warmup', 20);
const asJson = args.includes('--json');
const PEOPLE = ['Dr Ines Moreau', 'Tomas Lind', 'Aisha Bello', 'Ravi Menon', 'Lea Novak', 'Omar Haddad'];
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** Every peer connection the page makes, for getStats. */
const TRACK_PEER_CONNECTIONS = `
  (() => {
    const Native = window.RTCPeerConnection;
    const all = [];
    window.__benchPeerConnections = all;
    window.RTCPeerConnection = class extends Native {
      constructor(...args) { super(...args); all.push(this); }
    };
  })();
`;

/** CPU seconds used so far by a process (user + system). */
async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function loadAverage() {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

/** Bytes sent and received so far, per open peer connection of the page (by an id the
 * page gives each connection). */
function rtpBytes(page) {
  return page.evaluate(async () => {
    const byConnection = {};
    for (const [i, pc] of (window.__benchPeerConnections || []).entries()) {
      if (pc.connectionState === 'closed') continue;
      let sent = 0;
      let received = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp') sent += (s.bytesSent || 0) + (s.headerBytesSent || 0);
        if (s.type === 'inbound-rtp') received += (s.bytesReceived || 0) + (s.headerBytesReceived || 0);
      });
      byConnection[i] = { sent, received };
    }
    return byConnection;
  });
}

/** What a page sent and received between two samples: connections open at the end count
 * from their value at the start (or from zero if they are new); a connection closed
 * meanwhile loses its bytes, so churn is reported beside the figure. */
function delta(before, after) {
  let sent = 0;
  let received = 0;
  for (const [id, now] of Object.entries(after)) {
    sent += now.sent - (before[id]?.sent || 0);
    received += now.received - (before[id]?.received || 0);
  }
  const closed = Object.keys(before).filter((id) => !(id in after)).length;
  const opened = Object.keys(after).filter((id) => !(id in before)).length;
  return { sent, received, closed, opened, open: Object.keys(after).length };
}

/** Remote videos on the page that play (have a picture and advance). */
function playingRemoteVideos(page) {
  return page.evaluate(async () => {
    const videos = [...document.querySelectorAll('.call .participant:not(.self) video')];
    const before = videos.map((v) => v.currentTime);
    await new Promise((r) => setTimeout(r, 600));
    return videos.filter((v, i) => v.videoWidth > 0 && v.currentTime > before[i]).length;
  });
}

function apiAs(server, name, role) {
  const login = fetch(`${server.url}/api/dev/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  }).then((r) => r.json());
  return async (method, path, body = {}) => {
    const { token } = await login;
    const response = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json)}`);
    return json;
  };
}

async function measure(topology) {
  const janus = topology === 'sfu' ? await startJanus() : null;
  const server = await startServer({
    env: janus ? { MENTORHUB_JANUS_URLS: janus.url, MENTORHUB_JANUS_SECRET: janus.secret } : {},
  });
  const chromium = await launchBrowser();
  try {
    const people = [];
    for (const name of PEOPLE) {
      const person = await chromium.person(server.url, name.split(' ')[1].toLowerCase());
      await person.context.addInitScript(TRACK_PEER_CONNECTIONS);
      await signInAs(person.page, name, name.startsWith('Dr') ? 'mentor' : 'mentee');
      people.push(person);
    }
    const facilitator = apiAs(server, PEOPLE[0], 'mentor');
    const { conversation } = await facilitator('POST', '/rooms', {
      title: 'Benchmark group', kind: 'peer', calls: topology === 'sfu' ? 'sfu' : 'auto',
    });
    for (const name of PEOPLE.slice(1)) {
      const member = apiAs(server, name, 'mentee');
      const { invite_code: invite } = await facilitator('POST', `/rooms/${conversation.id}/invite-codes`);
      await member('POST', '/rooms/join', { code: invite.code });
      await member('POST', `/rooms/${conversation.id}/agreement`);
    }
    for (const person of people) {
      await person.page.goto(`/#/c/${conversation.id}`);
      await person.page.locator('.conversation').waitFor();
    }
    await conversationAction(people[0].page, 'Video call');
    for (const person of people.slice(1)) {
      const ring = person.page.getByRole('alertdialog');
      await ring.waitFor({ timeout: 60_000 });
      await ring.getByRole('button', { name: 'Accept', exact: true }).click();
      await person.page.locator('.call').waitFor();
    }
    // Every page should play five remote videos; on a loaded machine some may not within
    // the time allowed: the run goes on and says how many played.
    const deadline = Date.now() + 120_000;
    for (const person of people) {
      const seen = await person.page.evaluate(() => window.mentorhub.calls.active?.topology);
      if (seen !== topology) throw new Error(`${person.label}: the call is ${seen}, not ${topology}`);
      while ((await playingRemoteVideos(person.page)) < PEOPLE.length - 1 && Date.now() < deadline) {
        await person.page.waitForTimeout(1000);
      }
    }
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
    const playingBefore = await Promise.all(people.map((p) => playingRemoteVideos(p.page)));

    const before = await Promise.all(people.map((p) => rtpBytes(p.page)));
    const cpuBefore = { mentorhub: await cpuSeconds(server.pid), janus: janus ? await cpuSeconds(janus.pid) : 0 };
    const started = Date.now();
    await new Promise((r) => setTimeout(r, windowSeconds * 1000));
    const after = await Promise.all(people.map((p) => rtpBytes(p.page)));
    const cpuAfter = { mentorhub: await cpuSeconds(server.pid), janus: janus ? await cpuSeconds(janus.pid) : 0 };
    const seconds = (Date.now() - started) / 1000;
    const playingAfter = await Promise.all(people.map((p) => playingRemoteVideos(p.page)));

    const kbps = (bytes) => (bytes * 8) / seconds / 1000;
    const moved = people.map((_, i) => delta(before[i], after[i]));
    const upload = moved.map((m) => kbps(m.sent));
    const download = moved.map((m) => kbps(m.received));
    const perParticipant = (from, to) => ((to - from) / seconds / PEOPLE.length) * 100;
    return {
      topology,
      seconds: Math.round(seconds * 10) / 10,
      connections: moved.map((m) => m.open),
      connections_closed_during_window: moved.map((m) => m.closed),
      connections_opened_during_window: moved.map((m) => m.opened),
      remote_videos_playing: { before: playingBefore, after: playingAfter },
      upload_kbps: upload.map(Math.round),
      download_kbps: download.map(Math.round),
      upload_mean_kbps: Math.round(upload.reduce((a, b) => a + b, 0) / upload.length),
      download_mean_kbps: Math.round(download.reduce((a, b) => a + b, 0) / download.length),
      mentorhub_cpu_pct_per_participant: Math.round(perParticipant(cpuBefore.mentorhub, cpuAfter.mentorhub) * 100) / 100,
      janus_cpu_pct_per_participant: janus ? Math.round(perParticipant(cpuBefore.janus, cpuAfter.janus) * 100) / 100 : null,
      load_average: await loadAverage(),
    };
  } finally {
    await chromium.close();
    await server.stop();
    await janus?.stop();
  }
}

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot }).toString().trim();
const results = [];
for (const topology of ['mesh', 'sfu']) {
  const result = await measure(topology);
  console.error(`${topology}: ${JSON.stringify(result)}`); // as it comes, for long runs
  results.push(result);
}
if (asJson) {
  console.log(JSON.stringify({ commit, window_seconds: windowSeconds, warmup_seconds: warmupSeconds, results }, null, 2));
} else {
  console.log(`6-person video call, commit ${commit}, ${windowSeconds} s window after ${warmupSeconds} s warm-up`);
  console.log('topology | upload/participant kbps (mean; min–max) | download kbps (mean) | Mentorhub CPU %/participant | Janus CPU %/participant | load');
  for (const r of results) {
    const janus = r.janus_cpu_pct_per_participant === null ? '—' : r.janus_cpu_pct_per_participant;
    console.log(`${r.topology} | ${r.upload_mean_kbps}; ${Math.min(...r.upload_kbps)}–${Math.max(...r.upload_kbps)} | ${r.download_mean_kbps} | ${r.mentorhub_cpu_pct_per_participant} | ${janus} | ${r.load_average}`);
  }
  const [mesh, sfu] = results;
  console.log(`upload per participant, SFU / mesh: ${(sfu.upload_mean_kbps / mesh.upload_mean_kbps).toFixed(2)}`);
}
