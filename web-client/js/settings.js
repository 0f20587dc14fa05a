// Preferences that live on this device only (the account's own settings — read
// receipts, default pseudonym — live on the server: PUT /api/me/settings).

const KEY = 'mh.preferences';

const DEFAULTS = {
  /** A short tone when a message arrives while the conversation is not on screen. */
  sound: true,
  /** A system notification (content-free) while the tab is hidden; asks the browser's
   * permission when turned on. */
  notifications: false,
  /** Calls start with audio only and video is capped when turned on (slow links). */
  lowBandwidth: false,
};

export class Preferences {
  constructor() {
    try {
      this.values = { ...DEFAULTS, ...JSON.parse(localStorage.getItem(KEY) || '{}') };
    } catch {
      this.values = { ...DEFAULTS };
    }
  }

  get(name) {
    return this.values[name];
  }

  set(name, value) {
    this.values[name] = value;
    localStorage.setItem(KEY, JSON.stringify(this.values));
  }
}
