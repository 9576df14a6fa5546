import { Emitter } from './emitter.js';
import { PalaverError } from './errors.js';
import type { JoinReply, Message, Room, User } from './frames.js';
import { Sequencer } from './sequencer.js';

/** Failed `join`s in a row, while connected, after which the subscription waits for the next connection. */
const MAX_FAILURES = 5;

/** What a subscription needs of its client. */
export interface Joiner {
  joinPage(room: string, afterSeq: number | undefined, limit: number): Promise<JoinReply>;
  forget(subscription: RoomSubscription): void;
}

export interface RoomEvents {
  /** Each message once, in `seq` order, with no gap: live, and caught up after every reconnect. */
  message: Message;
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
 * false, and hands out each message once, in order.
 */
export class RoomSubscription extends Emitter<RoomEvents> {
  readonly roomId: string;
  room: Room | undefined;
  members: User[] = [];
  private readonly sequencer: Sequencer;
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

  constructor(joiner: Joiner, roomId: string, afterSeq: number | undefined, limit: number) {
    super();
    this.joiner = joiner;
    this.roomId = roomId;
    this.limit = limit;
    this.sequencer = new Sequencer(afterSeq ?? null);
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

  get active(): boolean {
    return !this.ended;
  }

  /** A live `message` event of this room. */
  live(message: Message): void {
    if (this.ended) return;
    this.deliver(this.sequencer.accept(message));
    if (this.sequencer.hasGap && this.sequencer.lastSeq !== null) void this.catchUp();
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
    for (let page = 0; page < 100_000 && !this.ended; page += 1) {
      let reply: JoinReply;
      try {
        reply = await this.joiner.joinPage(this.roomId, this.sequencer.lastSeq ?? undefined, this.limit);
      } catch (error) {
        const failure = error instanceof PalaverError ? error : new PalaverError('protocol', String(error));
        if (failure.code === 'not_found' || failure.code === 'forbidden' || failure.code === 'bad_request') {
          this.readyReject(failure);
          this.end();
          this.emit('error', failure);
        }
        // A drop: the next connection catches up again. A time-out or a store that could not
        // answer while connected: tried again after a pause, a bounded number of times.
        if (failure.code !== 'disconnected' && failure.code !== 'closed' && this.failures < MAX_FAILURES) {
          this.failures += 1;
          setTimeout(() => void this.catchUp(), 500 * 2 ** this.failures);
        } else if (failure.code !== 'disconnected' && failure.code !== 'closed') {
          this.emit('error', failure);
        }
        return;
      }
      if (this.ended) return;
      this.failures = 0;
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
      if (!reply.has_more) break;
    }
    this.readyResolve();
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
    for (const message of messages) this.emit('message', message);
  }
}
