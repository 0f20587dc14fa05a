// Attention outside the open view: the unread count in the tab title, a system
// notification for messages, mentoring requests and calls while the tab is hidden, and
// a short two-tone chime (Web Audio: no audio file to download on a slow link).
//
// Notifications are content-free, by the same rule as the server's: they say what kind
// of thing happened and how many — never a message body, a conversation's title or a
// person's name (the sender may be pseudonymous, or the screen seen by others). They
// are shown only if the person turned them on in Settings (which asks the browser's
// permission) and only while the tab is hidden; opening the app or coming back to the
// tab clears them, and the service worker's pushed ones too.

const TAGS = { message: 'mentorhub-message', request: 'mentorhub-request', call: 'mentorhub-call' };
const APP_TITLE = 'Mentorhub';

export class Notifier {
  constructor(preferences) {
    this.preferences = preferences;
    this.context = null;
    /** Chimes played (the browser tests count them). */
    this.chimes = 0;
    /** Messages that arrived while the tab was hidden, for "3 new messages". */
    this.hiddenMessages = 0;
    this.unreadCount = 0;
    this.titleWatch = null;
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      this.hiddenMessages = 0;
      this.#closeAll();
    });
    // Opened (from the home screen, not from a notification): what the notifications
    // said is on screen now, with its unread counts.
    if (document.visibilityState === 'visible') this.#closeAll();
  }

  /** Keeps the tab title's unread count and the call notification up to date. */
  attach({ store, calls }) {
    const title = () => this.updateTitle(store);
    store.on('conversations', title);
    store.on('relationships', title);
    calls.on('ring', () => this.#notify('call', 'Incoming call'));
    calls.on('changed', () => {
      if (!calls.incoming) this.#close(TAGS.call);
    });
  }

  /** `(3) …`: unread messages and thread replies, and requests to answer, before
   * whatever title the screen gave the tab (kept when a screen changes it). */
  updateTitle(store) {
    let count = 0;
    for (const summary of store.conversations.values()) {
      count += summary.unread || 0;
      for (const replies of Object.values(summary.thread_unread || {})) count += replies;
    }
    for (const relationship of store.relationships?.values?.() || []) if (relationship.awaiting_me) count += 1;
    this.unreadCount = count;
    this.#applyTitle();
    if (!this.titleWatch && document.querySelector('title')) {
      this.titleWatch = new MutationObserver(() => this.#applyTitle());
      this.titleWatch.observe(document.querySelector('title'), { childList: true, characterData: true, subtree: true });
    }
  }

  #applyTitle() {
    const base = document.title.replace(/^\(\d+\) /, '') || APP_TITLE;
    const next = this.unreadCount ? `(${this.unreadCount}) ${base}` : base;
    if (document.title !== next) document.title = next;
  }

  onMessage(event, store) {
    const summary = store.conversations.get(event.conversation);
    if (!summary || event.sender === summary.me) return;
    const open = store.open;
    const onScreen = open?.conversation === event.conversation && document.visibilityState === 'visible';
    if (onScreen) return;
    this.chime();
    if (document.visibilityState === 'hidden') {
      this.hiddenMessages += 1;
      this.#notify('message', this.hiddenMessages === 1 ? '1 new message' : `${this.hiddenMessages} new messages`);
    }
  }

  /** A mentoring request now awaits this person's answer. */
  onRequest() {
    this.chime();
    this.#notify('request', 'New mentoring request');
  }

  /** Whether notifications can be shown here (supported, turned on, allowed). */
  get notificationsAllowed() {
    return Boolean(this.preferences.get('notifications'))
      && typeof Notification !== 'undefined' && Notification.permission === 'granted';
  }

  /** Turns notifications on or off; on asks the browser first (call it from a click).
   * Resolves whether they are on. */
  async enableNotifications(on) {
    if (!on || typeof Notification === 'undefined') {
      this.preferences.set('notifications', false);
      return false;
    }
    const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
    this.preferences.set('notifications', permission === 'granted');
    return permission === 'granted';
  }

  async #notify(kind, body) {
    if (document.visibilityState !== 'hidden' || !this.notificationsAllowed) return;
    const options = { body, tag: TAGS[kind], renotify: true, silent: kind !== 'call', requireInteraction: kind === 'call' };
    try {
      // Phones (Android) only show notifications through the service worker.
      const registration = await navigator.serviceWorker?.getRegistration();
      if (registration) await registration.showNotification(APP_TITLE, options);
      else new Notification(APP_TITLE, options); // eslint-disable-line no-new
    } catch {
      // Not shown (no permission after all, or no notification service): the chime
      // and the title count still say it.
    }
  }

  /** Every notification this app shows, pushed ones included (replies, invitations,
   * missed calls): all of it is in the open app. */
  async #closeAll() {
    try {
      const registration = await navigator.serviceWorker?.getRegistration();
      for (const shown of (await registration?.getNotifications()) || []) shown.close();
    } catch {
      // Nothing to close.
    }
  }

  async #close(tag) {
    try {
      const registration = await navigator.serviceWorker?.getRegistration();
      for (const shown of (await registration?.getNotifications({ tag })) || []) shown.close();
    } catch {
      // Nothing to close.
    }
  }

  chime() {
    if (!this.preferences.get('sound')) return;
    try {
      // Browsers allow audio only after the person has interacted with the page
      // (`unlock`); before that there is no context and no chime.
      if (this.context?.state !== 'running') return;
      const now = this.context.currentTime;
      for (const [offset, frequency] of [[0, 660], [0.12, 880]]) {
        const oscillator = this.context.createOscillator();
        const gain = this.context.createGain();
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, now + offset);
        gain.gain.exponentialRampToValueAtTime(0.15, now + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.25);
        oscillator.connect(gain).connect(this.context.destination);
        oscillator.start(now + offset);
        oscillator.stop(now + offset + 0.3);
      }
      this.chimes += 1;
    } catch {
      // No audio output: nothing to play.
    }
  }

  /** Called on the first click or key press (the sign-in click, or any after a
   * reload) so later chimes are allowed to play. */
  unlock() {
    try {
      this.context ??= new AudioContext();
      if (this.context.state === 'suspended') this.context.resume();
    } catch {
      // No audio output.
    }
  }
}
