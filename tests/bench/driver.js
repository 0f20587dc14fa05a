'use strict';
// Mentorhub driver for the peers' room-chat load generator
// (tests/bench/peers/socketio: loadgen.js and idle.js, `--proto file:PATH`).
//
//   connect(url, room, onMsg, opts) -> Promise<{ send(body), close(), onDisconnect(cb) }>
//
// Every client signs in (see `signIn` below: a --dev login, or a token minted with the
// nodes' HS256 secret as an identity provider would), becomes a member of the conversation that stands for `room`, opens /ws, says
// `hello` and waits for `welcome`. `send(body)` sends the small object the generator
// passes as the message body (a JSON string) with a fresh client id; every delivered
// `message` event of that conversation is parsed back and handed to onMsg — the sender's
// own copy included, as with the peers' room broadcast.
//
// How a generator "room" becomes a Mentorhub conversation (MENTORHUB_BENCH_ROOMS):
//   room  (default when the server has /api/rooms) a group room: the room's first client
//         creates it as a mentor (its facilitator), every later client is invited with a
//         single-use code, joins and accepts the agreement before it connects.
//   pair  a mentoring relationship: the first client is the mentor, the second the
//         mentee who requests and is accepted. Only rooms of two.
// Room set-up is shared by all clients of this process (the generator runs every client
// in one process), so it happens once per room whichever node a client talks to.
//
// `url` is the node's base (http://host:port or ws://host:port[/ws]). MENTORHUB_BENCH_RUN
// names the run (default: random) so accounts of two runs on one database never collide.

const crypto = require('crypto');
const path = require('path');

// `ws` comes from the generator's node_modules (tests/bench/peers/socketio; this file is outside that package).
const WebSocket = require(require.resolve('ws', {
  paths: [process.cwd(), require.main ? path.dirname(require.main.filename) : process.cwd()],
}));

const RUN = process.env.MENTORHUB_BENCH_RUN || crypto.randomBytes(4).toString('hex');
const MODE = process.env.MENTORHUB_BENCH_ROOMS || 'auto';
const TIMEOUT_MS = 20000;

function bases(url) {
  const u = new URL(url);
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  const host = u.host;
  return {
    http: `${secure ? 'https' : 'http'}://${host}`,
    ws: `${secure ? 'wss' : 'ws'}://${host}/ws`,
  };
}

class ApiError extends Error {
  constructor(status, body, what) {
    super(`${what}: HTTP ${status} ${body && body.code ? body.code : ''} ${body && body.message ? body.message : ''}`.trim());
    this.status = status;
    this.code = body && body.code;
  }
}

async function api(base, method, route, token, body) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) throw new ApiError(res.status, json, `${method} ${route}`);
  return json;
}

// Tokens: with MENTORHUB_JWT_HS256_SECRET in the environment (the secret the server
// nodes trust; several nodes must share one, and a --dev server refuses a configured
// key) each account gets an HS256 token minted here, as an institution's identity
// provider would issue it; without it, POST /api/dev/login (a server run with --dev).
// Either way the server verifies the token on every call and on `hello`.
const SECRET = process.env.MENTORHUB_JWT_HS256_SECRET || '';

function mint(sub, name, role) {
  const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, name, roles: [role], iat: now, exp: now + 3600 })}`;
  return `${head}.${crypto.createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

async function signIn(base, name, role) {
  let token; let account;
  if (SECRET) {
    account = `bench-${name.replace(/ /g, '-')}`;
    token = mint(account, name, role);
  } else {
    const r = await api(base, 'POST', '/api/dev/login', null, { name, role });
    token = r.token; account = r.account;
  }
  // The server learns of an account when it first uses the API (a mentor must be known
  // before a mentee can ask them).
  await api(base, 'GET', '/api/me', token);
  return { token, account, name };
}

// --- which conversation a room is --------------------------------------------------

let modeProbe = null;
// `auto`: rooms when the server routes /api/rooms (an unknown /api route answers 404
// `not_found`; a known one refuses the missing token with 401).
function roomMode(base) {
  if (MODE !== 'auto') return Promise.resolve(MODE);
  if (!modeProbe) {
    modeProbe = fetch(`${base}/api/rooms`, { signal: AbortSignal.timeout(TIMEOUT_MS) })
      .then((res) => (res.status === 404 ? 'pair' : 'room'));
  }
  return modeProbe;
}

// room name -> { joinNext(base): Promise<{ token, conversation }> }
const rooms = new Map();

function pairPlan(base, room) {
  // Both sides are set up by the room's first client, so neither waits for the other.
  const ready = (async () => {
    const stem = `bench ${RUN} ${room}`;
    const mentor = await signIn(base, `${stem} mentor`, 'mentor');
    const mentee = await signIn(base, `${stem} mentee`, 'mentee');
    const asked = await api(base, 'POST', '/api/relationships', mentee.token, { mentor: mentor.account });
    const rel = asked.relationship;
    await api(base, 'POST', `/api/relationships/${rel.id}/accept`, mentor.token);
    return [mentor, mentee].map((who) => ({ token: who.token, conversation: rel.conversation }));
  })();
  let joined = 0;
  return {
    joinNext: async () => {
      const k = joined++;
      if (k > 1) throw new Error(`room ${room}: a mentoring relationship has two members (set MENTORHUB_BENCH_ROOMS=room)`);
      return (await ready)[k];
    },
  };
}

function roomPlan(base, room) {
  // The room's first client creates it and facilitates; every later client gets a
  // single-use invite code from it, joins and accepts the agreement.
  const stem = `bench ${RUN} ${room}`;
  let host = null; // Promise<{ token, conversation }>
  let joined = 0;
  return {
    joinNext: async (nodeBase) => {
      const k = joined++;
      if (k === 0) {
        host = (async () => {
          const me = await signIn(base, `${stem} host`, 'mentor');
          const created = await api(base, 'POST', '/api/rooms', me.token, {
            title: `bench ${room}`,
            kind: 'group',
            agreement: 'What is said here stays here.',
            member_limit: 1000,
          });
          const id = created.conversation.id;
          if (created.conversation.agreement_required) await api(base, 'POST', `/api/rooms/${id}/agreement`, me.token);
          return { token: me.token, conversation: id };
        })();
        return host;
      }
      if (!host) throw new Error(`room ${room}: no host`);
      const h = await host;
      const me = await signIn(nodeBase, `${stem} m${k}`, 'mentee');
      const invite = await api(nodeBase, 'POST', `/api/rooms/${h.conversation}/invite-codes`, h.token);
      await api(nodeBase, 'POST', '/api/rooms/join', me.token, { code: invite.invite_code.code });
      await api(nodeBase, 'POST', `/api/rooms/${h.conversation}/agreement`, me.token);
      return { token: me.token, conversation: h.conversation };
    },
  };
}

async function membership(base, room) {
  if (!rooms.has(room)) {
    const mode = await roomMode(base);
    if (!rooms.has(room)) rooms.set(room, mode === 'room' ? roomPlan(base, room) : pairPlan(base, room));
  }
  return rooms.get(room).joinNext(base);
}

// --- the live session ---------------------------------------------------------------

let reportedErrors = 0;

function session(wsUrl, token, conversation, onMsg) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false, handshakeTimeout: TIMEOUT_MS });
    let welcomed = false;
    let nextClientId = 0;
    const timer = setTimeout(() => { if (!welcomed) { ws.terminate(); reject(new Error('no welcome in time')); } }, TIMEOUT_MS);
    ws.once('error', (e) => { if (!welcomed) { clearTimeout(timer); reject(e); } });
    ws.once('close', (code, reason) => {
      if (!welcomed) { clearTimeout(timer); reject(new Error(`closed before welcome: ${code} ${reason}`)); }
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', token })));
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'message') {
        if (m.conversation === conversation && typeof m.body === 'string') onMsg(JSON.parse(m.body));
      } else if (m.type === 'error') {
        // Counted by the generator as missing deliveries; say why, a few times.
        if (reportedErrors++ < 5) console.error(`mentorhub driver: error frame ${m.code}: ${m.message}`);
      } else if (m.type === 'welcome' && !welcomed) {
        welcomed = true;
        clearTimeout(timer);
        const here = (m.conversations || []).find((c) => c.id === conversation);
        if (!here || here.state !== 'active') {
          ws.close();
          reject(new Error(`conversation ${conversation} is not active for this member (${here ? here.state : 'absent'})`));
          return;
        }
        resolve({
          send: (body) => ws.send(JSON.stringify({
            type: 'send', conversation, client_id: `k${nextClientId++}`, body: JSON.stringify(body),
          })),
          close: () => ws.close(),
          onDisconnect: (cb) => ws.on('close', cb),
        });
      }
    });
  });
}

async function connect(url, room, onMsg /* , opts */) {
  const b = bases(url);
  const { token, conversation } = await membership(b.http, room);
  return session(b.ws, token, conversation, onMsg);
}

module.exports = { connect };
