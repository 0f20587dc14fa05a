// Actions on a conversation and on other people's messages that protect the people in
// it — reveal one's identity (one's own explicit act), end a relationship without
// fault, block, report — and the call buttons, so everything is in one place.
// On a laptop the call buttons stay in the header and the rest sit in a "More" menu;
// on a phone one "Actions" menu holds everything, calls first and destructive actions
// last, far from the call buttons.

import { h, announce } from '../dom.js';
import { errorText } from '../protocol.js';
import { refreshSafety } from '../safety-state.js';
import { ask, tell } from './dialog.js';

async function run(action, success) {
  try {
    const reply = await action();
    if (success) announce(success);
    return reply ?? {};
  } catch (error) {
    await tell(errorText(error.code, error.message));
    return null;
  }
}

function menuButton(label, onclick, danger = false) {
  return h('button', { type: 'button', class: danger ? 'danger' : '', onclick }, label);
}

/** Closes a disclosure menu when its button was used, on Escape and on a click elsewhere. */
function disclosure(summaryText, items, label) {
  const menu = h('details', { class: 'menu' }, h('summary', { 'aria-label': label }, summaryText), h('div', { class: 'menu-items' }, items));
  menu.addEventListener('click', (event) => {
    if (event.target.closest('.menu-items button')) menu.open = false;
  });
  menu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menu.open) {
      menu.open = false;
      menu.querySelector('summary').focus();
    }
  });
  return menu;
}

// One listener for every menu: a click elsewhere closes it.
document.addEventListener('click', (event) => {
  for (const menu of document.querySelectorAll('details.menu[open]')) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});

/** The conversation header's actions: call buttons, and a menu for the rest. */
export function conversationActions(app, summary) {
  const { api, store } = app;
  const calls = app.calls.buttons(summary);
  const phoneCalls = app.calls.buttons(summary);
  const safe = [];
  const destructive = [];
  const me = summary.members?.find((m) => m.member === summary.me);
  if (me?.pseudonymous && summary.state === 'active') {
    safe.push(menuButton('Reveal identity', async () => {
      const answer = await ask({
        title: 'Reveal who you are?',
        text: `The others here will see your real name instead of “${me.display_name}”. This applies to this conversation only and cannot be undone.`,
        confirm: 'Reveal my identity',
      });
      if (!answer) return;
      const reply = await run(() => api.post(`/conversations/${summary.id}/reveal`), 'Your identity is now shown here.');
      if (reply?.conversation) store.onFrame({ type: 'conversation', conversation: reply.conversation });
    }));
    // A pseudonym's presence is off by default: coming and going at the same moment
    // in several conversations would link one's pseudonyms.
    const shown = summary.presence_shown === true;
    safe.push(menuButton(shown ? "Hide when I'm online" : "Show when I'm online", async () => {
      const reply = await run(
        () => api.put(`/conversations/${summary.id}/presence`, { shown: !shown }),
        shown
          ? 'The others here no longer see when you are online.'
          : 'The others here will see when you are online or offline, each change after a short random delay.',
      );
      if (reply?.conversation) store.onFrame({ type: 'conversation', conversation: reply.conversation });
    }));
  }
  const relationship = summary.kind === 'relationship' ? store.relationshipOf(summary.id) : null;
  if (relationship?.state === 'active') {
    destructive.push(menuButton('End relationship', async () => {
      const answer = await ask({
        title: 'End this mentoring relationship?',
        text: 'Endings are normal and need no reason. The conversation stays readable for both of you but closes for new messages.',
        field: { label: 'Private note (optional)', hint: 'Only you will ever see this note.' },
        confirm: 'End relationship',
        danger: true,
      });
      if (!answer) return;
      const body = answer.text ? { note: answer.text } : {};
      const reply = await run(() => api.post(`/relationships/${relationship.id}/end`, body), 'The relationship has ended.');
      if (reply?.relationship) store.upsertRelationship(reply.relationship);
    }, true));
  }
  if (summary.kind === 'relationship') {
    for (const other of (summary.members || []).filter((m) => m.member !== summary.me)) {
      if (!store.blocks.has(`${summary.id}:${other.member}`)) destructive.push(blockButton(app, summary, other));
    }
  }
  const items = [];
  if (phoneCalls.length) items.push(h('div', { class: 'call-in-menu' }, phoneCalls, (safe.length || destructive.length) ? h('hr') : null));
  items.push(...safe);
  if (safe.length && destructive.length) items.push(h('hr'));
  items.push(...destructive);
  const parts = [];
  if (calls.length) parts.push(h('div', { class: 'call-actions' }, calls));
  if (safe.length || destructive.length) parts.push(disclosure('More', items, 'More actions'));
  else if (phoneCalls.length) parts.push(h('div', { class: 'phone-only-menu' }, disclosure('Call', items, 'Call')));
  return parts;
}

function blockButton(app, summary, member) {
  return menuButton(`Block ${member.display_name}`, async () => {
    const answer = await ask({
      title: `Block ${member.display_name}?`,
      text: 'Here, you will see nothing they send and they cannot call you. Their new requests, offers and invitations will not reach you. Your other conversations do not change. They are not told. You can unblock them in Settings.',
      confirm: 'Block',
      danger: true,
    });
    if (!answer) return;
    const reply = await run(() => app.api.post('/blocks', { conversation: summary.id, member: member.member }), `${member.display_name} is blocked.`);
    if (reply) await refreshSafety(app);
  }, true);
}

/** Where a block applies: a notice in the conversation, with the way back. */
export function blockedNotice(app, summary) {
  const blocked = app.store.blocksIn(summary.id);
  if (!blocked.length) return null;
  return h('div', { class: 'blocked-note', role: 'note' },
    h('span', {}, `Blocked: ${blocked.map((b) => b.display_name).join(', ')}. You see nothing they send and they cannot call you; they are not told.`),
    blocked.map((b) => h('button', { type: 'button', class: 'small', onclick: () => unblock(app, b) }, `Unblock ${b.display_name}`)));
}

export async function unblock(app, block) {
  const reply = await run(() => app.api.delete(`/blocks/${block.conversation}/${block.member}`), `${block.display_name} is unblocked.`);
  if (reply) await refreshSafety(app);
}

const REPORT_NEXT = 'The programme’s safeguarding contact has a copy of this message and a few around it, '
  + 'and will look at it. The sender is not told who reported it. If you feel unsafe now, you can also block them '
  + 'or end the relationship; in an emergency, contact your supervisor or local services.';

/** Extra buttons on another member's message. */
export function messageActions(app, conversation, message) {
  return [h('button', {
    type: 'button',
    class: 'small',
    onclick: async () => {
      const answer = await ask({
        title: 'Report this message?',
        text: 'The programme’s safeguarding contact receives a copy of this message and a few around it. The sender is not told who reported it.',
        field: { label: 'What is wrong? (optional)' },
        confirm: 'Report',
        danger: true,
      });
      if (!answer) return;
      const body = { conversation, seq: message.seq };
      if (answer.text) body.reason = answer.text;
      try {
        await app.api.post('/reports', body);
      } catch (error) {
        if (error.code !== 'already_reported') {
          await tell(errorText(error.code, error.message));
          return;
        }
      }
      app.store.markReported(conversation, message.seq);
      announce('Reported.');
      await tell(REPORT_NEXT, { title: 'Reported — what happens next' });
    },
  }, 'Report')];
}
