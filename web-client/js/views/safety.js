// Actions on a conversation and on other people's messages that protect the people in
// it — reveal one's identity (one's own explicit act), end a relationship without
// fault, block, report — and the call buttons, so everything is in one place.

import { h, announce } from '../dom.js';
import { errorText } from '../protocol.js';
import { ask } from './dialog.js';

async function run(app, action, success) {
  try {
    const reply = await action();
    if (success) announce(success);
    return reply;
  } catch (error) {
    alert(errorText(error.code, error.message));
    return null;
  }
}

/** Buttons for the conversation header. */
export function conversationActions(app, summary) {
  const { api, store } = app;
  const buttons = [...app.calls.buttons(summary)];
  const me = summary.members?.find((m) => m.member === summary.me);
  if (me?.pseudonymous && summary.state === 'active') {
    buttons.push(h('button', {
      type: 'button',
      onclick: async () => {
        const answer = await ask({
          title: 'Reveal who you are?',
          text: `The others here will see your real name instead of “${me.display_name}”. This applies to this conversation only and cannot be undone.`,
          confirm: 'Reveal my identity',
        });
        if (!answer) return;
        const reply = await run(app, () => api.post(`/conversations/${summary.id}/reveal`), 'Your identity is now shown here.');
        if (reply?.conversation) store.onFrame({ type: 'conversation', conversation: reply.conversation });
      },
    }, 'Reveal identity'));
  }
  const relationship = summary.kind === 'relationship' ? store.relationshipOf(summary.id) : null;
  if (relationship?.state === 'active') {
    buttons.push(h('button', {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        const answer = await ask({
          title: 'End this mentoring relationship?',
          text: 'Endings are normal and need no reason. The conversation stays readable for both of you but closes for new messages.',
          field: { label: 'Private note (optional)', hint: 'Only you will ever see this note.' },
          confirm: 'End relationship',
          danger: true,
        });
        if (!answer) return;
        const body = answer.text ? { note: answer.text } : {};
        const reply = await run(app, () => api.post(`/relationships/${relationship.id}/end`, body), 'The relationship has ended.');
        if (reply?.relationship) store.upsertRelationship(reply.relationship);
      },
    }, 'End relationship'));
  }
  if (summary.kind === 'relationship') {
    for (const other of (summary.members || []).filter((m) => m.member !== summary.me)) {
      buttons.push(blockButton(app, summary, other));
    }
  }
  return buttons;
}

function blockButton(app, summary, member) {
  return h('button', {
    type: 'button',
    class: 'danger',
    onclick: async () => {
      const answer = await ask({
        title: `Block ${member.display_name}?`,
        text: 'They will not be able to message, call or send you requests. They are not told.',
        confirm: 'Block',
        danger: true,
      });
      if (!answer) return;
      await run(app, () => app.api.post('/blocks', { conversation: summary.id, member: member.member }), `${member.display_name} is blocked.`);
    },
  }, `Block ${member.display_name}`);
}

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
      await run(app, () => app.api.post('/reports', body), 'Reported. Thank you.');
    },
  }, 'Report')];
}
