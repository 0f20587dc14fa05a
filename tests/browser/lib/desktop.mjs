// A desktop for Chromium's notifications: a private D-Bus session bus and a
// freedesktop.org notification server on it (desktop_notifications.py, Debian's
// python3-dbus). Chromium on Linux shows a page's notifications there when the server
// exists — so a test sees what a person would see, and clicks it the way a desktop
// does (the `default` action), which makes Chromium fire the service worker's real
// `notificationclick`. The DevTools protocol has no way to click a notification.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const serverScript = fileURLToPath(new URL('./desktop_notifications.py', import.meta.url));

function lines(child, onLine) {
  createInterface({ input: child.stdout }).on('line', onLine);
}

export async function startDesktop() {
  const dir = await mkdtemp(join(tmpdir(), 'mentorhub-desktop-'));
  const address = `unix:path=${join(dir, 'bus')}`;
  const bus = spawn('/usr/bin/dbus-daemon', ['--session', '--nofork', `--address=${address}`, '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve, reject) => {
    lines(bus, resolve);
    bus.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code})`)));
  });
  const env = { DBUS_SESSION_BUS_ADDRESS: address };
  const events = [];
  const waiters = new Set();
  const server = spawn('/usr/bin/python3', [serverScript], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  lines(server, (line) => {
    events.push(JSON.parse(line));
    for (const waiter of [...waiters]) waiter();
  });
  const desktop = {
    env,
    /** Every event so far: `{event: 'notify', id, summary, body, actions}`, `close`, `clicked`. */
    events,
    /** Resolves the first event from index `since` on that `match` accepts (already
     * seen or still to come), or fails after `timeoutMs`. */
    waitFor(match, what, { since = 0, timeoutMs = 15_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.slice(since).find(match);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the desktop saw no ${what} within ${timeoutMs} ms; it saw ${JSON.stringify(events)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    /** Clicks a notification's body, as a person does on the desktop. */
    click(id) {
      server.stdin.write(`click ${id}\n`);
    },
    async stop() {
      for (const child of [server, bus]) {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await new Promise((resolve) => child.once('exit', resolve));
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  await desktop.waitFor((e) => e.event === 'ready', 'notification server start');
  return desktop;
}
