// Who is signed in: the token and what it says, kept in localStorage so a reload (even
// offline) stays signed in. Where the server configures it, people sign in at the
// institution's identity provider (oidc.js) and the access token is renewed with the
// refresh token before it expires; with `--dev` the server mints tokens for any name;
// otherwise the institution's login hands a token over (`/#token=…`, or pasted on the
// sign-in screen).

import { Emitter } from './dom.js';
import { beginSignIn, claimsOfJwt, completeSignIn, endSessionUrl, refreshTokens } from './oidc.js';

const KEY = 'mh.session';

/** Reads a JWT's claims without verifying it (the server verifies; the client only needs `exp`, `name`, `roles`). */
export const claimsOf = claimsOfJwt;

function rolesOf(claims) {
  const roles = [];
  const add = (r) => typeof r === 'string' && !roles.includes(r) && roles.push(r);
  if (Array.isArray(claims.roles)) claims.roles.forEach(add);
  else add(claims.roles);
  add(claims.role);
  return roles;
}

export class Session extends Emitter {
  constructor(api) {
    super();
    this.api = api;
    this.current = null;
    /** A pending request for a new token (non-dev), resolved by `provideToken`. */
    this.tokenWaiters = [];
    /** The server's `sign_in` (issuer, client id, scopes, resource), when it offers one. */
    this.signIn = null;
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(KEY) || 'null');
      if (saved?.token && claimsOf(saved.token)) this.current = saved;
    } catch {
      this.current = null;
    }
    return this.current;
  }

  get token() {
    return this.current?.token || null;
  }

  get account() {
    return this.current?.account || null;
  }

  /** Seconds since the epoch when the token expires (0 when unknown). */
  get expiresAt() {
    return claimsOf(this.token || '')?.exp || 0;
  }

  /**
   * Accepts a token (from the identity provider, handed over or pasted). `oidc` keeps what
   * renews it: the refresh token and the ID token (for the provider's sign-out).
   */
  useToken(token, dev = null, oidc = null) {
    const claims = claimsOf(token.trim());
    if (!claims?.sub || !claims?.exp) throw new Error('This does not look like a Mentorhub token.');
    if (claims.exp * 1000 <= Date.now()) throw new Error('This token has expired; ask for a new one.');
    this.current = {
      token: token.trim(),
      account: claims.sub,
      name: claims.name || claims.sub,
      roles: rolesOf(claims),
      dev,
      oidc,
    };
    localStorage.setItem(KEY, JSON.stringify(this.current));
    this.emit('changed', this.current);
    for (const resolve of this.tokenWaiters.splice(0)) resolve(this.current.token);
    return this.current;
  }

  /** `--dev` only: signs in as any name with the chosen roles. */
  async devLogin(name, roles) {
    const reply = await this.api.post('/dev/login', { name, roles });
    return this.useToken(reply.token, { name, roles });
  }

  /** Leaves for the identity provider's sign-in page; back at `returnTo` (a hash route). */
  signInAtProvider(returnTo = '') {
    return beginSignIn(this.signIn, returnTo);
  }

  /** Finishes a sign-in the provider sent the browser back from (`params`: the fragment's). */
  async completeSignIn(params) {
    const tokens = await completeSignIn(this.signIn, params);
    return this.useProviderTokens(tokens, null);
  }

  useProviderTokens(tokens, previous) {
    if (!claimsOf(tokens.access_token)?.sub) {
      // An opaque token, or one for the provider's own API: the server could not use it.
      throw new Error('The identity provider sent an access token this server cannot read: ask the operator to check oidc_resource and oidc_scopes.');
    }
    return this.useToken(tokens.access_token, null, {
      refresh: tokens.refresh_token || previous?.refresh || null,
      idToken: tokens.id_token || previous?.idToken || null,
    });
  }

  /** Seconds from now until the token should be renewed in the background (null: never). */
  get renewIn() {
    if (!this.current?.oidc?.refresh || !this.signIn) return null;
    const claims = claimsOf(this.token) || {};
    const lifetime = claims.iat ? claims.exp - claims.iat : 300;
    // A margin before expiry that suits short-lived tokens as well as hour-long ones.
    const margin = Math.min(120, Math.max(10, lifetime / 4));
    return Math.max(0, claims.exp - margin - Date.now() / 1000);
  }

  /**
   * A fresh token for the same account: with the identity provider's refresh token
   * (without leaving the page); in dev mode by signing in again under the same name;
   * otherwise by asking the person (the `token-needed` event shows the prompt: sign in
   * again at the provider, or paste a token) and waiting until they do.
   */
  async renew() {
    const oidc = this.current?.oidc;
    if (oidc?.refresh && this.signIn) {
      try {
        const before = this.account;
        const tokens = await refreshTokens(this.signIn, oidc.refresh);
        const claims = claimsOf(tokens.access_token);
        if (claims?.sub === before) {
          this.useProviderTokens(tokens, oidc);
          return this.token;
        }
      } catch (error) {
        if (error.code === 'offline') throw error;
        // Refused (revoked, expired, the provider forgot it): sign in again.
      }
    }
    const dev = this.current?.dev;
    if (dev) {
      try {
        const before = this.account;
        await this.devLogin(dev.name, dev.roles);
        if (this.account === before) return this.token;
      } catch (error) {
        if (error.code === 'offline') throw error;
      }
    }
    const waiting = new Promise((resolve) => this.tokenWaiters.push(resolve));
    this.emit('token-needed');
    return waiting;
  }

  /**
   * Forgets the tokens. Resolves to the identity provider's sign-out page for this
   * session (where the caller sends the browser), or null when there is none.
   */
  async signOut() {
    const account = this.account;
    const idToken = this.current?.oidc?.idToken;
    const leave = this.current?.oidc && this.signIn ? endSessionUrl(this.signIn, idToken) : null;
    this.current = null;
    localStorage.removeItem(KEY);
    this.emit('changed', null, account);
    return leave;
  }

  hasRole(role) {
    return Boolean(this.current?.roles?.includes(role));
  }
}
