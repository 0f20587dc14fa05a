// A conversation (or one of its threads): header with state and actions, the message
// list, who is typing, and the composer. Rooms show their confidentiality agreement
// first and nothing else until it is accepted.

import { h, render, announce } from '../dom.js';
import { frames } from '../protocol.js';
import { createComposer } from './composer.js';
import { createMessageList } from './message-list.js';
import { blockedNotice, conversationActions, messageActions } from './safety.js';
import { mountAgreementGate, createMemberPanel } from './room.js';

const STATE_TEXT = {
  pending: 'Waiting for an answer',
  active: 'Active',
  read_only: 'Ended — read-only',
  closed: 'Closed',
};

export function mountConversation(view, app, conversationId, threadParam) {
  const { store } = app;
  const thread = threadParam ? Number(threadParam) : null;
  const offs = [];
  let body = null;

  function summary() {
    return store.conversations.get(conversationId);
  }

  function draw() {
    const current = summary();
    if (!current) {
      render(view, h('section', { class: 'card' },
        h('h1', {}, 'Conversation not available'),
        h('p', {}, 'It does not exist, or you are no longer a member.'),
        h('a', { href: '#/' }, 'Back to home')));
      body?.destroy();
      body = null;
      return;
    }
    if (current.kind === 'room' && current.agreement_required) {
      body?.destroy();
      body = null;
      view.replaceChildren();
      mountAgreementGate(view, app, current);
      return;
    }
    if (!body) {
      view.replaceChildren();
      body = createBody(view, app, conversationId, thread);
    }
    body.refresh();
  }

  offs.push(store.on('conversations', draw), store.on(`conversation:${conversationId}`, draw), store.on('relationships', draw), store.on('safety', draw));
  // The page is exactly the screen tall while a conversation is open: only its list scrolls.
  document.body.classList.add('conversation-open');
  draw();
  return () => {
    offs.forEach((off) => off());
    body?.destroy();
    document.body.classList.remove('conversation-open');
    if (store.open?.conversation === conversationId) store.open = null;
  };
}

function createBody(view, app, conversationId, thread) {
  const { store, connection, outbox } = app;
  store.open = { conversation: conversationId, thread, following: () => list.atBottom() };
  const offs = [];
  const title = h('h1', { id: 'conversation-title' });
  const state = h('p', { class: 'conversation-state' });
  const actions = h('div', { class: 'conversation-actions' });
  const back = thread
    ? h('a', { class: 'back', href: `#/c/${conversationId}` }, '← Back to conversation')
    : h('a', { class: 'back', href: '#/' }, '← Home');
  const members = createMemberPanel(app, conversationId);
  const notes = h('div', { class: 'conversation-notes' });
  const list = createMessageList(app, conversationId, {
    thread,
    extraActions: (message) => messageActions(app, conversationId, message),
    onBottom: () => markRead(),
  });
  // Captured before anything is marked read: the list opens at the first unread message.
  const opening = store.conversations.get(conversationId);
  if (!thread && opening?.unread) list.setUnreadAfter(opening.read_seq || 0);
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const composer = createComposer(app, conversationId, { thread });
  const section = h(
    'section',
    { class: 'conversation', 'aria-labelledby': 'conversation-title', dataset: { conversation: conversationId } },
    h('header', { class: 'conversation-header' }, back, h('div', { class: 'title-block' }, title, state), actions),
    notes,
    members.element,
    thread ? h('h2', { class: 'thread-title' }, 'Thread') : null,
    list.element,
    typing,
    composer.element,
  );
  view.append(section);

  let loading = false;
  let threadsLoaded = false;
  async function load() {
    if (!connection.ready || loading) return;
    const current = store.conversations.get(conversationId);
    if (!current || current.state === 'pending') return;
    const timeline = store.timeline(conversationId);
    loading = true;
    try {
      if (thread && !timeline.loadedThreads.has(thread)) {
        const reply = await connection.request(frames.history(conversationId, { thread, limit: 50 }));
        store.applyHistory(conversationId, reply.events, { hasMore: reply.has_more, direction: 'latest', thread });
      }
      if (!thread && !timeline.loadedLatest) {
        const reply = await connection.request(frames.history(conversationId, { limit: 50 }));
        store.applyHistory(conversationId, reply.events, { hasMore: reply.has_more, direction: 'latest' });
        list.reposition();
      }
      if (!threadsLoaded) {
        const reply = await connection.request(frames.threads(conversationId));
        timeline.setThreads(reply.threads);
        threadsLoaded = true;
        list.update();
      }
    } catch (error) {
      if (error.code !== 'offline') console.warn('could not load the conversation', error.code);
    } finally {
      loading = false;
    }
    markRead();
  }

  let threadReadSent = 0;
  /** Messages count as read once the newest is in view: not while the person reads
   * further up (the pill counts what waits below). */
  function markRead() {
    const current = store.conversations.get(conversationId);
    if (!current || !connection.ready || document.visibilityState !== 'visible') return;
    if (!list.atBottom()) return;
    if (current.state === 'pending' || current.agreement_required) return;
    const timeline = store.timeline(conversationId);
    const seq = timeline.latestMessageSeq(thread);
    if (!seq) return;
    if (thread) {
      if (seq <= threadReadSent && !current.thread_unread?.[thread]) return;
      threadReadSent = seq;
    } else if (seq <= current.read_seq && !current.unread) {
      return;
    }
    connection.send(frames.read(conversationId, seq, thread ?? undefined));
    store.markReadLocally(conversationId, seq, thread);
  }

  function drawTyping() {
    const current = store.conversations.get(conversationId);
    const typingHere = [...(store.typing.get(conversationId) || new Map())]
      .filter(([member, info]) => member !== current?.me && (info.thread ?? null) === thread)
      .map(([member]) => store.displayName(conversationId, member));
    typing.textContent = typingHere.length ? `${typingHere.join(', ')} ${typingHere.length === 1 ? 'is' : 'are'} typing…` : '';
  }

  function drawActions() {
    const current = store.conversations.get(conversationId);
    if (!current) return;
    // Redrawn on every change (calls, connection): a menu the person opened stays open.
    const wasOpen = actions.querySelector('details.menu[open]') !== null;
    render(actions, conversationActions(app, current));
    if (wasOpen) actions.querySelector('details.menu').open = true;
    // The private end note, shown to the one who wrote it (nobody else receives it).
    const note = store.relationshipOf(conversationId)?.my_note;
    render(notes,
      note ? h('p', { class: 'conversation-note' }, h('strong', {}, 'Your private note: '), note) : null,
      blockedNotice(app, current));
  }

  function refresh() {
    const current = store.conversations.get(conversationId);
    title.textContent = store.title(conversationId);
    document.title = `${title.textContent} — Mentorhub`;
    const me = current.members?.find((m) => m.member === current.me);
    state.textContent = STATE_TEXT[current.state] || current.state;
    drawActions();
    members.update();
    if (current.state === 'pending') composer.setWritable(false, 'You can write once the request is accepted.');
    else if (current.state === 'read_only') composer.setWritable(false, 'This conversation has ended and is read-only.');
    else if (current.state !== 'active') composer.setWritable(false, 'This conversation is closed.');
    else if (me?.muted) composer.setWritable(false, 'The facilitator has muted you in this room.');
    else composer.setWritable(true);
    list.update();
    drawTyping();
    load();
  }

  offs.push(
    store.on(`timeline:${conversationId}`, (event) => {
      list.update();
      markRead();
      // A reply lands in its thread, not in this list: say so (the reply count shows it too).
      const current = store.conversations.get(conversationId);
      if (event?.type === 'message' && event.thread && event.thread !== thread && event.sender !== current?.me) {
        announce(`${store.displayName(conversationId, event.sender)} replied in a thread.`);
      }
    }),
    store.on(`typing:${conversationId}`, drawTyping),
    store.on(`presence:${conversationId}`, () => members.update()),
    outbox.on('changed', () => list.update()),
    connection.on('state', () => {
      list.update();
      drawActions();
    }),
    app.calls.on('changed', () => drawActions()),
    connection.on('welcome', () => {
      threadsLoaded = false;
      load();
    }),
  );
  const onVisible = () => markRead();
  document.addEventListener('visibilitychange', onVisible);
  // One's own message always brings the list to the bottom.
  composer.element.addEventListener('submit', () => setTimeout(() => list.scrollToEnd(), 0));
  // A keyboard user lands in the composer; on a touch screen focusing it would pop
  // the keyboard over the conversation the person came to read.
  if (window.matchMedia('(pointer: fine)').matches) composer.focus();

  return {
    refresh,
    destroy() {
      offs.forEach((off) => off());
      document.removeEventListener('visibilitychange', onVisible);
      composer.destroy();
      if (store.open?.conversation === conversationId) store.open = null;
    },
  };
}

