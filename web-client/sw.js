// Service worker: keeps the app's own files (HTML, CSS, JavaScript) so the app opens
// without a network — a rural mentee can reload, read recent messages and write replies
// that are sent when the link is back — and opens at once on a slow one. Files whose
// names carry a content hash never change: served from the cache. The page itself is
// served from the cache too while a fresh copy is fetched for the next visit (stale
// while revalidate): on an 800 ms link, waiting for the network first costs a second
// on every visit. REST, WebSocket and anything else are never touched.

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

// A notification (content-free: see js/notify.js) was clicked: back to the app.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      return open ? open.focus() : self.clients.openWindow('/');
    }),
  );
});
