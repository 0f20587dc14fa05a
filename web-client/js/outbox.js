// Messages written but not yet acknowledged by the server. Kept in localStorage (per
// account) so they survive a reload or a crash while offline, and sent with their
// client ids when the connection is back: the server answers a repeated client id with
// the original ack, so each message exists exactly once however often it is sent.

import { Emitter, randomId } from './dom.js';
import { RETRYABLE, frames } from './protocol.js';

/** Sends in flight at once: enough to drain a queue quickly on a long round trip,
 * few enough to stay under the server's burst limit. */
const WINDOW = 8;

export class Outbox extends Emitter {
  constructor(connection) {
    super();
    this.connection = connection;
    this.key = null;
    /** @type {Array<{client_id, conversation, body, thread, created_at, status, error?}>} */
    this.items = [];
    this.inFlight = new Set();
    this.retryTimer = null;
    connection.on('welcome', () => this.flush());
    connection.on('closed', () => {
      this.inFlight.clear();
      for (const item of this.items) if (item.status === 'sending') item.status = 'queued';
      this.emit('changed');
    });
  }

  /** Switches to an account's queue (on sign-in), or to none (on sign-out). */
  useAccount(account) {
    this.key = account ? `mh.outbox.${account}` : null;
    this.inFlight.clear();
    try {
      this.items = this.key ? JSON.parse(localStorage.getItem(this.key) || '[]') : [];
    } catch {
      this.items = [];
    }
    for (const item of this.items) if (item.status === 'sending') item.status = 'queued';
    this.emit('changed');
  }

  #save() {
    if (!this.key) return;
    if (this.items.length) localStorage.setItem(this.key, JSON.stringify(this.items));
    else localStorage.removeItem(this.key);
  }

  forConversation(conversation, thread = null) {
    return this.items.filter((i) => i.conversation === conversation && (i.thread ?? null) === thread);
  }

  /** Queues a message and sends it at once when possible. Returns its client id. */
  add(conversation, body, thread = null) {
    const item = {
      client_id: randomId('c'),
      conversation,
      body,
      thread,
      created_at: Date.now(),
      status: 'queued',
    };
    this.items.push(item);
    this.#save();
    this.emit('changed');
    this.flush();
    return item.client_id;
  }

  discard(clientId) {
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this.#save();
    this.emit('changed');
  }

  retry(clientId) {
    const item = this.items.find((i) => i.client_id === clientId);
    if (item) {
      item.status = 'queued';
      delete item.error;
      this.#save();
      this.emit('changed');
      this.flush();
    }
  }

  /** The server committed a message with this client id (its ack, or the message
   * event itself arriving first): it leaves the queue. */
  committed(clientId) {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    this.inFlight.delete(clientId);
    if (this.items.length !== before) {
      this.#save();
      this.emit('changed');
    }
    this.flush();
  }

  flush() {
    if (!this.connection.ready) return;
    for (const item of this.items) {
      if (this.inFlight.size >= WINDOW) break;
      if (item.status !== 'queued') continue;
      this.#sendOne(item);
    }
  }

  #sendOne(item) {
    item.status = 'sending';
    this.inFlight.add(item.client_id);
    this.emit('changed');
    this.connection
      .request(frames.send(item.conversation, item.client_id, item.body, item.thread))
      .then((ack) => {
        this.emit('acked', item, ack);
        this.committed(item.client_id);
      })
      .catch((error) => {
        this.inFlight.delete(item.client_id);
        if (!this.items.includes(item)) return;
        if (error.code === 'offline' || error.code === 'timeout' || RETRYABLE.has(error.code)) {
          // Sent or not, it is safe to send again: the client id makes it idempotent.
          item.status = 'queued';
          const wait = error.retry_after_ms || (error.code === 'offline' ? 0 : 2000);
          if (error.code !== 'offline') this.#retryLater(wait);
        } else {
          item.status = 'failed';
          item.error = error.code;
        }
        this.#save();
        this.emit('changed');
      });
  }

  #retryLater(ms) {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(), ms);
  }
}
