// Who is signed in: the token and what it says, kept in localStorage so a reload (even
// offline) stays signed in. With `--dev` the server mints tokens for any name; otherwise
// the institution's login hands a token over (`/#token=…`, or pasted on the sign-in screen).

import { Emitter } from './dom.js';

const KEY = 'mh.session';

/** Reads a JWT's claims without verifying it (the server verifies; the client only needs `exp`, `name`, `roles`). */
export function claimsOf(token) {
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

  /** Accepts a token (handed over by the institution's login or pasted). */
  useToken(token, dev = null) {
    const claims = claimsOf(token.trim());
    if (!claims?.sub || !claims?.exp) throw new Error('This does not look like a Mentorhub token.');
    if (claims.exp * 1000 <= Date.now()) throw new Error('This token has expired; ask for a new one.');
    this.current = {
      token: token.trim(),
      account: claims.sub,
      name: claims.name || claims.sub,
      roles: rolesOf(claims),
      dev,
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

  /**
   * A fresh token for the same account: in dev mode by signing in again under the same
   * name; otherwise by asking the person for a new token (the `token-needed` event shows
   * the prompt) and waiting until they provide it.
   */
  async renew() {
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

  signOut() {
    const account = this.account;
    this.current = null;
    localStorage.removeItem(KEY);
    this.emit('changed', null, account);
  }

  hasRole(role) {
    return Boolean(this.current?.roles?.includes(role));
  }
}
