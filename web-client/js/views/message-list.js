// The message list of a conversation or of one thread: committed messages from the
// timeline plus the outbox's unsent ones, each with its delivery state
// (sending → sent → read), edit/delete for one's own, replies for top-level messages.
// Rows are keyed and only changed rows are rebuilt, so keyboard focus stays put.
// The list scrolls in its own box: it opens at the first unread message (or the
// newest), follows new messages while the person is at the bottom, and otherwise shows
// a "new messages ↓" pill. A message's actions appear when it is tapped or
// long-pressed (hovered or focused with a mouse or keyboard), not on every message.

import { bodyBudget, bodyToSend, budgetText, maxBodyBytes } from '../body-limit.js';
import { h, formatTime } from '../dom.js';
import { errorText, frames } from '../protocol.js';
import { ask, tell } from './dialog.js';

const AT_BOTTOM_PX = 40;
const LONG_PRESS_MS = 450;

export function createMessageList(app, conversation, { thread = null, extraActions = () => [], onBottom = () => {} } = {}) {
  const { store, outbox, connection } = app;
  const list = h('ol', { class: 'messages', 'aria-label': thread ? 'Thread' : 'Messages' });
  const earlier = h('button', { type: 'button', class: 'link-button load-earlier', onclick: () => loadEarlier() }, 'Load earlier messages');
  const status = h('p', { class: 'muted list-status', role: 'status' });
  const scroller = h('div', { class: 'scroller', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0', 'aria-label': thread ? 'Thread replies' : 'Conversation' }, earlier, status, list);
  const pill = h('button', { type: 'button', class: 'primary small new-messages', hidden: true, onclick: () => scrollToEnd() }, 'New messages ↓');
  const element = h('div', { class: 'list-box' }, scroller, pill);
  const rows = new Map();
  let editing = null;
  let loadingEarlier = false;
  let openActions = null;
  let unseenBelow = 0;
  /** Top-level messages after this seq are shown below a "New messages" divider. */
  let unreadAfter = null;
  let positioned = false;

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

  const writable = () => summary()?.state === 'active';
  const reportedByMe = (seq) => store.hasReported(conversation, seq);

  function threadLink(message, replies) {
    const fresh = summary()?.thread_unread?.[message.seq] || 0;
    const count = `${replies} ${replies === 1 ? 'reply' : 'replies'}`;
    return h('a', { class: 'thread-link', href: `#/c/${conversation}/t/${message.seq}`, 'aria-label': `${count}${fresh ? `, ${fresh} new` : ''}, open thread` },
      `${count}${fresh ? ` · ${fresh} new` : ''} →`);
  }

  function messageRow(message) {
    if (message.type === 'system') {
      return h('li', { class: 'system', dataset: { seq: message.seq } },
        systemText(message, (member) => store.displayName(conversation, member)));
    }
    const mine = message.sender === me();
    const delivery = deliveryOf(message);
    const replies = store.timeline(conversation).threads.get(message.seq)?.replies || 0;
    const isRoot = thread !== null && message.seq === thread;
    const reported = !mine && reportedByMe(message.seq);
    const actions = [];
    // Ended conversations are read-only: no reply, edit or delete (a report still can be made).
    if (writable() && !message.deleted && !thread && !message.thread) {
      actions.push(h('a', { class: 'button small', href: `#/c/${conversation}/t/${message.seq}`, 'aria-label': 'Reply in thread' }, 'Reply'));
    }
    if (writable() && mine && !message.deleted && !isRoot) {
      actions.push(h('button', { type: 'button', class: 'small', onclick: () => startEdit(message.seq) }, 'Edit'));
      actions.push(h('button', { type: 'button', class: 'small', onclick: () => remove(message.seq) }, 'Delete'));
    }
    if (!mine && !message.deleted && !reported) actions.push(...extraActions(message));
    let body;
    if (message.deleted) body = h('p', { class: 'body deleted' }, 'Message deleted');
    else if (editing === message.seq) body = editForm(message);
    else body = h('p', { class: 'body' }, message.body ?? '');
    const row = h(
      'li',
      { class: `message${mine ? ' mine' : ''}${reported ? ' reported' : ''}`, dataset: { seq: message.seq, delivery: delivery || '' } },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'sender' }, mine ? 'You' : store.displayName(conversation, message.sender)),
        h('time', { datetime: new Date(message.ts).toISOString() }, formatTime(message.ts)),
        message.edited_at && !message.deleted ? h('span', { class: 'edited' }, '(edited)') : null,
        reported ? h('span', { class: 'reported-tag' }, 'Reported') : null,
      ),
      body,
      h(
        'div',
        { class: 'footer' },
        delivery ? h('span', { class: `delivery delivery-${delivery}` }, DELIVERY_TEXT[delivery]) : null,
        replies && !thread ? threadLink(message, replies) : null,
        actions.length ? h('div', { class: 'message-actions on-demand' }, actions) : null,
      ),
    );
    if (actions.length) revealActionsOnTap(row, message.seq);
    return row;
  }

  /** A tap toggles the message's actions (one message at a time); so does a long
   * press, which on phones would otherwise select text. */
  function revealActionsOnTap(row, seq) {
    let pressTimer = null;
    let longPressed = false;
    const toggle = () => {
      const opening = openActions !== seq;
      openActions = opening ? seq : null;
      for (const other of list.querySelectorAll('.message.show-actions')) other.classList.remove('show-actions');
      row.classList.toggle('show-actions', opening);
    };
    row.addEventListener('click', (event) => {
      if (longPressed) { longPressed = false; return; }
      if (event.target.closest('a, button, textarea, input, form')) return;
      if (window.getSelection()?.toString()) return;
      toggle();
    });
    row.addEventListener('pointerdown', (event) => {
      if (event.pointerType === 'mouse' || event.target.closest('a, button, textarea')) return;
      pressTimer = setTimeout(() => { longPressed = true; toggle(); }, LONG_PRESS_MS);
    });
    for (const end of ['pointerup', 'pointercancel', 'pointerleave']) row.addEventListener(end, () => clearTimeout(pressTimer));
    row.addEventListener('contextmenu', (event) => { if (event.pointerType !== 'mouse') event.preventDefault(); });
    if (openActions === seq) row.classList.add('show-actions');
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
      store.displayName(conversation, message.sender), writable(), reportedByMe(message.seq),
      summary()?.thread_unread?.[message.seq] || 0,
    ]);
  }

  function editForm(message) {
    const input = h('textarea', { class: 'edit-input', rows: 2, 'aria-label': 'Edit message', value: message.body || '' });
    const budget = h('p', { class: 'composer-budget', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', class: 'small primary' }, 'Save');
    const checkBudget = () => {
      const state = bodyBudget(input.value, maxBodyBytes(store));
      budget.textContent = budgetText(state);
      budget.classList.toggle('over', state.over);
      save.disabled = state.over;
      return state;
    };
    input.addEventListener('input', checkBudget);
    const form = h(
      'form',
      {
        class: 'edit-form',
        onsubmit: async (event) => {
          event.preventDefault();
          const state = checkBudget();
          if (state.blank || state.over) return;
          const body = bodyToSend(input.value);
          try {
            await connection.request(frames.edit(conversation, message.seq, body));
            editing = null;
            update();
          } catch (error) {
            tell(errorText(error.code, error.message));
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
      budget,
      h('div', { class: 'actions' },
        save,
        h('button', { type: 'button', class: 'small', onclick: () => { editing = null; update(); } }, 'Cancel')),
    );
    checkBudget();
    setTimeout(() => input.focus(), 0);
    return form;
  }

  function startEdit(seq) {
    editing = seq;
    update();
  }

  async function remove(seq) {
    const answer = await ask({ title: 'Delete this message for everyone?', text: 'Everyone here will see “Message deleted” in its place.', confirm: 'Delete', danger: true });
    if (!answer) return;
    try {
      await connection.request(frames.delete(conversation, seq));
    } catch (error) {
      tell(errorText(error.code, error.message));
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

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < AT_BOTTOM_PX;

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
    unseenBelow = 0;
    drawPill();
  }

  function drawPill() {
    pill.hidden = unseenBelow === 0;
    pill.textContent = unseenBelow === 1 ? '1 new message ↓' : `${unseenBelow} new messages ↓`;
  }

  scroller.addEventListener('scroll', () => {
    if (!atBottom()) return;
    if (unseenBelow) {
      unseenBelow = 0;
      drawPill();
    }
    onBottom();
  }, { passive: true });

  /** Where the list opens: at the first unread message (below a divider), else at the
   * newest. Done once, when there is something to show. */
  function position() {
    if (positioned || !list.firstChild) return;
    positioned = true;
    const divider = list.querySelector('.unread-divider');
    if (divider) scroller.scrollTop = Math.max(0, divider.offsetTop - scroller.offsetTop - 8);
    else scrollToEnd();
  }

  function dividerBefore(message) {
    return unreadAfter !== null && !thread && message.type === 'message' && message.sender !== me() && message.seq > unreadAfter;
  }

  /** Brings the rows in line with the timeline and the outbox. */
  function update() {
    const timeline = store.timeline(conversation);
    const wasAtBottom = atBottom();
    const before = rows.size;
    const wanted = [];
    let dividerPlaced = false;
    for (const message of thread ? timeline.thread(thread) : timeline.main()) {
      if (!dividerPlaced && dividerBefore(message)) {
        dividerPlaced = true;
        wanted.push(['divider', `d${unreadAfter}`, () => h('li', { class: 'unread-divider' }, 'New messages')]);
      }
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
    if (!positioned) {
      position();
    } else if (wasAtBottom) {
      scrollToEnd();
    } else if (rows.size > before && !loadingEarlier) {
      unseenBelow += rows.size - before;
      drawPill();
    }
  }

  return {
    element,
    update,
    scrollToEnd,
    /** Whether the newest message is in view (what counts as having read it). */
    atBottom,
    /** Messages after `seq` count as unread when the list opens (null: none). */
    setUnreadAfter(seq) { unreadAfter = seq; },
    /** Lets the list open again at its initial position (after history arrived). */
    reposition() { positioned = false; update(); },
  };
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
    room_calls_changed: e.calls === 'sfu'
      ? 'Calls in this room now always go through the media server.'
      : 'Calls in this room go through the media server only when they grow large.',
  };
  return texts[e.kind] || (e.kind ? e.kind.replace(/_/g, ' ') : 'Update');
}
