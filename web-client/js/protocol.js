// The wire protocol as the client uses it (the server's `protocol/` module is the source
// of truth): frame builders, close codes and what each close code asks the client to do.

export const PROTOCOL_VERSION = 1;

/** WebSocket close codes sent by the server. */
export const Close = Object.freeze({
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  UNAUTHORIZED: 4001,
  HELLO_TIMEOUT: 4002,
  SESSION_EXPIRED: 4003,
  PROTOCOL_VIOLATION: 4004,
  SLOW_CONSUMER: 4008,
  IDLE_TIMEOUT: 4010,
  SERVER_FULL: 4013,
});

/**
 * What to do after a close: `reconnect` (with backoff), `reauth` (get a new token, then
 * reconnect and resume) or `stop` (the same request would fail again).
 */
export function closeAction(code) {
  switch (code) {
    case Close.UNAUTHORIZED:
    case Close.SESSION_EXPIRED:
      return 'reauth';
    case Close.PROTOCOL_VIOLATION:
    case Close.MESSAGE_TOO_BIG:
      return 'stop';
    default:
      return 'reconnect';
  }
}

/** Error codes after which resending the same frame may succeed. */
export const RETRYABLE = new Set(['rate_limited', 'unavailable', 'internal']);

/** Human wording for error codes shown to people (the code itself is stable). */
export const ERROR_TEXT = {
  body_invalid: 'The message is empty or too long.',
  conversation_closed: 'This conversation does not accept new messages.',
  not_found: 'Not found, or not visible to you.',
  forbidden: 'You are not allowed to do that.',
  conflict: 'That changed in the meantime; please look again.',
  capacity_reached: 'This mentor has no free places right now.',
  room_full: 'This room is full.',
  agreement_required: 'Accept the room’s confidentiality agreement first.',
  muted: 'The facilitator has muted you in this room.',
  name_taken: 'That name is already used here; choose another.',
  not_own_message: 'You can only change your own messages.',
  rate_limited: 'Too many actions at once; retrying shortly.',
  unavailable: 'The server is busy; retrying shortly.',
  unauthorized: 'Your sign-in is no longer valid.',
  call_state: 'The call is not in a state that allows this.',
  already_reported: 'You have already reported this message. Safeguarding has it.',
  offline: 'You are offline. Try again when you are back online.',
};

export function errorText(code, fallback) {
  return ERROR_TEXT[code] || fallback || `Something went wrong (${code}).`;
}

export const frames = {
  hello: (token, cursors) => ({ type: 'hello', token, cursors }),
  refresh: (token) => ({ type: 'refresh', token }),
  send: (conversation, clientId, body, thread) =>
    withThread({ type: 'send', conversation, client_id: clientId, body }, thread),
  edit: (conversation, seq, body) => ({ type: 'edit', conversation, seq, body }),
  delete: (conversation, seq) => ({ type: 'delete', conversation, seq }),
  read: (conversation, seq, thread) => withThread({ type: 'read', conversation, seq }, thread),
  typing: (conversation, active, thread) =>
    withThread({ type: 'typing', conversation, active }, thread),
  history: (conversation, { before, after, limit, thread } = {}) => {
    const frame = { type: 'history', conversation };
    if (before !== undefined) frame.before = before;
    if (after !== undefined) frame.after = after;
    if (limit !== undefined) frame.limit = limit;
    return withThread(frame, thread);
  },
  threads: (conversation) => ({ type: 'threads', conversation }),
  ping: () => ({ type: 'ping' }),
};

function withThread(frame, thread) {
  if (thread !== undefined && thread !== null) frame.thread = thread;
  return frame;
}

/** Timeline event types (each carries the conversation's gap-free `seq`). */
export const EVENT_TYPES = new Set(['message', 'message_edited', 'message_deleted', 'system']);
