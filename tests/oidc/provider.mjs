// A real OpenID provider (npm `oidc-provider`, OpenID Certified) for the sign-in tests.
//
//   node provider.mjs            prints `issuer=http://127.0.0.1:PORT` once listening
//
// Environment: OIDC_REDIRECT_URIS (comma-separated, the test client's redirect URIs),
// OIDC_ACCESS_TOKEN_TTL (seconds, default 300).
//
// - One public client `mentorhub-web` (no secret, PKCE required), authorization code +
//   refresh token grants.
// - Test users `alice` (mentee) and `bob` (mentor), signed in through a plain HTML form
//   at /interaction/:uid (password: the user name); consent is implied (first-party).
// - Access tokens are JWTs for the resource `urn:mentorhub` with audience `mentorhub`,
//   carrying `name` and `roles`, signed with RS256 or ES256 (POST /test/alg?alg=ES256).
// - Test controls: POST /test/rotate (new keys with new kids; the previous ones stay
//   published, as real providers do), POST /test/down?on=1|0 (discovery and key set answer
//   503), GET /test/stats (how often the key set was fetched).
// Not for production: test users, no real passwords, test-only controls.

import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

const CLIENT_ID = 'mentorhub-web';
const RESOURCE = 'urn:mentorhub';
const AUDIENCE = 'mentorhub';
const USERS = {
  alice: { name: 'Alice Example', roles: ['mentee'] },
  bob: { name: 'Bob Example', roles: ['mentor'] },
};
const redirectUris = (process.env.OIDC_REDIRECT_URIS || 'http://127.0.0.1/callback')
  .split(',')
  .map((uri) => uri.trim())
  .filter(Boolean);
const accessTokenTtl = Number(process.env.OIDC_ACCESS_TOKEN_TTL || 300);

let accessTokenAlg = 'RS256';
let down = false;
let jwksFetches = 0;
let generation = 0;

function newKeys() {
  generation += 1;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rsa-${generation}-${randomUUID().slice(0, 8)}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `ec-${generation}-${randomUUID().slice(0, 8)}`, alg: 'ES256', use: 'sig' },
  ];
}

// The current keys first (the provider signs with the first key of an algorithm), then
// the previous generation, still published so tokens it signed verify until they expire.
let current = newKeys();
let previous = [];
// One store for every provider built (a rotation builds a new one): sign-in sessions,
// grants and refresh tokens outlive a key rotation, as they do at a real provider.
const adapter = createMemoryAdapter();

function configuration() {
  return {
    adapter,
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        post_logout_redirect_uris: redirectUris,
      },
    ],
    jwks: { keys: [...current, ...previous] },
    scopes: ['openid', 'profile', 'offline_access', 'mentorhub'],
    claims: { openid: ['sub'], profile: ['name'] },
    ttl: {
      AccessToken: accessTokenTtl,
      Session: 3600,
      Interaction: 600,
      Grant: 3600,
      RefreshToken: 3600,
      IdToken: 3600,
      AuthorizationCode: 60,
    },
    cookies: { keys: ['test-only-cookie-key'] },
    pkce: { required: () => true },
    clientBasedCORS: () => true,
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // Sign-out without a confirmation page: the test client asked for it. `logout=yes`
        // ends the provider's whole session, as a real provider's sign-out does (without
        // it only this client's grant ends and the next sign-in would be silent).
        logoutSource: async (ctx, form) => {
          const confirmed = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
          ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Signing out</title></head><body>${confirmed}<script>document.forms[0].submit()</script></body></html>`;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== RESOURCE) throw new Error('unknown resource');
          return {
            scope: 'mentorhub',
            audience: AUDIENCE,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: accessTokenAlg } },
          };
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // First-party client: the grant is implied, no consent screen.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile offline_access mentorhub');
      grant.addResourceScope(RESOURCE, 'mentorhub');
      await grant.save();
      return grant;
    },
    extraTokenClaims: async (_ctx, token) => {
      const user = USERS[token.accountId];
      return user && token.kind === 'AccessToken' ? { name: user.name, roles: user.roles } : undefined;
    },
    findAccount: async (_ctx, sub) => {
      const user = USERS[sub];
      if (!user) return undefined;
      return { accountId: sub, claims: async () => ({ sub, name: user.name }) };
    },
  };
}

let issuer;
let provider;
let handler;

// Rotation builds a new provider on the same in-memory storage (`adapter`), so sign-in
// sessions and refresh tokens survive it.
function build() {
  provider = new Provider(issuer, configuration());
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider:', error));
  handler = provider.callback();
}

function page(title, body) {
  // No favicon request (a 404 would be a console error in the browser tests).
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title></head>`
    + `<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

async function readForm(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (action === 'login' && req.method === 'POST') {
    const form = await readForm(req);
    const login = form.get('login');
    if (!USERS[login] || form.get('password') !== login) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page('Sign in', '<p role="alert">Unknown user or wrong password.</p>'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name === 'login') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page('Sign in to the test provider', `
      <form method="post" action="/interaction/${uid}/login">
        <p><label for="login">User name</label> <input id="login" name="login" autocomplete="username" required></p>
        <p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
        <p><button type="submit">Sign in</button></p>
      </form>`));
    return;
  }
  // Consent for a first-party client: granted.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope('openid profile offline_access mentorhub');
  grant.addResourceScope(RESOURCE, 'mentorhub');
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function control(req, res, url) {
  const reply = (body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === '/test/stats') return reply({ jwks_fetches: jwksFetches, kids: current.map((k) => k.kid) });
  if (req.method !== 'POST') return reply({ error: 'POST' });
  if (url.pathname === '/test/rotate') {
    previous = current;
    current = newKeys();
    build();
    return reply({ kids: current.map((k) => k.kid) });
  }
  if (url.pathname === '/test/alg') {
    accessTokenAlg = url.searchParams.get('alg') === 'ES256' ? 'ES256' : 'RS256';
    return reply({ alg: accessTokenAlg });
  }
  if (url.pathname === '/test/down') {
    down = url.searchParams.get('on') === '1';
    return reply({ down });
  }
  return reply({ error: 'unknown control' });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith('/test/')) return await control(req, res, url);
    const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login))?$/);
    if (match) return await interaction(req, res, match[1], match[2]);
    if (url.pathname === '/jwks') jwksFetches += 1;
    if (down && (url.pathname === '/jwks' || url.pathname.startsWith('/.well-known/'))) {
      res.writeHead(503);
      res.end();
      return;
    }
    return handler(req, res);
  } catch (error) {
    console.error('provider.mjs:', error);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
});

server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  build();
  console.log(`issuer=${issuer}`);
});
