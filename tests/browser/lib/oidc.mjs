// The real OpenID provider of the sign-in tests (npm `oidc-provider`, tests/oidc/provider.mjs):
// started on a free port with the app's redirect URI registered for its public client
// `mentorhub-web`, with test users alice and bob (password: the user name), and its test
// controls (key rotation, statistics).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './server.mjs';

export const CLIENT_ID = 'mentorhub-web';
/** The audience of its access tokens (the server's `jwt_audience`). */
export const AUDIENCE = 'mentorhub';
/** The resource indicator naming Mentorhub at the provider. */
export const RESOURCE = 'urn:mentorhub';
export const SCOPES = 'openid profile offline_access mentorhub';

/**
 * @param {object} options
 * @param {string[]} options.redirectUris  where the provider may send the browser back
 * @param {number} [options.accessTokenTtl]  seconds
 */
export async function startProvider({ redirectUris, accessTokenTtl = 300 }) {
  const logs = [];
  const child = spawn('node', ['provider.mjs'], {
    cwd: join(repoRoot, 'tests', 'oidc'),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      OIDC_REDIRECT_URIS: redirectUris.join(','),
      OIDC_ACCESS_TOKEN_TTL: String(accessTokenTtl),
    },
  });
  const keep = (chunk) => {
    logs.push(chunk.toString());
    if (logs.length > 500) logs.shift();
  };
  child.stderr.on('data', keep);
  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the provider did not start:\n${logs.join('')}`)), 30_000);
    let text = '';
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      text += chunk;
      const match = text.match(/^issuer=(\S+)$/m);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the provider exited (${code}):\n${logs.join('')}`));
    });
  });

  async function control(path, method = 'POST') {
    const response = await fetch(`${issuer}${path}`, { method });
    return response.json();
  }

  return {
    issuer,
    logs,
    /** New signing keys with new kids (the previous ones stay published); resolves to the new kids. */
    async rotate() {
      return (await control('/test/rotate')).kids;
    },
    /** How often the key set was fetched, and the current kids. */
    async stats() {
      return control('/test/stats', 'GET');
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** The settings that make a server trust the provider and offer its sign-in. */
export function serverSettings(issuer) {
  return {
    MENTORHUB_JWT_ISSUER: issuer,
    MENTORHUB_JWT_AUDIENCE: AUDIENCE,
    MENTORHUB_OIDC_CLIENT_ID: CLIENT_ID,
    MENTORHUB_OIDC_SCOPES: SCOPES,
    MENTORHUB_OIDC_RESOURCE: RESOURCE,
    // A rotated key is picked up at once (the default allows one fetch a minute).
    MENTORHUB_JWT_JWKS_REFETCH_SECS: '1',
  };
}
