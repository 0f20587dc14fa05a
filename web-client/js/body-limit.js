// A message body as the server measures it: not blank (Rust's notion of white space,
// which also counts U+0085), at most `limits.max_body_bytes` bytes of UTF-8. An emoji
// takes 4 bytes, an accented letter 2, so the budget is counted in bytes, not letters.

const encoder = new TextEncoder();
/** The server's default, until a `welcome` has said otherwise. */
const DEFAULT_MAX_BODY_BYTES = 16000;
const EDGE = /^[\s\u0085]+|[\s\u0085]+$/g;
/** The budget is shown once this share of it is used. */
const SHOW_FROM = 0.9;

/** The body as it is sent: without white space at either end. */
export function bodyToSend(text) {
  return text.replace(EDGE, '');
}

export function maxBodyBytes(store) {
  return store.limits?.max_body_bytes || DEFAULT_MAX_BODY_BYTES;
}

/** `{ used, max, left, blank, over, near }` for what `text` would send. */
export function bodyBudget(text, max) {
  const body = bodyToSend(text);
  const used = encoder.encode(body).length;
  return { used, max, left: max - used, blank: body === '', over: used > max, near: used >= max * SHOW_FROM };
}

const number = new Intl.NumberFormat('en');
const bytes = (n) => `${number.format(n)} ${n === 1 ? 'byte' : 'bytes'}`;

/** What the person sees under the box: nothing until near the limit. */
export function budgetText({ left, max, over, near }) {
  if (over) return `${bytes(-left)} too long: messages hold ${bytes(max)} (an emoji takes 4). Shorten it to send.`;
  if (near) return `${bytes(left)} left (an emoji takes 4).`;
  return '';
}
