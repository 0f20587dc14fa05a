// The WebSocket to the hub: hello with the last seq per conversation (so the server
// resumes exactly), reconnect with exponential backoff and full jitter, a client-side
// heartbeat that notices dead links the browser has not noticed, and the browser's own
// online/offline signal (a socket is not even tried while the device says it is offline).
//
// States: `connecting` (first try), `online` (welcome received), `reconnecting`
// (trying again, or waiting to: then the detail carries `retryAt`, when the next try
// starts), `offline` (the device has no network), `stopped` (signed out or waiting for
// a new token).

import { Emitter } from './dom.js';
import { Close, closeAction, frames } from './protocol.js';

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/** Extra time on top of the ping interval before a silent link is declared dead: rural
 * links can take many seconds per round trip, so this is generous. */
const PONG_GRACE_MS = 20_000;
const DEFAULT_PING_MS = 25_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** Full jitter: a random delay in [0, min(cap, base·2^attempt)], so clients that lost
 * the same server do not come back in lock step. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(random() * ceiling);
}

export class Connection extends Emitter {
  /**
   * @param {object} options
   * @param {() => string|null} options.getToken
   * @param {() => Record<string, number>} options.getCursors  last seq seen per conversation
   */
  constructor({ getToken, getCursors, url }) {
    super();
    this.getToken = getToken;
    this.getCursors = getCursors;
    this.url = url || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.state = 'stopped';
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.lastHeard = 0;
    this.pingInterval = DEFAULT_PING_MS;
    this.nextRef = 1;
    this.pending = new Map();
    this.wanted = false;
    this.welcome = null;
    window.addEventListener('online', () => this.#onOnline());
    window.addEventListener('offline', () => this.#onOffline());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#checkAlive();
    });
  }

  get ready() {
    return this.state === 'online' && this.socket?.readyState === WebSocket.OPEN;
  }

  start() {
    this.wanted = true;
    this.attempt = 0;
    this.#connect();
  }

  /** Closes and stays closed (sign-out, or while waiting for a new token). */
  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.#closeSocket(1000, 'client stopped');
    this.#setState('stopped');
  }

  /** Reconnects now (a new token arrived, or the person pressed "retry"). */
  reconnectNow() {
    this.wanted = true;
    clearTimeout(this.retryTimer);
    this.#closeSocket(1000, 'reconnecting');
    this.#connect();
  }

  /** Sends a frame if the session is up; returns whether it was handed to the socket. */
  send(frame) {
    if (!this.ready) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Sends a frame with a fresh `ref` and resolves with the reply that echoes it
   * (`ack`, `ok`, `history`, `threads`, `pong`), or rejects with the `error` frame.
   */
  request(frame) {
    if (!this.ready) return Promise.reject(Object.assign(new Error('not connected'), { code: 'offline' }));
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(Object.assign(new Error('no reply in time'), { code: 'timeout' }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  #setState(state, detail) {
    if (this.state === state && JSON.stringify(this.stateDetail) === JSON.stringify(detail)) return;
    this.state = state;
    this.stateDetail = detail;
    this.emit('state', state, detail);
  }

  #connect() {
    clearTimeout(this.retryTimer);
    if (!this.wanted || this.socket) return;
    if (!navigator.onLine) {
      this.#setState('offline');
      return;
    }
    const token = this.getToken();
    if (!token) {
      this.#setState('stopped');
      return;
    }
    this.#setState(this.welcome ? 'reconnecting' : 'connecting');
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      socket.send(JSON.stringify(frames.hello(token, this.getCursors())));
    });
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.#onFrame(frame);
    });
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.#onClose(event.code, event.reason);
    });
    // An `error` event is always followed by `close`, which decides what happens next.
  }

  #onFrame(frame) {
    if (frame.type === 'welcome') {
      this.welcome = frame;
      this.attempt = 0;
      this.pingInterval = frame.heartbeat?.ping_interval_ms || DEFAULT_PING_MS;
      this.#startHeartbeat();
      this.#setState('online');
      this.emit('welcome', frame);
      return;
    }
    if (frame.ref && this.pending.has(frame.ref)) {
      const { resolve, reject, timer } = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      clearTimeout(timer);
      if (frame.type === 'error') reject(Object.assign(new Error(frame.message), frame));
      else resolve(frame);
    }
    if (frame.type === 'reconnect') {
      // The node is draining: come back (to any node) after the delay it chose for us.
      this.#closeSocket(1000, 'server asked to reconnect');
      const delay = frame.after_ms || 0;
      this.#setState('reconnecting', { retryAt: Date.now() + delay });
      this.retryTimer = setTimeout(() => this.#connect(), delay);
      return;
    }
    this.emit('frame', frame);
  }

  /** Forgets a socket that is gone: heartbeat off, requests in flight rejected. */
  #teardown(code, reason) {
    this.#stopHeartbeat();
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(Object.assign(new Error('disconnected'), { code: 'offline' }));
    }
    this.pending.clear();
    this.emit('closed', code, reason);
  }

  /** The server (or the network) closed the socket: decide what comes next. */
  #onClose(code, reason) {
    this.#teardown(code, reason);
    if (!this.wanted) return;
    if (!navigator.onLine) {
      this.#setState('offline');
      return;
    }
    const action = closeAction(code);
    if (action === 'reauth') {
      this.#setState('stopped', 'reauth');
      this.emit('reauth', code);
    } else if (action === 'stop') {
      this.wanted = false;
      this.#setState('stopped', 'refused');
    } else if (code === Close.SLOW_CONSUMER) {
      // Nothing is lost: resume at once from the last seq seen.
      this.#connect();
    } else {
      this.#scheduleRetry();
    }
  }

  #scheduleRetry() {
    const delay = backoffDelay(this.attempt++);
    this.#setState('reconnecting', { retryAt: Date.now() + delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Closes our socket on purpose; the caller decides what comes next. */
  #closeSocket(code, reason) {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    try {
      socket.close(code === 1000 ? 1000 : 4000, reason);
    } catch {
      // already closing
    }
    this.#teardown(code, reason);
  }

  #startHeartbeat() {
    this.#stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.#checkAlive(), Math.min(this.pingInterval, 10_000));
    this.lastPing = Date.now();
  }

  #stopHeartbeat() {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /** Pings when the link has been quiet for a ping interval; declares it dead when a
   * ping has gone unanswered for the grace period. */
  #checkAlive() {
    if (!this.ready) return;
    const now = Date.now();
    if (now - this.lastHeard > this.pingInterval + PONG_GRACE_MS) {
      this.#closeSocket(4000, 'link silent');
      this.#scheduleRetry();
      return;
    }
    if (now - this.lastHeard >= this.pingInterval && now - this.lastPing >= this.pingInterval) {
      this.lastPing = now;
      this.send(frames.ping());
    }
  }

  #onOffline() {
    // The browser knows the device lost its network: an open socket may linger for
    // minutes before TCP notices, and sends into it would be lost; close it now and
    // let the outbox keep what is written meanwhile.
    clearTimeout(this.retryTimer);
    if (this.socket) this.#closeSocket(1000, 'device offline');
    if (this.wanted) this.#setState('offline');
  }

  #onOnline() {
    if (!this.wanted) return;
    this.attempt = 0;
    this.#connect();
  }
}
