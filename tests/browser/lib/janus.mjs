// A Janus instance (Debian's package) for a browser spec: the repository's templates
// (deploy/janus/) rendered by deploy/janus/render.sh on a free port, started, and
// stopped after. scripts/ensure-services.sh installs the package.

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { freePort, repoRoot } from './server.mjs';

const run = promisify(execFile);

function listening(port) {
  return new Promise((resolvePort) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolvePort(true); });
    socket.once('error', () => resolvePort(false));
  });
}

/** Starts Janus; returns its URL and secret (Mentorhub's janus_urls / janus_secret). */
export async function startJanus() {
  if (!existsSync('/usr/bin/janus')) throw new Error('janus is missing: run scripts/ensure-services.sh');
  const dir = await mkdtemp(join(tmpdir(), 'mentorhub-janus-'));
  const secret = randomBytes(24).toString('hex');
  const port = await freePort();
  const config = join(dir, 'config');
  await run('sh', [join(repoRoot, 'deploy/janus/render.sh'), config], {
    env: { ...process.env, JANUS_API_SECRET: secret, JANUS_WS_PORT: String(port), JANUS_WS_IP: '127.0.0.1' },
  });
  const logs = [];
  const child = spawn('/usr/bin/janus', ['-F', config, '-C', join(config, 'janus.jcfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk) => logs.push(chunk.toString()));
  child.stderr.on('data', (chunk) => logs.push(chunk.toString()));
  const deadline = Date.now() + 20_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`janus did not start:\n${logs.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `ws://127.0.0.1:${port}`,
    secret,
    logs,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null) r(); else child.once('exit', r); });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
