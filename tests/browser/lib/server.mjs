// Starts a real `mentorhub serve --dev` (or without `--dev`, trusting an identity provider)
// on a free port with its own temporary data directory, waits until it is ready, and stops
// it (and removes the directory) after.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export const repoRoot = resolve(here, '../../..');
const targetDir = process.env.CARGO_TARGET_DIR || join(repoRoot, 'target');
export const serverBinary = process.env.MENTORHUB_BIN || join(targetDir, 'debug', 'mentorhub');

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * @param {object} [options]
 * @param {Record<string, string>} [options.env]  extra MENTORHUB_* settings
 * @param {boolean} [options.dev]  `--dev` (the default); without it, `env` must name the keys
 */
export async function startServer({ env = {}, dataDir: reuseDir, port: reusePort, dev = true } = {}) {
  const dataDir = reuseDir || await mkdtemp(join(tmpdir(), 'mentorhub-browser-'));
  const port = reusePort || await freePort();
  // The embedded TURN relay listens on its own free port (never the shared default),
  // on loopback, and may relay to loopback peers: both browsers live on this machine.
  const turnPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs = [];
  const child = spawn(
    serverBinary,
    ['serve', ...(dev ? ['--dev'] : []), '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
      '--web-client-dir', join(repoRoot, 'web-client')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MENTORHUB_LOG: process.env.MENTORHUB_LOG || 'warn',
        MENTORHUB_TURN_LISTEN: `127.0.0.1:${turnPort}`,
        MENTORHUB_TURN_PUBLIC_IP: '127.0.0.1',
        MENTORHUB_TURN_ALLOW_PRIVATE_PEERS: 'true',
        ...env,
      },
    },
  );
  const keep = (chunk) => {
    logs.push(chunk.toString());
    if (logs.length > 2000) logs.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((resolveExit) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    resolveExit(exited);
  }));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`mentorhub exited (${JSON.stringify(exited)}) before it was ready:\n${logs.join('')}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mentorhub was not ready within 30 s:\n${logs.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  async function halt() {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
  }

  return {
    url,
    logs,
    dataDir,
    port,
    pid: child.pid,
    /** Stops gracefully (SIGTERM: the server drains its sockets) and keeps the data. */
    halt,
    async stop() {
      await halt();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
