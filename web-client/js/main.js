// Start-up and wiring: services (REST, session, connection, store, outbox), the frame
// router between them, the connection indicator, token renewal, and the screen router.

import { Api } from './api.js';
import { announce } from './dom.js';
import { Connection } from './connection.js';
import { Outbox } from './outbox.js';
import { frames } from './protocol.js';
import { currentRoute, navigate } from './router.js';
import { Session, claimsOf } from './session.js';
import { callbackParams, pendingReturn } from './oidc.js';
import { Store } from './store.js';
import { Preferences } from './settings.js';
import { Notifier } from './notify.js';
import { forgetPushOnSignOut } from './push.js';
import { mountSignIn } from './views/signin.js';
import { mountHome } from './views/home.js';
import { mountConversation } from './views/conversation.js';
import { mountSettings } from './views/settings.js';
import { mountRequestMentor } from './views/request-mentor.js';
import { mountOverview } from './views/overview.js';
import { mountNewRoom, mountJoin } from './views/new-room.js';
import { mountReports, mountReport } from './views/reports.js';
import { mountAssign } from './views/assign.js';
import { Calls } from './call/calls.js';
import { mountCallView } from './views/call.js';
import { refreshSafety } from './safety-state.js';
import { ask } from './views/dialog.js';
import { mountConnectionState } from './views/connection-state.js';

const api = new Api(() => session.token);
const session = new Session(api);
const store = new Store();
const connection = new Connection({
  getToken: () => session.token,
  getCursors: () => store.helloCursors(),
});
const outbox = new Outbox(connection);
const preferences = new Preferences();
const notifier = new Notifier(preferences);
const calls = new Calls({ connection, store, api, preferences });

outbox.on('acked', (item, ack) => store.applyOwn(item, ack));

const app = { api, session, store, connection, outbox, preferences, notifier, calls, navigate, server: { dev: false } };
window.mentorhub = app;
notifier.attach({ store, calls }); // for the browser tests and for curious people in devtools

// ---- frames from the server ----------------------------------------------------------

connection.on('welcome', (welcome) => {
  store.onWelcome(welcome);
  refreshLists();
  refreshSafety(app);
});

connection.on('frame', (frame) => {
  if (frame.type === 'token_expiring') return renewToken(false);
  if (frame.type === 'resync') return refreshLists();
  if (frame.type === 'ack' && frame.client_id) outbox.committed(frame.client_id);
  if (frame.type === 'system' && MEMBERSHIP_EVENTS.has(frame.event?.kind)) refreshConversationSoon(frame.conversation);
  if (frame.type === 'call') calls.onFrame(frame);
  store.onFrame(frame);
  if (frame.type === 'message') notifier.onMessage(frame, store);
  if (frame.type === 'relationship' && frame.relationship.awaiting_me) {
    announce('You have a new mentoring request.');
    notifier.onRequest();
  }
  return undefined;
});

connection.on('reauth', () => renewToken(true));

/** Timeline events that change who is in a conversation or how they appear: the
 * member list is read again (once per burst of such events). */
const MEMBERSHIP_EVENTS = new Set([
  'member_joined', 'member_left', 'member_removed', 'member_muted', 'member_unmuted',
  'agreement_accepted', 'identity_revealed', 'role_changed', 'room_calls_changed',
]);
const summaryRefreshes = new Map();
function refreshConversationSoon(id) {
  if (summaryRefreshes.has(id)) return;
  summaryRefreshes.set(id, setTimeout(async () => {
    summaryRefreshes.delete(id);
    try {
      const { conversation } = await api.get(`/conversations/${id}`);
      store.onFrame({ type: 'conversation', conversation });
    } catch (error) {
      if (error.code !== 'offline') console.warn('could not refresh a conversation', error.code);
    }
  }, 200));
}

async function refreshLists() {
  try {
    const [relationships, conversations, invitations] = await Promise.all([
      api.get('/relationships'),
      api.get('/conversations'),
      api.get('/invitations'),
    ]);
    store.setRelationships(relationships.relationships);
    store.setConversations(conversations.conversations);
    store.setInvitations(invitations.invitations);
  } catch (error) {
    if (error.code !== 'offline') console.warn('could not refresh lists', error.code);
  }
}

/** A token that is about to expire (or already refused): get a new one, then carry on. */
let renewing = null;
// A closed session that asks for a new token while a background renewal is under way
// is reconnected when that renewal is done.
let reconnectAfterRenewal = false;
function renewToken(reconnect) {
  if (reconnect) reconnectAfterRenewal = true;
  renewing ??= session
    .renew()
    .then((token) => {
      if (reconnectAfterRenewal) connection.reconnectNow();
      else connection.send(frames.refresh(token));
    })
    .catch(() => {
      // Offline while renewing: try again when the connection comes back.
      if (reconnectAfterRenewal) setTimeout(() => renewToken(true), 5000);
    })
    .finally(() => {
      renewing = null;
      reconnectAfterRenewal = false;
    });
  return renewing;
}

session.on('token-needed', () => {
  const dialog = document.getElementById('token-dialog');
  // With the institution's sign-in there is nothing to paste: the person signs in again.
  const atProvider = Boolean(session.signIn);
  document.getElementById('token-paste').hidden = atProvider;
  document.getElementById('token-input').required = !atProvider;
  document.getElementById('token-text').textContent = atProvider
    ? 'Sign in again through your institution. Nothing you wrote is lost: unsent messages wait until you are back.'
    : 'Sign in again through your institution and paste the new token here. Nothing you wrote is lost: unsent messages wait until you are back.';
  document.getElementById('token-submit').textContent = atProvider ? 'Sign in again' : 'Continue';
  if (!dialog.open) dialog.showModal();
});

document.getElementById('token-form').addEventListener('submit', (event) => {
  const input = document.getElementById('token-input');
  const error = document.getElementById('token-error');
  if (session.signIn) {
    event.preventDefault();
    store.persistNow();
    session.signInAtProvider(location.hash).catch((problem) => {
      error.textContent = problem.message;
    });
    return;
  }
  try {
    const previous = session.account;
    const next = claimsAccount(input.value);
    if (previous && next && next !== previous) throw new Error('This token is for another account: sign out first.');
    session.useToken(input.value, null);
    input.value = '';
    error.textContent = '';
  } catch (problem) {
    event.preventDefault();
    error.textContent = problem.message;
  }
});

function claimsAccount(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
  } catch {
    return null;
  }
}

document.getElementById('sign-out').addEventListener('click', async () => {
  const account = session.account;
  const unsent = outbox.items.length;
  if (unsent && !(await ask({
    title: 'Sign out and discard unsent messages?',
    text: `${unsent === 1 ? '1 message is' : `${unsent} messages are`} not sent yet and will be discarded.`,
    confirm: 'Sign out',
    danger: true,
  }))) return;
  calls.hangUpAll();
  // Signed out, this device is no longer told about the account.
  await forgetPushOnSignOut(app);
  connection.stop();
  outbox.useAccount(null);
  localStorage.removeItem(`mh.outbox.${account}`);
  store.forget(account);
  store.useAccount(null);
  clearTimeout(renewTimer);
  const leave = await session.signOut();
  // The provider's own session ends too, or the next "Sign in" would be silent.
  if (leave) location.assign(leave);
  else navigate('/signin');
});

// ---- screens ----------------------------------------------------------------------------

const screens = {
  signin: mountSignIn,
  home: mountHome,
  conversation: mountConversation,
  thread: mountConversation,
  settings: mountSettings,
  request: mountRequestMentor,
  overview: mountOverview,
  newRoom: mountNewRoom,
  reports: mountReports,
  report: mountReport,
  assign: mountAssign,
  join: mountJoin,
};

const AFTER_SIGN_IN = 'mh.after-signin';
let unmount = null;
function showRoute() {
  const route = currentRoute();
  if (!session.current && route.name !== 'signin') {
    // A link (an invite link, a conversation) opened before signing in: kept for after.
    if (route.name !== 'home') sessionStorage.setItem(AFTER_SIGN_IN, location.hash);
    return navigate('/signin');
  }
  if (session.current && sessionStorage.getItem(AFTER_SIGN_IN)) {
    const next = sessionStorage.getItem(AFTER_SIGN_IN);
    sessionStorage.removeItem(AFTER_SIGN_IN);
    if (location.hash !== next) return navigate(next.replace(/^#/, ''));
  }
  if (session.current && route.name === 'signin') return navigate('/');
  unmount?.();
  const view = document.getElementById('view');
  view.replaceChildren();
  document.getElementById('app-nav').hidden = !session.current;
  // Signed out there is no connection to speak of: no indicator, not a red "Not connected".
  document.querySelector('.connection-bar').hidden = !session.current;
  unmount = screens[route.name](view, app, ...route.params) || null;
  return undefined;
}

function startSession() {
  store.useAccount(session.account);
  outbox.useAccount(session.account);
  connection.start();
}

/** Renews the provider's access token in the background a little before it expires
 * (the server's `token_expiring` comes too, but only while connected). */
let renewTimer = null;
function scheduleRenewal() {
  clearTimeout(renewTimer);
  const seconds = session.renewIn;
  if (seconds === null) return;
  renewTimer = setTimeout(() => renewToken(false), seconds * 1000);
}

session.on('changed', scheduleRenewal);

session.on('changed', (current, previousAccount) => {
  if (current && current.account !== store.accountId) {
    if (store.accountId) store.persistNow();
    startSession();
  }
  if (!current && previousAccount) store.forget(previousAccount);
});

window.addEventListener('hashchange', () => {
  // A hand-over link followed while the app is open is the same document: no reload.
  const handed = !session.signIn && location.hash.match(/^#token=([^&]+)/);
  if (!handed) return showRoute();
  history.replaceState(null, '', `${location.pathname}#/`);
  acceptHandedToken(decodeURIComponent(handed[1])).then(showRoute);
});
document.addEventListener('pointerdown', () => notifier.unlock(), { once: true });
document.addEventListener('keydown', () => notifier.unlock(), { once: true });
window.addEventListener('pagehide', () => store.persistNow());

async function boot() {
  mountConnectionState(app);
  // The server puts its public info in the page (a round trip saved on slow links).
  // Offline start: the cached session and conversations are enough to read and queue.
  const inline = document.getElementById('server-info');
  if (inline) {
    app.server = JSON.parse(inline.textContent);
  } else if (navigator.onLine) {
    try {
      app.server = await api.get('/info');
    } catch {
      // The server is unreachable: the same as offline.
    }
  }
  session.signIn = app.server.sign_in || null;
  const answer = session.signIn && callbackParams(location.hash);
  // A token handed over by the institution's login arrives in the fragment (which no
  // server ever sees) and is removed from the address bar at once.
  const handed = !session.signIn && location.hash.match(/^#token=([^&]+)/);
  if (answer) {
    // Back from the identity provider: the code leaves the address bar (and history) at once.
    const returnTo = pendingReturn();
    history.replaceState(null, '', `${location.pathname}#/`);
    await finishSignIn(answer, returnTo);
  } else if (handed) {
    history.replaceState(null, '', `${location.pathname}#/`);
    await acceptHandedToken(decodeURIComponent(handed[1]));
  } else if (session.load()) {
    startSession();
  }
  scheduleRenewal();
  mountCallView(document.getElementById('call-root'), app);
  showRoute();
  app.shellCached = cacheShell();
}

/** The provider's answer: a signed-in session, or the reason shown on the sign-in screen. */
async function finishSignIn(answer, returnTo) {
  const existing = session.load();
  try {
    await session.completeSignIn(answer);
    if (returnTo && returnTo !== '#/' && !returnTo.startsWith('#/signin')) sessionStorage.setItem(AFTER_SIGN_IN, returnTo);
  } catch (error) {
    sessionStorage.setItem('mh.signin-error', error.message);
    if (existing) startSession();
  }
}

/** A token from a link is used only when the person says so: anyone can make a link
 * that signs a browser into *their* account (so that what the victim writes lands
 * there) or that replaces the session open in this browser. */
async function acceptHandedToken(token) {
  const existing = session.load();
  const claims = claimsOf(token.trim());
  const who = claims?.name || claims?.sub || 'an account this link names';
  const text = existing
    ? `You are signed in as ${existing.name}. This link would sign this browser in as ${who} instead. Continue only if you have just signed in through your institution.`
    : `This link signs this browser in as ${who}. Continue only if you have just signed in through your institution.`;
  const choice = await ask({
    title: existing ? 'Switch account?' : 'Sign in from a link?',
    text,
    confirm: `Continue as ${who}`,
  });
  if (choice) {
    try {
      session.useToken(token, null);
      return;
    } catch (error) {
      sessionStorage.setItem('mh.signin-error', error.message);
    }
  }
  if (existing && existing.account !== store.accountId) startSession();
}

/** Registers the service worker and hands it the files this page loaded. Resolves
 * true once they are kept for offline use. */
async function cacheShell() {
  if (!('serviceWorker' in navigator) || !navigator.onLine) return false;
  try {
    await navigator.serviceWorker.register('/sw.js');
    const registration = await navigator.serviceWorker.ready;
    const urls = ['/', ...performance.getEntriesByType('resource').map((e) => e.name)]
      .filter((u) => u.startsWith(location.origin) || u.startsWith('/'));
    return await new Promise((resolve) => {
      const onMessage = (event) => {
        if (event.data?.type === 'shell-cached' || event.data?.type === 'shell-cache-failed') {
          navigator.serviceWorker.removeEventListener('message', onMessage);
          resolve(event.data.type === 'shell-cached');
        }
      };
      navigator.serviceWorker.addEventListener('message', onMessage);
      registration.active.postMessage({ type: 'cache-shell', urls });
    });
  } catch {
    // Without it the app still works online; only an offline reload is lost.
    return false;
  }
}

boot();
