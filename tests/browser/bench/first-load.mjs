// First load on a slow link: how long until the sign-in screen is usable, cold (empty
// cache, no service worker) and on a repeat visit (same browser, later), at two link
// profiles emulated by Chromium (CDP Network.emulateNetworkConditions), and how many
// bytes travel (compressed, as on the wire).
//
// Two servers are measured in the same run, interleaved, with the same client files:
//   mentorhub    `mentorhub serve --dev` as shipped (packed, compressed, cached);
//   plain-files  the peer: the same folder served file by file, uncompressed, with only
//                Last-Modified (what a plain static file server does), /api proxied to
//                the same Mentorhub so the app behaves the same.
//
// A benchmark, not a test: it asserts nothing and prints a table (and JSON with
// --json). Run it on a quiet machine:
//   cargo build -p mentorhub && bash tests/browser/bench/first-load.sh [--runs 3] [--json]

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import { extname, join, normalize } from 'node:path';
import { launchBrowser } from '../lib/browser.mjs';
import { freePort, repoRoot, startServer } from '../lib/server.mjs';

export const PROFILES = [
  { name: '400 kbps / 400 ms', latency: 400, kbps: 400, target: { cold: 2500, repeat: 1000 } },
  { name: '150 kbps / 800 ms', latency: 800, kbps: 150, target: { cold: 5000, repeat: 1000 } },
];

/** The sign-in screen is usable when its first action (a demo account in --dev, the
 * token form otherwise) is on screen; the page marks that moment for us. */
const MARK_USABLE = `
  (() => {
    const seen = () => document.querySelector('#view button.demo, #view #signin-token');
    const observer = new MutationObserver(() => {
      if (!seen()) return;
      performance.mark('usable');
      observer.disconnect();
    });
    observer.observe(document, { childList: true, subtree: true });
  })();
`;

const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const asJson = args.includes('--json');

const webClientDir = join(repoRoot, 'web-client');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json' };

/** The peer: each file as it is on disk, Last-Modified only; /api and /ws go to Mentorhub. */
async function startPlainFiles(upstream) {
  const port = await freePort();
  const target = new URL(upstream);
  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url, 'http://localhost');
    if (url.pathname.startsWith('/api/')) {
      const proxied = http.request(
        { host: target.hostname, port: target.port, path: request.url, method: request.method, headers: { ...request.headers, host: target.host } },
        (upstreamResponse) => {
          response.writeHead(upstreamResponse.statusCode, upstreamResponse.headers);
          upstreamResponse.pipe(response);
        },
      );
      request.pipe(proxied);
      return;
    }
    const path = normalize(join(webClientDir, url.pathname === '/' ? 'index.html' : url.pathname));
    if (!path.startsWith(webClientDir)) return response.writeHead(404).end();
    try {
      const info = await stat(path);
      const modified = new Date(Math.floor(info.mtimeMs / 1000) * 1000);
      const since = request.headers['if-modified-since'];
      if (since && new Date(since) >= modified) return response.writeHead(304).end();
      response.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream', 'content-length': info.size, 'last-modified': modified.toUTCString() });
      return createReadStream(path).pipe(response);
    } catch {
      return response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Opens the app in `context` under `profile`; returns time to usable and bytes moved. */
async function visit(context, baseURL, profile) {
  const page = await context.newPage();
  await page.addInitScript(MARK_USABLE);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: profile.latency,
    downloadThroughput: (profile.kbps * 1000) / 8,
    uploadThroughput: (profile.kbps * 1000) / 8,
  });
  const requests = new Map();
  let bytes = 0;
  cdp.on('Network.requestWillBeSent', (event) => requests.set(event.requestId, { url: event.request.url }));
  cdp.on('Network.responseReceived', (event) => {
    const entry = requests.get(event.requestId);
    if (entry) Object.assign(entry, { status: event.response.status, fromCache: event.response.fromDiskCache || event.response.fromServiceWorker });
  });
  cdp.on('Network.loadingFinished', (event) => {
    bytes += event.encodedDataLength;
    const entry = requests.get(event.requestId);
    if (entry) entry.bytes = event.encodedDataLength;
  });
  await page.goto(baseURL, { waitUntil: 'commit' });
  await page.waitForFunction(() => performance.getEntriesByName('usable').length > 0, null, { timeout: 120_000, polling: 50 });
  const usableMs = await page.evaluate(() => performance.getEntriesByName('usable')[0].startTime);
  // Let the page finish what it does after (its service worker keeps the app's files)
  // before the next visit, as a person reading the screen would.
  await page.evaluate(() => Promise.race([window.mentorhub?.shellCached, new Promise((r) => setTimeout(r, 15_000))]));
  await page.waitForLoadState('networkidle').catch(() => {});
  const network = [...requests.values()].filter((r) => r.url.startsWith('http'));
  await cdp.detach();
  await page.close();
  return { usableMs: Math.round(usableMs), bytes, requests: network.length, network };
}

/** Until the page and every file it links are served brotli-compressed. */
async function brotliReady(base) {
  const page = await (await fetch(base, { headers: { 'accept-encoding': 'identity' } })).text();
  const linked = [...page.matchAll(/(?:src|href)="(\/[^"#]+)"/g)].map((m) => m[1]);
  for (const path of ['/', ...linked]) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await fetch(`${base}${path}`, { headers: { 'accept-encoding': 'br' } });
      await response.arrayBuffer();
      if (response.headers.get('content-encoding') !== 'gzip' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const server = await startServer();
  const peer = await startPlainFiles(server.url);
  const chromium = await launchBrowser();
  const subjects = [{ name: 'mentorhub', url: server.url }, { name: 'plain-files', url: peer.url }];
  const results = [];
  try {
    // Warm-up, not measured: each server compresses a file on its first request, and
    // Mentorhub serves gzip until a file's brotli form is ready — wait for it.
    for (const subject of subjects) {
      const context = await chromium.browser.newContext({ baseURL: subject.url });
      await visit(context, subject.url, { latency: 0, kbps: 100_000 });
      await context.close();
    }
    await brotliReady(server.url);
    for (let run = 0; run < runs; run += 1) {
      for (const profile of PROFILES) {
        for (const subject of subjects) {
          const viewport = { width: 360, height: 740 };
          const context = await chromium.browser.newContext({ baseURL: subject.url, viewport });
          const cold = await visit(context, subject.url, profile);
          const repeat = await visit(context, subject.url, profile);
          await context.close();
          // CDP's emulation does not slow a service worker's own fetches, so a repeat
          // visit is also measured without the worker: HTTP cache and revalidation only,
          // every request over the emulated link (a browser that has dropped the worker).
          const noWorker = await chromium.browser.newContext({ baseURL: subject.url, viewport, serviceWorkers: 'block' });
          await visit(noWorker, subject.url, profile);
          const repeatHttp = await visit(noWorker, subject.url, profile);
          await noWorker.close();
          results.push({ run, profile: profile.name, subject: subject.name, cold, repeat, repeatHttp });
        }
      }
    }
  } finally {
    await chromium.close();
    await peer.close();
    await server.stop();
  }

  const rows = [];
  for (const profile of PROFILES) {
    for (const subject of subjects) {
      const mine = results.filter((r) => r.profile === profile.name && r.subject === subject.name);
      rows.push({
        profile: profile.name,
        subject: subject.name,
        coldMs: median(mine.map((r) => r.cold.usableMs)),
        repeatMs: median(mine.map((r) => r.repeat.usableMs)),
        repeatHttpMs: median(mine.map((r) => r.repeatHttp.usableMs)),
        coldBytes: median(mine.map((r) => r.cold.bytes)),
        repeatHttpBytes: median(mine.map((r) => r.repeatHttp.bytes)),
        coldRequests: median(mine.map((r) => r.cold.requests)),
        target: profile.target,
      });
    }
  }
  if (asJson) {
    console.log(JSON.stringify({ runs, rows, results }, null, 2));
    return;
  }
  console.log(`sign-in screen usable, median of ${runs} run(s); bytes as transferred (compressed, with headers)`);
  console.log('| link | server | cold (ms) | repeat (ms) | repeat, no worker (ms) | cold bytes | cold requests | repeat bytes, no worker |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(`| ${row.profile} | ${row.subject} | ${row.coldMs} | ${row.repeatMs} | ${row.repeatHttpMs} | ${row.coldBytes} | ${row.coldRequests} | ${row.repeatHttpBytes} |`);
  }
  for (const profile of PROFILES) {
    const ours = rows.find((r) => r.profile === profile.name && r.subject === 'mentorhub');
    const theirs = rows.find((r) => r.profile === profile.name && r.subject === 'plain-files');
    console.log(`${profile.name}: cold ${(ours.coldMs / theirs.coldMs).toFixed(2)}× the plain files' time, `
      + `repeat ${(ours.repeatMs / theirs.repeatMs).toFixed(2)}× (no worker: ${(ours.repeatHttpMs / theirs.repeatHttpMs).toFixed(2)}×); targets ≤ ${profile.target.cold} ms cold, ≤ ${profile.target.repeat} ms repeat`);
  }
}

await main();
