// One conversation's timeline as this client knows it: events by their gap-free seq
// (so a repeated delivery is a no-op), messages with their edits and deletions
// applied, thread reply counts, and the receipts other members chose to share.

export class Timeline {
  constructor(conversation) {
    this.conversation = conversation;
    /** seq → message (type `message`) or system event. */
    this.entries = new Map();
    /** Lowest seq loaded, and whether earlier events exist (unknown until asked). */
    this.oldest = Infinity;
    this.hasMoreBefore = true;
    this.loadedLatest = false;
    /** root seq → { replies, last_seq } */
    this.threads = new Map();
    /** member → highest seq they have read (only members who share receipts). */
    this.receipts = new Map();
    /** thread roots whose replies were loaded. */
    this.loadedThreads = new Set();
    /** thread root → whether earlier replies exist. */
    this.threadHasMore = new Map();
  }

  /** Applies one event; returns whether it was new. */
  apply(event) {
    if (this.entries.has(event.seq) || this.#isAppliedChange(event)) return false;
    switch (event.type) {
      case 'message':
        this.entries.set(event.seq, { ...event });
        if (event.thread) this.#countReply(event.thread, event.seq);
        break;
      case 'message_edited': {
        this.#mark(event.seq);
        const target = this.entries.get(event.target);
        if (target && !target.deleted) {
          if (event.body !== undefined) target.body = event.body;
          target.edited_at = event.ts;
        }
        break;
      }
      case 'message_deleted': {
        this.#mark(event.seq);
        const target = this.entries.get(event.target);
        if (target) {
          target.deleted = true;
          delete target.body;
        }
        break;
      }
      case 'system':
        this.entries.set(event.seq, { ...event });
        break;
      default:
        return false;
    }
    if (event.seq < this.oldest) this.oldest = event.seq;
    return true;
  }

  /** Edits and deletions are not shown as entries of their own, but their seqs are
   * remembered so a redelivery does not apply them twice. */
  #mark(seq) {
    this.changeSeqs ??= new Set();
    this.changeSeqs.add(seq);
  }

  #isAppliedChange(event) {
    return Boolean(this.changeSeqs?.has(event.seq));
  }

  #countReply(root, seq) {
    const summary = this.threads.get(root) || { replies: 0, last_seq: 0 };
    if (seq > summary.last_seq) {
      summary.replies += 1;
      summary.last_seq = seq;
      this.threads.set(root, summary);
    }
  }

  /** Reply counts from the server's `threads` answer (authoritative at that moment). */
  setThreads(list) {
    for (const t of list) {
      const known = this.threads.get(t.root);
      if (!known || t.last_seq >= known.last_seq) {
        this.threads.set(t.root, { replies: t.replies, last_seq: t.last_seq });
      }
    }
  }

  /** Top-level messages and system notices, oldest first. */
  main() {
    return [...this.entries.values()].filter((e) => !e.thread).sort((a, b) => a.seq - b.seq);
  }

  /** A thread's root and replies, oldest first. */
  thread(root) {
    return [...this.entries.values()]
      .filter((e) => e.seq === root || e.thread === root)
      .sort((a, b) => a.seq - b.seq);
  }

  get latestSeq() {
    let max = 0;
    for (const seq of this.entries.keys()) if (seq > max) max = seq;
    for (const seq of this.changeSeqs || []) if (seq > max) max = seq;
    return max;
  }

  /** The newest top-level message (what a `read` marker points at). */
  latestMessageSeq(thread = null) {
    let max = 0;
    for (const e of this.entries.values()) {
      if (e.type !== 'message') continue;
      if ((thread === null && !e.thread) || (thread !== null && (e.thread === thread || e.seq === thread))) {
        if (e.seq > max) max = e.seq;
      }
    }
    return max;
  }

  setReceipt(member, seq) {
    if ((this.receipts.get(member) || 0) < seq) this.receipts.set(member, seq);
  }

  /** Whether any other member who shares receipts has read up to `seq`. */
  readByOthers(seq, me) {
    for (const [member, read] of this.receipts) if (member !== me && read >= seq) return true;
    return false;
  }

  /** The newest entries, for the offline cache. */
  snapshot(limit = 100) {
    const entries = [...this.entries.values()].sort((a, b) => a.seq - b.seq).slice(-limit);
    return {
      entries,
      threads: [...this.threads],
      receipts: [...this.receipts],
      hasMoreBefore: this.hasMoreBefore || entries.length < this.entries.size,
      loadedLatest: this.loadedLatest,
    };
  }

  static restore(conversation, snapshot) {
    const timeline = new Timeline(conversation);
    for (const entry of snapshot.entries || []) {
      timeline.entries.set(entry.seq, entry);
      if (entry.seq < timeline.oldest) timeline.oldest = entry.seq;
    }
    timeline.threads = new Map(snapshot.threads || []);
    timeline.receipts = new Map(snapshot.receipts || []);
    timeline.hasMoreBefore = snapshot.hasMoreBefore ?? true;
    timeline.loadedLatest = Boolean(snapshot.loadedLatest);
    return timeline;
  }
}
