// Service worker: keeps the app's own files (HTML, CSS, JavaScript) so the app opens
// without a network — a rural mentee can reload, read recent messages and write replies
// that are sent when the link is back — and opens at once on a slow one. Files whose
// names carry a content hash never change: served from the cache. The page itself is
// served from the cache too while a fresh copy is fetched for the next visit (stale
// while revalidate): on an 800 ms link, waiting for the network first costs a second
// on every visit. REST, WebSocket and anything else are never touched.
//
// It also shows Web Push notifications while no Mentorhub tab is open. A push says only
// what kind of thing happened, how many, and where to go — never a body, a title or a
// name — and this worker turns that into a fixed sentence; anything else a push might
// carry is ignored, and a push it cannot read still says that something happened.

const CACHE = 'mentorhub-shell-v2';

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  return url.origin === self.location.origin
    && !url.pathname.startsWith('/api/')
    && url.pathname !== '/ws'
    && !['/healthz', '/readyz', '/metrics'].includes(url.pathname);
}

/** `/js/mentorhub.<16 hex>.js`, `/css/app.<16 hex>.css`: content-hashed by the server. */
function isImmutable(url) {
  return /\.[0-9a-f]{16}\.[a-z]+$/.test(url.pathname);
}

// The page lists the files it loaded (it knows them; this worker started after they
// were fetched), so the shell is complete from the first visit without a list to
// maintain; files of older versions are dropped then.
self.addEventListener('message', (event) => {
  if (event.data?.type !== 'cache-shell') return;
  const urls = event.data.urls.filter((u) => isShell(new URL(u, self.location.origin)));
  const keep = new Set(urls.map((u) => new URL(u, self.location.origin).href));
  event.waitUntil(
    caches.open(CACHE)
      .then(async (cache) => {
        // Hashed files come from the HTTP cache here: they are not downloaded twice.
        await cache.addAll(urls);
        for (const request of await cache.keys()) if (!keep.has(request.url)) await cache.delete(request);
      })
      .then(() => event.source?.postMessage({ type: 'shell-cached' }))
      .catch(() => event.source?.postMessage({ type: 'shell-cache-failed' })),
  );
});

/** The network's answer, kept for next time when it is a good one. */
function fetchAndKeep(request) {
  return fetch(request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  });
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || !isShell(url)) return;
  const cached = caches.match(request, { ignoreSearch: true })
    .then((hit) => hit || (request.mode === 'navigate' ? caches.match('/') : undefined));
  if (isImmutable(url)) {
    event.respondWith(cached.then((hit) => hit || fetchAndKeep(request)));
    return;
  }
  const fresh = fetchAndKeep(request);
  event.waitUntil(fresh.catch(() => {}));
  event.respondWith(
    cached.then((hit) => hit || fresh).catch(() => cached.then((hit) => hit || Response.error())),
  );
});

// ---- Web Push -------------------------------------------------------------------------

/** What each kind of push says (`count` ≥ 1), and its tag: a newer push of a kind
 * replaces the one shown, so they never pile up. */
const PUSH_KINDS = {
  message: {
    tag: 'mentorhub-message',
    words: (n) => (n === 1 ? 'A new message in a mentoring conversation' : `${n} new messages in a mentoring conversation`),
  },
  reply: {
    tag: 'mentorhub-reply',
    words: (n) => (n === 1 ? 'A new reply in a conversation thread' : `${n} new replies in a conversation thread`),
  },
  relationship: {
    tag: 'mentorhub-request',
    words: (n) => (n === 1 ? 'A new mentoring request' : `${n} new mentoring requests`),
  },
  invitation: {
    tag: 'mentorhub-invitation',
    words: (n) => (n === 1 ? 'An invitation to a conversation' : `${n} invitations to conversations`),
  },
  missed_call: {
    tag: 'mentorhub-missed-call',
    words: (n) => (n === 1 ? 'A missed call' : `${n} missed calls`),
  },
  ringing_call: { tag: 'mentorhub-call', words: () => 'Incoming call' },
};
const GENERIC_PUSH = { tag: 'mentorhub-push', body: 'Something new in Mentorhub', link: '/#/' };
const APP_TITLE = 'Mentorhub';

/** The app's own deep links only: a conversation, or the home screen. */
function isAppLink(link) {
  return typeof link === 'string' && (link === '/#/' || /^\/#\/c\/c_[a-z0-9]{1,40}$/.test(link));
}

/** The notification for a push's plaintext (`{kind, count, link}`); anything it cannot
 * read (not JSON, unknown kind, a count that is not a positive integer, a link that is
 * not the app's) gives the generic one. Other fields are never looked at. */
function pushNotice(text) {
  let payload;
  try {
    payload = JSON.parse(text);
  } catch {
    return GENERIC_PUSH;
  }
  const kind = Object.hasOwn(PUSH_KINDS, payload?.kind) ? PUSH_KINDS[payload.kind] : null;
  const count = payload?.count;
  if (!kind || !Number.isSafeInteger(count) || count < 1 || !isAppLink(payload.link)) return GENERIC_PUSH;
  return { tag: kind.tag, body: kind.words(count), link: payload.link, ringing: payload.kind === 'ringing_call' };
}

self.addEventListener('push', (event) => {
  // Browsers require every push to show a notification (`userVisibleOnly`).
  const notice = pushNotice(event.data ? event.data.text() : '');
  event.waitUntil(self.registration.showNotification(APP_TITLE, {
    body: notice.body,
    tag: notice.tag,
    renotify: true,
    requireInteraction: Boolean(notice.ringing),
    data: { link: notice.link },
  }));
});

// A notification was clicked: back to the app. A push's notification opens its link
// in an open Mentorhub window (or a new one); a notification the open tab showed
// itself (js/notify.js, no link) just brings that tab forward.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const pushed = event.notification.data?.link;
  const link = pushed === undefined ? null : (isAppLink(pushed) ? pushed : '/#/');
  event.waitUntil(openApp(link));
});

async function openApp(link) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((w) => w.focused && new URL(w.url).origin === self.location.origin)
    || windows.find((w) => new URL(w.url).origin === self.location.origin);
  if (!open) return self.clients.openWindow(link || '/');
  let client = open;
  try {
    client = await open.focus();
  } catch {
    // Not allowed to take focus (the browser decides): it is still navigated below.
  }
  if (!link) return client;
  try {
    return await client.navigate(new URL(link, self.location.origin).href);
  } catch {
    // A window this worker does not control cannot be navigated from here.
    return self.clients.openWindow(link);
  }
}
