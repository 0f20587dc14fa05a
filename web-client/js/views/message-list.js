// The message list of a conversation or of one thread: committed messages from the
// timeline plus the outbox's unsent ones, each with its delivery state
// (sending → sent → read), edit/delete for one's own, replies for top-level messages.
// Rows are keyed and only changed rows are rebuilt, so keyboard focus stays put.

import { h, formatTime } from '../dom.js';
import { errorText, frames } from '../protocol.js';

export function createMessageList(app, conversation, { thread = null, extraActions = () => [] } = {}) {
  const { store, outbox, connection } = app;
  const list = h('ol', { class: 'messages', 'aria-label': thread ? 'Thread' : 'Messages' });
  const earlier = h('button', { type: 'button', class: 'link-button load-earlier', onclick: () => loadEarlier() }, 'Load earlier messages');
  const status = h('p', { class: 'muted list-status', role: 'status' });
  const scroller = h('div', { class: 'scroller', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions' }, earlier, status, list);
  const rows = new Map();
  let editing = null;
  let loadingEarlier = false;

  const summary = () => store.conversations.get(conversation);
  const me = () => summary()?.me;

  function deliveryOf(message) {
    const timeline = store.timeline(conversation);
    if (message.sender !== me()) return null;
    return timeline.readByOthers(message.seq, me()) ? 'read' : 'sent';
  }

  function pendingState(item) {
    if (item.status === 'failed') return 'failed';
    if (!connection.ready) return 'queued';
    return 'sending';
  }

  const DELIVERY_TEXT = { queued: 'Waiting for connection', sending: 'Sending…', sent: 'Sent', read: 'Read', failed: 'Not sent' };

  function messageRow(message) {
    if (message.type === 'system') {
      return h('li', { class: 'system', dataset: { seq: message.seq } },
        systemText(message, (member) => store.displayName(conversation, member)));
    }
    const mine = message.sender === me();
    const delivery = deliveryOf(message);
    const replies = store.timeline(conversation).threads.get(message.seq)?.replies || 0;
    const isRoot = thread !== null && message.seq === thread;
    const actions = [];
    if (!message.deleted && !thread && !message.thread) {
      actions.push(
        h('a', { class: 'button small', href: `#/c/${conversation}/t/${message.seq}`, 'aria-label': replies ? `${replies} ${replies === 1 ? 'reply' : 'replies'}, open thread` : 'Reply in thread' },
          replies ? `${replies} ${replies === 1 ? 'reply' : 'replies'}` : 'Reply'),
      );
    }
    if (mine && !message.deleted && !isRoot) {
      actions.push(h('button', { type: 'button', class: 'small', onclick: () => startEdit(message.seq) }, 'Edit'));
      actions.push(h('button', { type: 'button', class: 'small', onclick: () => remove(message.seq) }, 'Delete'));
    }
    if (!mine && !message.deleted) actions.push(...extraActions(message));
    let body;
    if (message.deleted) body = h('p', { class: 'body deleted' }, 'Message deleted');
    else if (editing === message.seq) body = editForm(message);
    else body = h('p', { class: 'body' }, message.body ?? '');
    return h(
      'li',
      { class: `message${mine ? ' mine' : ''}`, dataset: { seq: message.seq, delivery: delivery || '' } },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'sender' }, mine ? 'You' : store.displayName(conversation, message.sender)),
        h('time', { datetime: new Date(message.ts).toISOString() }, formatTime(message.ts)),
        message.edited_at && !message.deleted ? h('span', { class: 'edited' }, '(edited)') : null,
      ),
      body,
      h(
        'div',
        { class: 'footer' },
        delivery ? h('span', { class: `delivery delivery-${delivery}` }, DELIVERY_TEXT[delivery]) : null,
        actions.length ? h('div', { class: 'message-actions' }, actions) : null,
      ),
    );
  }

  function pendingRow(item) {
    const state = pendingState(item);
    return h(
      'li',
      { class: 'message mine pending', dataset: { clientId: item.client_id, delivery: state } },
      h('div', { class: 'meta' }, h('span', { class: 'sender' }, 'You'), h('time', {}, formatTime(item.created_at))),
      h('p', { class: 'body' }, item.body),
      h(
        'div',
        { class: 'footer' },
        h('span', { class: `delivery delivery-${state}` }, state === 'failed' ? `Not sent: ${errorText(item.error)}` : DELIVERY_TEXT[state]),
        state === 'failed'
          ? h(
            'div',
            { class: 'message-actions' },
            h('button', { type: 'button', class: 'small', onclick: () => outbox.retry(item.client_id) }, 'Retry'),
            h('button', { type: 'button', class: 'small', onclick: () => outbox.discard(item.client_id) }, 'Discard'),
          )
          : null,
      ),
    );
  }

  function signature(message) {
    if (message.type === 'system') return `s${message.seq}`;
    const timeline = store.timeline(conversation);
    return JSON.stringify([
      message.body, message.edited_at, message.deleted, deliveryOf(message),
      timeline.threads.get(message.seq)?.replies || 0, editing === message.seq,
      store.displayName(conversation, message.sender),
    ]);
  }

  function editForm(message) {
    const input = h('textarea', { class: 'edit-input', rows: 2, 'aria-label': 'Edit message', value: message.body || '' });
    const form = h(
      'form',
      {
        class: 'edit-form',
        onsubmit: async (event) => {
          event.preventDefault();
          const body = input.value.trim();
          if (!body) return;
          try {
            await connection.request(frames.edit(conversation, message.seq, body));
            editing = null;
            update();
          } catch (error) {
            alert(errorText(error.code, error.message));
          }
        },
        onkeydown: (event) => {
          if (event.key === 'Escape') {
            editing = null;
            update();
          }
        },
      },
      input,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'small primary' }, 'Save'),
        h('button', { type: 'button', class: 'small', onclick: () => { editing = null; update(); } }, 'Cancel')),
    );
    setTimeout(() => input.focus(), 0);
    return form;
  }

  function startEdit(seq) {
    editing = seq;
    update();
  }

  async function remove(seq) {
    if (!confirm('Delete this message for everyone?')) return;
    try {
      await connection.request(frames.delete(conversation, seq));
    } catch (error) {
      alert(errorText(error.code, error.message));
    }
  }

  async function loadEarlier() {
    if (loadingEarlier || !connection.ready) return;
    loadingEarlier = true;
    const timeline = store.timeline(conversation);
    const oldest = thread ? Math.min(...timeline.thread(thread).filter((e) => e.seq !== thread).map((e) => e.seq)) : timeline.oldest;
    const before = Number.isFinite(oldest) ? oldest : undefined;
    const height = scroller.scrollHeight;
    try {
      const reply = await connection.request(frames.history(conversation, { before, limit: 50, thread: thread ?? undefined }));
      store.applyHistory(conversation, reply.events, { hasMore: reply.has_more, direction: 'before', thread });
      scroller.scrollTop += scroller.scrollHeight - height;
    } catch (error) {
      status.textContent = errorText(error.code, error.message);
    } finally {
      loadingEarlier = false;
    }
  }

  /** Brings the rows in line with the timeline and the outbox. */
  function update() {
    const timeline = store.timeline(conversation);
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    const wanted = [];
    for (const message of thread ? timeline.thread(thread) : timeline.main()) {
      wanted.push([`s${message.seq}`, signature(message), () => messageRow(message)]);
    }
    for (const item of outbox.forConversation(conversation, thread)) {
      if (item.seq) continue;
      wanted.push([`c${item.client_id}`, `${item.status}${pendingState(item)}${item.error}`, () => pendingRow(item)]);
    }
    const keep = new Set(wanted.map(([key]) => key));
    for (const [key, row] of rows) {
      if (!keep.has(key)) {
        row.node.remove();
        rows.delete(key);
      }
    }
    let previous = null;
    for (const [key, sig, build] of wanted) {
      let row = rows.get(key);
      if (!row || row.sig !== sig) {
        const node = build();
        if (row) row.node.replaceWith(node);
        row = { sig, node };
        rows.set(key, row);
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== row.node) list.insertBefore(row.node, expected);
      previous = row.node;
    }
    earlier.hidden = thread
      ? !timeline.loadedThreads.has(thread) || !timeline.threadHasMore.get(thread)
      : !timeline.hasMoreBefore || !timeline.loadedLatest;
    status.textContent = wanted.length ? '' : timeline.loadedLatest || thread ? 'No messages yet.' : 'Loading…';
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  return { element: scroller, update, scrollToEnd: () => { scroller.scrollTop = scroller.scrollHeight; } };
}

function systemText(event, nameOf) {
  const e = event.event || {};
  const who = e.display_name || (e.member ? nameOf(e.member) : 'A member');
  const texts = {
    room_created: 'The room was created.',
    relationship_active: 'The mentoring relationship started.',
    relationship_ended: 'The mentoring relationship ended. The conversation is now read-only.',
    member_joined: `${who} joined.`,
    member_left: `${who} left.`,
    member_removed: `${who} was removed.`,
    member_muted: `${who} was muted.`,
    member_unmuted: `${who} can write again.`,
    identity_revealed: `A member revealed their identity: ${who}.`,
    agreement_accepted: `${who} accepted the agreement.`,
    role_changed: `${who} is now ${e.role === 'facilitator' ? 'a facilitator' : 'a member'}.`,
  };
  return texts[e.kind] || (e.kind ? e.kind.replace(/_/g, ' ') : 'Update');
}
