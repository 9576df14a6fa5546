import type { Message } from './frames.js';

/**
 * One room's changes to messages (section 11: edits, deletes, reactions), each state handed out
 * once and never an older one after a newer, whichever way it came (a live `message_updated`,
 * a `changes` page after a reconnect, a `join` page that already had the latest state). Keeps
 * `lastRev`, the room `rev` up to which the app has every change. Pure: no I/O.
 */
export class Revisions {
  /** The room `rev` up to which every change was handed out; null before the first `join`. */
  lastRev: number | null;
  /** The highest `rev` handed out for each message (the oldest forgotten past `maxKept`). */
  private readonly seen = new Map<string, number>();
  /** The latest state of messages not handed out yet (their `message` is on its way). */
  private readonly held = new Map<string, Message>();
  private readonly maxKept: number;
  /** Set while a catch-up runs: live changes then count only once it has finished. */
  private catching = false;
  private liveMax = 0;

  constructor(lastRev: number | null = null, maxKept = 10_000) {
    this.lastRev = lastRev;
    this.maxKept = maxKept;
  }

  /** Whether a catch-up (a `changes` request from `lastRev`) is needed to reach `roomLastRev`. */
  needsChanges(roomLastRev: number): boolean {
    return this.lastRev !== null && this.lastRev < roomLastRev;
  }

  /**
   * A (re)connection's catch-up starts: until {@link endCatchUp}, live changes are handed out
   * but do not move `lastRev` (a `changes` page before them may still be missing).
   */
  beginCatchUp(): void {
    this.catching = true;
    this.liveMax = 0;
  }

  /** The catch-up ended with everything up to `rev` (a `changes` reply's or the room's `last_rev`). */
  endCatchUp(rev: number): void {
    this.catching = false;
    this.lastRev = Math.max(this.lastRev ?? 0, rev, this.liveMax);
    this.liveMax = 0;
  }

  /**
   * A message is being handed out as a `message`: returns the state to hand out (a change that
   * came first, held back, replaces it when it is newer).
   */
  handOut(message: Message): Message {
    const later = this.held.get(message.id);
    this.held.delete(message.id);
    const out = later && (later.rev ?? 0) > (message.rev ?? 0) ? later : message;
    if ((out.rev ?? 0) > 0) this.remember(out.id, out.rev);
    return out;
  }

  /**
   * A change: returns the message to hand out as an update, or null (a state already handed
   * out or older, or a message not handed out yet, whose state is then held for {@link handOut}).
   * `live`: it came as an event on this connection (it moves `lastRev` unless a catch-up runs).
   */
  change(message: Message, known: boolean, live: boolean): Message | null {
    const rev = message.rev ?? 0;
    if (!Number.isSafeInteger(rev) || rev < 1) return null;
    if (live) {
      if (this.catching) this.liveMax = Math.max(this.liveMax, rev);
      else if (this.lastRev !== null) this.lastRev = Math.max(this.lastRev, rev);
    }
    if (!known) {
      const held = this.held.get(message.id);
      if (!held || (held.rev ?? 0) < rev) {
        this.held.delete(message.id);
        this.held.set(message.id, message);
        if (this.held.size > this.maxKept) this.held.delete(this.held.keys().next().value as string);
      }
      return null;
    }
    if ((this.seen.get(message.id) ?? 0) >= rev) return null;
    this.remember(message.id, rev);
    return message;
  }

  private remember(id: string, rev: number): void {
    this.seen.delete(id);
    this.seen.set(id, rev);
    if (this.seen.size > this.maxKept) this.seen.delete(this.seen.keys().next().value as string);
  }
}
