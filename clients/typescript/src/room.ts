import { Emitter } from './emitter.js';
import { PalaverError } from './errors.js';
import type { Commands, JoinReply, Message, Room, User } from './frames.js';
import { Revisions } from './revisions.js';
import { Sequencer } from './sequencer.js';

type ChangesReply = Commands['changes']['reply'];

/** Failed `join`s or `changes` in a row, while connected, after which the subscription waits for the next connection. */
const MAX_FAILURES = 5;

/** What a subscription needs of its client. */
export interface Joiner {
  joinPage(room: string, afterSeq: number | undefined, limit: number): Promise<JoinReply>;
  changesPage(room: string, afterRev: number, limit: number): Promise<ChangesReply>;
  forget(subscription: RoomSubscription): void;
}

export interface RoomEvents {
  /** Each message once, in `seq` order, with no gap: live, and caught up after every reconnect. */
  message: Message;
  /**
   * A message already handed out changed (an edit, a delete, a reaction): the message at its
   * latest state, each state once, never an older after a newer; caught up with `changes` after
   * every reconnect. (A change to a message not handed out yet makes its `message` show it.)
   */
  update: Message;
  /** The room as the latest `join` answered it (after every reconnect). */
  room: Room;
  /** The members as the latest `join` answered them. */
  members: User[];
  /**
   * A `join` failed for good (`not_found`, `forbidden`: the subscription has ended), or failed
   * five times in a row while connected (it catches up again on the next connection).
   */
  error: PalaverError;
  /** The user stopped being a member (`room_removed`): the subscription has ended. */
  removed: string;
}

/**
 * One room's message stream. Made by {@link PalaverClient.subscribe}; it joins the room on
 * every (re)connection with `after_seq` = the last seq handed out, pages until `has_more` is
 * false, and hands out each message once, in order; then asks `changes` from the last `rev`
 * it handed out, so that every edit, delete and reaction missed meanwhile comes as an `update`.
 */
export class RoomSubscription extends Emitter<RoomEvents> {
  readonly roomId: string;
  room: Room | undefined;
  members: User[] = [];
  private readonly sequencer: Sequencer;
  private readonly revisions: Revisions;
  private readonly joiner: Joiner;
  private readonly limit: number;
  private catchingUp: Promise<void> | null = null;
  private again = false;
  /** `join`s in a row that failed while connected (a time-out, `unavailable`). */
  private failures = 0;
  private ended = false;
  private readyResolve!: () => void;
  private readyReject!: (error: Error) => void;
  /** Resolves when the first `join` (and the pages after it) has been handed out. */
  readonly ready: Promise<void>;

  constructor(joiner: Joiner, roomId: string, afterSeq: number | undefined, limit: number, afterRev?: number) {
    super();
    this.joiner = joiner;
    this.roomId = roomId;
    this.limit = limit;
    this.sequencer = new Sequencer(afterSeq ?? null);
    this.revisions = new Revisions(afterRev ?? null);
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined);
  }

  /** The seq of the last message handed out (persist it, and pass it as `afterSeq` next run). */
  get lastSeq(): number | null {
    return this.sequencer.lastSeq;
  }

  /**
   * The room `rev` up to which every change was handed out (persist it beside `lastSeq`, and
   * pass it as `afterRev` next run); null before the first `join`.
   */
  get lastRev(): number | null {
    return this.revisions.lastRev;
  }

  get active(): boolean {
    return !this.ended;
  }

  /** A live `message` event of this room. */
  live(message: Message): void {
    if (this.ended) return;
    this.deliver(this.sequencer.accept(message));
    if (this.sequencer.hasGap && this.sequencer.lastSeq !== null) void this.catchUp();
  }

  /** A live `message_updated` event of this room. */
  updated(message: Message): void {
    if (this.ended) return;
    const last = this.sequencer.lastSeq;
    const change = this.revisions.change(message, last !== null && message.seq <= last, true);
    if (change) this.emit('update', change);
  }

  /**
   * Joins with `after_seq` and pages until nothing is left; called on every (re)connection.
   * A call while one runs makes it run once more when done.
   */
  catchUp(): Promise<void> {
    if (this.ended) return Promise.resolve();
    if (this.catchingUp) {
      this.again = true;
      return this.catchingUp;
    }
    this.catchingUp = this.pages().finally(() => {
      this.catchingUp = null;
      if (this.again && !this.ended) {
        this.again = false;
        void this.catchUp();
      }
    });
    return this.catchingUp;
  }

  private async pages(): Promise<void> {
    this.revisions.beginCatchUp();
    try {
      const roomLastRev = await this.joinPages();
      if (roomLastRev === null) return;
      if (this.revisions.needsChanges(roomLastRev)) await this.changesPages();
      else this.revisions.endCatchUp(roomLastRev);
    } catch (error) {
      this.failed(error);
      return;
    }
    if (this.ended) return;
    this.failures = 0;
    this.readyResolve();
  }

  /** `join` pages until `has_more` is false; answers the room's `last_rev` (null: it ended). */
  private async joinPages(): Promise<number | null> {
    for (let page = 0; page < 100_000; page += 1) {
      const reply = await this.joiner.joinPage(this.roomId, this.sequencer.lastSeq ?? undefined, this.limit);
      if (this.ended) return null;
      this.room = reply.room;
      this.members = reply.members;
      if (page === 0) {
        this.emit('room', reply.room);
        this.emit('members', reply.members);
      }
      const messages = [...reply.messages].sort((a, b) => a.seq - b.seq);
      const first = messages[0];
      // Without `after_seq` the page is the newest messages; an empty one means an empty room
      // (a message committed meanwhile comes as an event after the reply).
      this.deliver(this.sequencer.startAt(first ? first.seq - 1 : 0));
      for (const message of messages) this.deliver(this.sequencer.accept(message));
      if (!reply.has_more) return reply.room.last_rev ?? 0;
    }
    return null;
  }

  /** `changes` pages from the last `rev` handed out until `has_more` is false. */
  private async changesPages(): Promise<void> {
    let after = this.revisions.lastRev ?? 0;
    for (let page = 0; page < 100_000; page += 1) {
      const reply = await this.joiner.changesPage(this.roomId, after, this.limit);
      if (this.ended) return;
      const last = this.sequencer.lastSeq;
      for (const message of reply.messages) {
        const change = this.revisions.change(message, last !== null && message.seq <= last, false);
        if (change) this.emit('update', change);
      }
      const tail = reply.messages[reply.messages.length - 1];
      if (!reply.has_more || !tail) {
        this.revisions.endCatchUp(reply.last_rev);
        return;
      }
      after = tail.rev;
    }
  }

  /** A `join` or `changes` that failed: for good, or tried again (now, or on the next connection). */
  private failed(error: unknown): void {
    const failure = error instanceof PalaverError ? error : new PalaverError('protocol', String(error));
    if (failure.code === 'not_found' || failure.code === 'forbidden' || failure.code === 'bad_request') {
      this.readyReject(failure);
      this.end();
      this.emit('error', failure);
      return;
    }
    // A drop: the next connection catches up again. A time-out or a store that could not
    // answer while connected: tried again after a pause, a bounded number of times.
    if (failure.code === 'disconnected' || failure.code === 'closed') return;
    if (this.failures < MAX_FAILURES) {
      this.failures += 1;
      setTimeout(() => void this.catchUp(), 500 * 2 ** this.failures);
    } else {
      this.emit('error', failure);
    }
  }

  /** The user is no longer a member. */
  removed(): void {
    if (this.ended) return;
    this.readyReject(new PalaverError('not_found', `the room ${this.roomId} was removed`));
    this.end();
    this.emit('removed', this.roomId);
  }

  /** Stops handing out messages; the client sends `leave`. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.readyReject(new PalaverError('closed', 'the subscription ended'));
    this.joiner.forget(this);
  }

  private deliver(messages: Message[]): void {
    for (const message of messages) this.emit('message', this.revisions.handOut(message));
  }
}
