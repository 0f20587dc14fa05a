// The client's picture of the world, built from the `welcome` frame, live frames and
// REST answers: account and settings, conversations (summaries), relationships,
// timelines, typing and presence. It also keeps the last seq seen per conversation
// (sent in `hello` so the server resumes exactly) and a small offline cache so a
// reload without network still shows conversations and recent messages.

import { Emitter } from './dom.js';
import { EVENT_TYPES } from './protocol.js';
import { Timeline } from './timeline.js';

const CACHE_MESSAGES = 100;
const TYPING_TTL_MS = 6000;

export class Store extends Emitter {
  constructor() {
    super();
    this.#reset();
  }

  #reset() {
    this.accountId = null;
    this.account = null;
    this.settings = { read_receipts: false, default_pseudonym: null };
    this.limits = null;
    this.conversations = new Map();
    this.relationships = new Map();
    /** Room invitations awaiting an answer, by room id. */
    this.invitations = new Map();
    this.timelines = new Map();
    this.cursors = {};
    this.typing = new Map();
    this.presence = new Map();
    /** `conversation:seq` of every message this account reported (one report each). */
    this.reported = new Set();
    /** The account's blocks: `conversation:member` → {conversation, member, display_name}. */
    this.blocks = new Map();
    /** The conversation (and thread) on screen: its messages count as read. */
    this.open = null;
  }

  // ---- account switch and offline cache -----------------------------------------

  useAccount(accountId) {
    this.#reset();
    this.accountId = accountId;
    if (!accountId) return;
    try {
      const cache = JSON.parse(localStorage.getItem(this.#cacheKey()) || 'null');
      if (cache) {
        this.account = cache.account || null;
        this.settings = cache.settings || this.settings;
        this.cursors = cache.cursors || {};
        for (const c of cache.conversations || []) this.conversations.set(c.id, c);
        for (const r of cache.relationships || []) this.relationships.set(r.id, r);
        for (const [id, snapshot] of Object.entries(cache.timelines || {})) {
          this.timelines.set(id, Timeline.restore(id, snapshot));
        }
      }
    } catch {
      // A broken cache is only a cache: start empty and let the server fill it.
    }
    this.emit('conversations');
    this.emit('relationships');
  }

  #cacheKey() {
    return `mh.cache.${this.accountId}`;
  }

  /** Writes the cache soon (coalescing bursts of events into one write). */
  persistSoon() {
    if (!this.accountId || this.persistTimer) return;
    this.persistTimer = setTimeout(() => this.persistNow(), 400);
  }

  persistNow() {
    clearTimeout(this.persistTimer);
    this.persistTimer = null;
    if (!this.accountId) return;
    const timelines = {};
    for (const [id, timeline] of this.timelines) timelines[id] = timeline.snapshot(CACHE_MESSAGES);
    const cache = {
      account: this.account,
      settings: this.settings,
      cursors: this.cursors,
      conversations: [...this.conversations.values()],
      relationships: [...this.relationships.values()],
      timelines,
    };
    try {
      localStorage.setItem(this.#cacheKey(), JSON.stringify(cache));
    } catch {
      // Storage full: the cache is an optimisation; the outbox has its own key.
    }
  }

  forget(accountId) {
    localStorage.removeItem(`mh.cache.${accountId}`);
  }

  // ---- what the server told us ----------------------------------------------------

  onWelcome(welcome) {
    this.account = welcome.account;
    this.settings = welcome.settings;
    this.limits = welcome.limits;
    const present = new Set();
    for (const summary of welcome.conversations) {
      present.add(summary.id);
      this.#upsertConversation(summary);
      // Without a cursor the server starts this conversation live, from `last_seq`.
      if (this.cursors[summary.id] === undefined) this.cursors[summary.id] = summary.last_seq;
    }
    for (const id of [...this.conversations.keys()]) {
      if (!present.has(id)) this.#dropConversation(id);
    }
    this.emit('account');
    this.emit('conversations');
    this.persistSoon();
  }

  /** Cursors for `hello`: the last seq seen in each conversation we know. */
  helloCursors() {
    const cursors = {};
    for (const id of this.conversations.keys()) {
      if (this.cursors[id] !== undefined) cursors[id] = this.cursors[id];
    }
    return cursors;
  }

  onFrame(frame) {
    if (EVENT_TYPES.has(frame.type)) return this.#onLiveEvent(frame);
    switch (frame.type) {
      case 'receipt':
        return this.#onReceipt(frame);
      case 'typing':
        return this.#onTyping(frame);
      case 'presence':
        return this.#onPresence(frame);
      case 'relationship':
        return this.upsertRelationship(frame.relationship);
      case 'conversation':
        this.#upsertConversation(frame.conversation);
        this.emit('conversations');
        this.emit(`conversation:${frame.conversation.id}`);
        this.persistSoon();
        return undefined;
      case 'invitation':
        this.invitations.set(frame.invitation.room, frame.invitation);
        this.emit('invitations');
        return undefined;
      case 'report_filed':
      case 'report_closed':
        this.emit('reports', frame);
        return undefined;
      case 'conversation_removed':
        this.#dropConversation(frame.conversation);
        this.emit('conversations');
        this.persistSoon();
        return undefined;
      default:
        return undefined;
    }
  }

  /** A summary from the server replaces ours whole: absent fields mean "false" or
   * "empty" on the wire (e.g. `agreement_required` disappears once accepted). */
  #upsertConversation(summary) {
    const known = this.conversations.get(summary.id);
    const next = { ...summary };
    if (known && known.last_seq > next.last_seq) next.last_seq = known.last_seq;
    this.conversations.set(summary.id, next);
  }

  #dropConversation(id) {
    this.conversations.delete(id);
    this.timelines.delete(id);
    delete this.cursors[id];
    this.emit(`conversation:${id}`);
  }

  upsertRelationship(view) {
    this.relationships.set(view.id, view);
    this.emit('relationships');
    this.emit(`relationship:${view.id}`);
    this.persistSoon();
  }

  setRelationships(list) {
    this.relationships = new Map(list.map((r) => [r.id, r]));
    this.emit('relationships');
    this.persistSoon();
  }

  setInvitations(list) {
    this.invitations = new Map(list.map((i) => [i.room, i]));
    this.emit('invitations');
  }

  dropInvitation(room) {
    this.invitations.delete(room);
    this.emit('invitations');
  }

  setConversations(list) {
    const present = new Set(list.map((c) => c.id));
    for (const summary of list) this.#upsertConversation(summary);
    for (const id of [...this.conversations.keys()]) if (!present.has(id)) this.#dropConversation(id);
    this.emit('conversations');
    this.persistSoon();
  }

  timeline(conversation) {
    let timeline = this.timelines.get(conversation);
    if (!timeline) {
      timeline = new Timeline(conversation);
      this.timelines.set(conversation, timeline);
    }
    return timeline;
  }

  /** A live or catch-up event: it moves the resume cursor. */
  #onLiveEvent(event) {
    const id = event.conversation;
    if (event.seq > (this.cursors[id] || 0)) this.cursors[id] = event.seq;
    const isNew = this.timeline(id).apply(event);
    const summary = this.conversations.get(id);
    if (summary && event.seq > summary.last_seq) summary.last_seq = event.seq;
    if (isNew && event.type === 'message') this.#countUnread(summary, event);
    if (isNew) this.emit('event', event);
    this.emit(`timeline:${id}`, event);
    this.persistSoon();
  }

  /** History pages do not move the cursor: they are the past, not the stream. */
  applyHistory(conversation, events, { hasMore, direction, thread } = {}) {
    const timeline = this.timeline(conversation);
    for (const event of events) timeline.apply(event);
    if (direction === 'before' || direction === 'latest') {
      if (thread === undefined || thread === null) timeline.hasMoreBefore = Boolean(hasMore);
    }
    if (direction === 'latest' && (thread === undefined || thread === null)) timeline.loadedLatest = true;
    if (thread !== undefined && thread !== null) {
      timeline.loadedThreads.add(thread);
      timeline.threadHasMore.set(thread, Boolean(hasMore));
    }
    this.emit(`timeline:${conversation}`);
    this.persistSoon();
  }

  /** Our own message, committed (its ack): shown at once, without waiting for the
   * event to come back. The event, when it comes, is the same seq and changes nothing. */
  applyOwn(item, ack) {
    const summary = this.conversations.get(item.conversation);
    if (!summary) return;
    const message = {
      type: 'message',
      conversation: item.conversation,
      seq: ack.seq,
      sender: summary.me,
      client_id: item.client_id,
      body: item.body,
      ts: ack.ts,
    };
    if (item.thread) message.thread = item.thread;
    this.timeline(item.conversation).apply(message);
    this.emit(`timeline:${item.conversation}`);
    this.persistSoon();
  }

  #countUnread(summary, event) {
    if (!summary || event.sender === summary.me) return;
    const open = this.open;
    // On screen means followed: a person reading further up has not seen what arrives below.
    const onScreen = open && open.conversation === event.conversation && document.visibilityState === 'visible'
      && (open.following?.() ?? true);
    if (event.thread) {
      if (onScreen && open.thread === event.thread) return;
      summary.thread_unread = { ...(summary.thread_unread || {}) };
      summary.thread_unread[event.thread] = (summary.thread_unread[event.thread] || 0) + 1;
    } else {
      if (onScreen) return;
      summary.unread = (summary.unread || 0) + 1;
    }
    this.emit('conversations');
  }

  #onReceipt({ conversation, member, seq, thread }) {
    const summary = this.conversations.get(conversation);
    if (summary && member === summary.me) {
      // Our own read marker moved (maybe on another device): clear badges up to it.
      if (thread) {
        if (summary.thread_unread) delete summary.thread_unread[thread];
      } else if (seq >= summary.read_seq) {
        summary.read_seq = seq;
        const timeline = this.timelines.get(conversation);
        summary.unread = timeline
          ? timeline.main().filter((e) => e.type === 'message' && e.seq > seq && e.sender !== summary.me).length
          : 0;
      }
      this.emit('conversations');
    } else if (!thread) {
      this.timeline(conversation).setReceipt(member, seq);
    }
    this.emit(`timeline:${conversation}`);
    this.persistSoon();
  }

  #onTyping({ conversation, member, thread, active }) {
    if (!this.typing.has(conversation)) this.typing.set(conversation, new Map());
    const typing = this.typing.get(conversation);
    clearTimeout(typing.get(member)?.timer);
    if (active) {
      const timer = setTimeout(() => {
        typing.delete(member);
        this.emit(`typing:${conversation}`);
      }, TYPING_TTL_MS);
      typing.set(member, { thread: thread ?? null, timer });
    } else {
      typing.delete(member);
    }
    this.emit(`typing:${conversation}`);
  }

  #onPresence({ conversation, member, status }) {
    if (!this.presence.has(conversation)) this.presence.set(conversation, new Map());
    this.presence.get(conversation).set(member, status);
    this.emit(`presence:${conversation}`);
    this.emit(`conversation:${conversation}`);
  }

  // ---- safety: what I reported, whom I blocked ---------------------------------------

  setMyReports(list) {
    this.reported = new Set(list.map((r) => `${r.conversation}:${r.seq}`));
    this.emit('safety');
  }

  markReported(conversation, seq) {
    this.reported.add(`${conversation}:${seq}`);
    this.emit('safety');
    this.emit(`timeline:${conversation}`);
  }

  hasReported(conversation, seq) {
    return this.reported.has(`${conversation}:${seq}`);
  }

  setBlocks(list) {
    this.blocks = new Map(list.map((b) => [`${b.conversation}:${b.member}`, b]));
    this.emit('safety');
  }

  /** The blocks made through members of this conversation (the blocked accounts may
   * be elsewhere too; the server applies a block wherever it holds). */
  blocksIn(conversation) {
    return [...this.blocks.values()].filter((b) => b.conversation === conversation);
  }

  // ---- questions views ask ----------------------------------------------------------

  /** Marks what is on screen as read locally (the `read` frame tells the server). */
  markReadLocally(conversation, seq, thread = null) {
    const summary = this.conversations.get(conversation);
    if (!summary) return;
    if (thread) {
      if (summary.thread_unread) delete summary.thread_unread[thread];
    } else {
      summary.unread = 0;
      if (seq > summary.read_seq) summary.read_seq = seq;
    }
    this.emit('conversations');
  }

  member(conversation, memberId) {
    return this.conversations.get(conversation)?.members?.find((m) => m.member === memberId) || null;
  }

  displayName(conversation, memberId) {
    return this.member(conversation, memberId)?.display_name || 'Someone';
  }

  relationshipOf(conversation) {
    for (const r of this.relationships.values()) if (r.conversation === conversation) return r;
    return null;
  }

  /** What to call a conversation: a room's title, or the other parties' names. */
  title(conversation) {
    const summary = this.conversations.get(conversation);
    if (summary?.title) return summary.title;
    const relationship = this.relationshipOf(conversation);
    const me = summary?.me || relationship?.me;
    const others = (summary?.members || relationship?.parties || []).filter((m) => m.member !== me);
    return others.map((m) => m.display_name).join(', ') || 'Conversation';
  }
}
