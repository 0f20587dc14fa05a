// Web Push on this device: while no Mentorhub tab is open, the server can still say that
// something happened (the service worker, sw.js, shows it — content-free). Offered only
// when the server has Web Push set up (`push.vapid_public_key` in its info) and the
// browser can subscribe. The server keeps one subscription per device; its id is kept
// here, per account, to remove it again.

const storageKey = (account) => `mh.push.${account}`;

/** The server's VAPID public key as bytes (an uncompressed P-256 point), or null. */
export function vapidKey(server) {
  const text = server?.push?.vapid_public_key;
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '='));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return bytes.length === 65 && bytes[0] === 4 ? bytes : null;
  } catch {
    return null;
  }
}

/** Whether to offer push here at all. */
export function pushOffered(app) {
  return Boolean(vapidKey(app.server))
    && 'serviceWorker' in navigator && typeof PushManager !== 'undefined' && typeof Notification !== 'undefined';
}

function stored(account) {
  try {
    return JSON.parse(localStorage.getItem(storageKey(account)) || 'null');
  } catch {
    return null;
  }
}

async function registration() {
  return (await navigator.serviceWorker.getRegistration()) || navigator.serviceWorker.register('/sw.js');
}

/** 'on' (subscribed and known to the server for this account), 'blocked' (the browser
 * refuses notifications for this site) or 'off'. */
export async function pushState(app) {
  if (Notification.permission === 'denied') return 'blocked';
  const mine = stored(app.session.account);
  if (!mine || Notification.permission !== 'granted') return 'off';
  const subscription = await (await navigator.serviceWorker.getRegistration())?.pushManager.getSubscription();
  return subscription?.endpoint === mine.endpoint ? 'on' : 'off';
}

function sameKey(buffer, key) {
  if (!buffer) return false;
  const bytes = new Uint8Array(buffer);
  return bytes.length === key.length && bytes.every((b, i) => b === key[i]);
}

/** Asks the browser (call it from a click), subscribes and tells the server. Resolves
 * the new state; a refused request to the server throws its ApiError. */
export async function turnOnPush(app) {
  const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  if (permission !== 'granted') return permission === 'denied' ? 'blocked' : 'off';
  const key = vapidKey(app.server);
  const { pushManager } = await registration();
  let subscription = await pushManager.getSubscription();
  // Made for another server key (the server's keys were changed): start afresh.
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const { endpoint, keys } = subscription.toJSON();
  const { id } = await app.api.post('/me/push-subscriptions', { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
  localStorage.setItem(storageKey(app.session.account), JSON.stringify({ id, endpoint }));
  return 'on';
}

/** Unsubscribes this device first (so nothing arrives even if the server cannot be
 * reached), then asks the server to forget the subscription. */
export async function turnOffPush(app) {
  const account = app.session.account;
  const mine = stored(account);
  const subscription = await (await navigator.serviceWorker.getRegistration())?.pushManager.getSubscription();
  await subscription?.unsubscribe();
  if (mine) {
    try {
      await app.api.delete(`/me/push-subscriptions/${encodeURIComponent(mine.id)}`);
    } catch (error) {
      if (error.status !== 404) throw error;
    }
    localStorage.removeItem(storageKey(account));
  }
  return Notification.permission === 'denied' ? 'blocked' : 'off';
}

/** Signing out: this device stops being told about the account (only if it was). */
export async function forgetPushOnSignOut(app) {
  if (!stored(app.session.account) || !('serviceWorker' in navigator)) return;
  try {
    await turnOffPush(app);
  } catch {
    // Offline: the subscription is gone on this device; the server drops it at the
    // next push, which the push service refuses.
    localStorage.removeItem(storageKey(app.session.account));
  }
}
