// Service worker: keeps the app's own files (HTML, CSS, JavaScript) so the app opens
// without a network — a rural mentee can reload, read recent messages and write replies
// that are sent when the link is back. Network first, so a deployed update is picked up
// whenever the server is reachable; REST, WebSocket and anything else are never touched.

const CACHE = 'mentorhub-shell-v1';

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

// The page lists the files it loaded (it knows them; this worker started after they
// were fetched), so the shell is complete from the first visit without a list to maintain.
self.addEventListener('message', (event) => {
  if (event.data?.type !== 'cache-shell') return;
  const urls = event.data.urls.filter((u) => isShell(new URL(u, self.location.origin)));
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(urls))
      .then(() => event.source?.postMessage({ type: 'shell-cached' }))
      .catch(() => event.source?.postMessage({ type: 'shell-cache-failed' })),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || !isShell(url)) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request, { ignoreSearch: true })
        .then((cached) => cached || (request.mode === 'navigate' ? caches.match('/') : undefined))
        .then((cached) => cached || Response.error())),
  );
});
