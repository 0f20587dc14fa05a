// Notification sound: a short two-tone chime made with Web Audio (no audio file to
// download on a slow link), played for messages from others that are not on screen.

export class Notifier {
  constructor(preferences) {
    this.preferences = preferences;
    this.context = null;
  }

  onMessage(event, store) {
    const summary = store.conversations.get(event.conversation);
    if (!summary || event.sender === summary.me) return;
    const open = store.open;
    const onScreen = open?.conversation === event.conversation && document.visibilityState === 'visible';
    if (!onScreen) this.chime();
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
    } catch {
      // No audio output: nothing to play.
    }
  }

  /** Called on a click so later chimes are allowed to play. */
  unlock() {
    try {
      this.context ??= new AudioContext();
      if (this.context.state === 'suspended') this.context.resume();
    } catch {
      // No audio output.
    }
  }
}
