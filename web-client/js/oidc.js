// Sign-in at the institution's identity provider: OpenID Connect authorization code flow
// with PKCE (S256), as a public client (no secret can be kept in a browser). The server
// says where (`sign_in` in its info: issuer, client id, scopes, resource); the provider's
// discovery document names its endpoints.
//
// The provider sends the browser back to this app's origin with the code in the URL
// fragment (`response_mode=fragment`), which no server sees; `state` (against a forged
// redirect), `iss` (against a mix-up with another provider) and the ID token's `nonce`
// (against a replayed one) are checked before the code counts. The access token (the
// one for this server's audience) is what the server gets; the ID token stays here, for
// the nonce check and the provider's sign-out.

const PENDING = 'mh.oidc.pending';

/** A refusal by the provider (or a broken answer): not worth retrying as it is. */
export class SignInError extends Error {
  constructor(message, code = 'refused') {
    super(message);
    this.code = code;
  }
}

const discovered = new Map();

/** The provider's discovery document; its `issuer` must be the configured one exactly. */
export async function discover(issuer) {
  if (!discovered.has(issuer)) {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    discovered.set(issuer, fetchJson(url).then((doc) => {
      if (doc.issuer !== issuer) throw new SignInError('The identity provider names another issuer.');
      for (const name of ['authorization_endpoint', 'token_endpoint']) {
        if (typeof doc[name] !== 'string') throw new SignInError(`The identity provider has no ${name}.`);
      }
      return doc;
    }).catch((error) => {
      discovered.delete(issuer);
      throw error;
    }));
  }
  return discovered.get(issuer);
}

async function fetchJson(url, init) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-store', ...init });
  } catch {
    throw new SignInError('The identity provider cannot be reached right now.', 'offline');
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok || !body) {
    const reason = body?.error_description || body?.error || `status ${response.status}`;
    throw new SignInError(`The identity provider refused: ${reason}.`, response.status >= 500 ? 'offline' : 'refused');
  }
  return body;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomText(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Where the provider sends the browser back: this app's root (routes live in the fragment). */
export function redirectUri() {
  return `${location.origin}/`;
}

/**
 * Leaves for the provider's sign-in page. What is needed to finish (state, nonce, the PKCE
 * verifier, the screen to return to) waits in this tab's sessionStorage.
 */
export async function beginSignIn(config, returnTo = '') {
  const doc = await discover(config.issuer);
  const verifier = randomText(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const pending = { state: randomText(16), nonce: randomText(16), verifier, issuer: config.issuer, returnTo };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(doc.authorization_endpoint);
  const params = {
    response_type: 'code',
    response_mode: 'fragment',
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  };
  if (config.resource) params.resource = config.resource;
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  location.assign(url.href);
}

/** The provider's answer in a fragment (`#code=…&state=…`, or `#error=…&state=…`), if this is one. */
export function callbackParams(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  return params.has('state') && (params.has('code') || params.has('error')) ? params : null;
}

/** The screen the person was going to before signing in (a hash route), if any. */
export function pendingReturn() {
  try {
    return JSON.parse(sessionStorage.getItem(PENDING) || 'null')?.returnTo || '';
  } catch {
    return '';
  }
}

/** Finishes a sign-in: checks the answer, exchanges the code, checks the ID token. */
export async function completeSignIn(config, params) {
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  } catch {
    pending = null;
  }
  // Single use, whatever happens next.
  sessionStorage.removeItem(PENDING);
  if (!pending || pending.state !== params.get('state') || pending.issuer !== config.issuer) {
    throw new SignInError('This sign-in was not started here, or has already been used. Please sign in again.');
  }
  if (params.has('iss') && params.get('iss') !== config.issuer) {
    throw new SignInError('This answer came from another identity provider. Please sign in again.');
  }
  if (params.has('error')) {
    throw new SignInError(params.get('error_description') || `The identity provider refused: ${params.get('error')}.`);
  }
  const doc = await discover(config.issuer);
  const tokens = await tokenRequest(doc, config, {
    grant_type: 'authorization_code',
    code: params.get('code'),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  const id = tokens.id_token ? claimsOfJwt(tokens.id_token) : null;
  if (!id) throw new SignInError('The identity provider sent no ID token.');
  checkIdToken(id, config);
  if (id.nonce !== pending.nonce) throw new SignInError('The ID token is not for this sign-in.');
  return tokens;
}

/** A new access token from the refresh token (no page change). */
export async function refreshTokens(config, refreshToken) {
  const doc = await discover(config.issuer);
  const tokens = await tokenRequest(doc, config, { grant_type: 'refresh_token', refresh_token: refreshToken });
  if (tokens.id_token) {
    const id = claimsOfJwt(tokens.id_token);
    if (!id) throw new SignInError('The identity provider sent a broken ID token.');
    checkIdToken(id, config);
  }
  return tokens;
}

async function tokenRequest(doc, config, fields) {
  const body = new URLSearchParams({ ...fields, client_id: config.client_id });
  if (config.resource) body.set('resource', config.resource);
  const tokens = await fetchJson(doc.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body,
  });
  if (typeof tokens.access_token !== 'string') throw new SignInError('The identity provider sent no access token.');
  return tokens;
}

// The ID token came straight from the token endpoint over TLS, so its claims are
// trusted without a signature check (OpenID Connect Core 3.1.3.7); they must still be
// for this client from this issuer.
function checkIdToken(id, config) {
  const audiences = Array.isArray(id.aud) ? id.aud : [id.aud];
  if (id.iss !== config.issuer || !audiences.includes(config.client_id)) {
    throw new SignInError('The ID token is not for this app.');
  }
  if (typeof id.exp === 'number' && id.exp * 1000 < Date.now() - 60_000) {
    throw new SignInError('The ID token has expired.');
  }
}

/** A JWT's claims, unverified (null when it is not one). */
export function claimsOfJwt(token) {
  try {
    const part = token.split('.')[1];
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(base64), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** The provider's sign-out page for this session, or null when it has none. */
export async function endSessionUrl(config, idToken) {
  let doc;
  try {
    doc = await discover(config.issuer);
  } catch {
    return null;
  }
  if (typeof doc.end_session_endpoint !== 'string') return null;
  const url = new URL(doc.end_session_endpoint);
  url.searchParams.set('client_id', config.client_id);
  url.searchParams.set('post_logout_redirect_uri', redirectUri());
  if (idToken) url.searchParams.set('id_token_hint', idToken);
  return url.href;
}
