// timeline.js: what the client knows of one room's messages, keyed by seq so that a message
// that arrives twice (a live event and a history page, or a resume after a reconnect) is
// kept once, and the view can always show them in seq order; and where its changes stand
// (the client library's Revisions: each state once, `lastRev` moved only by what is sure).

import { Revisions } from './client/index.js';

export class Timeline {
  constructor() {
    this.bySeq = new Map();
    /** Edits, deletes and reactions: which states were applied, and `lastRev` to resume from. */
    this.revisions = new Revisions(null);
    /** The newest page was loaded (opening the room); before that the map may be sparse. */
    this.loaded = false;
    /** Older messages exist on the server than the oldest one here. */
    this.hasOlder = true;
    this.loadingOlder = false;
  }

  /** Adds a message; returns false when its seq is already here. */
  add(message) {
    if (this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    return true;
  }

  get(seq) {
    return this.bySeq.get(seq);
  }

  firstSeq() {
    let first = null;
    for (const seq of this.bySeq.keys()) if (first === null || seq < first) first = seq;
    return first;
  }

  /**
   * Where a resume after a reconnect starts (`join` + `after_seq`): the highest seq reached
   * from the oldest one here with no gap. A send acknowledged right after reconnecting (the
   * library's outbox goes first) can be newer than messages not fetched yet.
   */
  resumeSeq() {
    let seq = this.firstSeq();
    if (seq === null) return 0;
    while (this.bySeq.has(seq + 1)) seq += 1;
    return seq;
  }

  lastSeq() {
    let last = 0;
    for (const seq of this.bySeq.keys()) if (seq > last) last = seq;
    return last;
  }

  /** The smallest seq here that is above `seq`, or null. */
  nextSeqAfter(seq) {
    let next = null;
    for (const other of this.bySeq.keys()) {
      if (other > seq && (next === null || other < next)) next = other;
    }
    return next;
  }

  /** The largest seq here that is below `seq`, or null. */
  previousSeqBefore(seq) {
    let previous = null;
    for (const other of this.bySeq.keys()) {
      if (other < seq && (previous === null || other > previous)) previous = other;
    }
    return previous;
  }
}
