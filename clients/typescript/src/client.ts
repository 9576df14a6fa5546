/**
 * The connection: one WebSocket at a time, reconnected with jittered, bounded back-off; every
 * subscribed room resumed with `join` + `after_seq` and `changes` + `after_rev`; sends kept in
 * an outbox until their `ok` and sent again with the same `client_msg_id`; `rate_limited`
 * waited out.
 */
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { PalaverError } from './errors.js';
import {
  PROTOCOL_VERSION,
  type CommandType,
  type Commands,
  type ErrorFrame,
  type FileInfo,
  type HelloFrame,
  type JoinReply,
  type Message,
  type OkFrame,
  type ServerEvent,
  type User,
} from './frames.js';
import * as http from './http.js';
import { Outbox, type OutboxEntry, type OutboxStore, type PendingSend } from './outbox.js';
import { RoomSubscription, type Joiner } from './room.js';

/** The part of a WebSocket this library uses: the browser's, React Native's, or `ws` on Node. */
export interface WebSocketLike {
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` on Node: drop the TCP connection without a closing handshake. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** The server: `https://chat.example.com` (or `wss://…`, with or without `/ws`). */
  url: string;
  /** A token, or a function asked for one before every connection (a JWT that expires). */
  token: string | (() => string | Promise<string>);
  /** The WebSocket class; default the platform's `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** For uploads and the sign-in check; default the platform's `globalThis.fetch`. */
  fetch?: http.FetchLike;
  reconnect?: BackoffOptions;
  /** Sends kept while offline or unacknowledged, at most (default 1,000). */
  maxQueue?: number;
  /** Keeps the outbox across runs (see {@link OutboxStore}). */
  outboxStore?: OutboxStore;
  /** A command's reply must come within this, `rate_limited` waits included (default 20 s). */
  requestTimeoutMs?: number;
  /**
   * How long the keep-alive `ping` (sent every two of the server's heartbeats) may wait for its
   * reply before the connection is taken for dead and made again (default three heartbeats,
   * 10 s at least).
   */
  pingTimeoutMs?: number;
  /** The `hello` must come within this after the socket is made (default 10 s). */
  connectTimeoutMs?: number;
  /** Sends on the wire at once, waiting for their `ok` (default 64). */
  sendWindow?: number;
  /** `unavailable` answers to one send before it fails (default 10). */
  maxSendFailures?: number;
  /** Messages per `join` page when catching up (default 100, at most 200). */
  joinLimit?: number;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'waiting' | 'stopped' | 'closed';

export interface ClientEvents {
  /** A connection said `hello`; `reconnect` is false the first time. */
  open: { hello: HelloFrame; reconnect: boolean };
  /** The connection dropped; `delayMs` is the wait before the next attempt (none when stopped). */
  close: { code: number; reason: string; delayMs?: number };
  state: ConnectionState;
  /** Every server event as it comes (`message` events too, before de-duplication). */
  event: ServerEvent;
  /** A send was acknowledged (also one restored from the outbox store, which has no promise). */
  sent: { pending: PendingSend; message: Message };
  /** A send failed for good (the server refused it, or it ran out of retries). */
  send_failed: { pending: PendingSend; error: PalaverError };
  /**
   * The token is no longer accepted: close 4001 (revoked, user deactivated, disconnected by an
   * admin) or HTTP 401 on connecting. The client stops; `setToken` and `connect` go on.
   */
  unauthorized: { code: number; reason: string };
  /** Something went wrong that no promise reports (an unreadable frame, the outbox store). */
  error: PalaverError;
}

interface Waiter {
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PalaverClient extends Emitter<ClientEvents> implements Joiner {
  private readonly base: string;
  private token: ClientOptions['token'];
  private readonly Socket: WebSocketConstructor | undefined;
  private readonly fetchFn: http.FetchLike | undefined;
  private readonly options: ClientOptions;
  private readonly outbox: Outbox;
  private readonly subscriptions = new Map<string, RoomSubscription>();
  private readonly pending = new Map<number, Waiter>();
  private openWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private ws: WebSocketLike | null = null;
  private greeted = false;
  private everOpen = false;
  private restored: Promise<void> | null = null;
  private nextId = 1;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private pausedUntil = 0;
  /** Sends on the wire at once now: 1 after a `rate_limited`, doubling back up with each `ok`. */
  private window: number;
  private lastToken = '';
  /** The connection's state. */
  state: ConnectionState = 'idle';
  /** The signed-in user, from the latest `hello`. */
  user: User | undefined;

  constructor(options: ClientOptions) {
    super();
    this.options = options;
    this.base = http.httpBase(options.url);
    this.token = options.token;
    const platform = globalThis as { WebSocket?: WebSocketConstructor; fetch?: http.FetchLike };
    this.Socket = options.WebSocket ?? platform.WebSocket;
    this.fetchFn = options.fetch ?? platform.fetch?.bind(globalThis);
    this.window = this.maxWindow;
    this.outbox = new Outbox(options.maxQueue ?? 1000, options.outboxStore, (error) =>
      this.emit('error', new PalaverError('protocol', `the outbox store failed: ${String(error)}`)),
    );
  }

  /** Sends waiting for their `ok`, oldest first. */
  get queued(): PendingSend[] {
    return this.outbox.list().map((entry) => ({ ...entry.item }));
  }

  /** Resolves when every change to the outbox so far is in the outbox store. */
  saved(): Promise<void> {
    return this.outbox.flushed();
  }

  private get maxWindow(): number {
    return Math.min(Math.max(1, this.options.sendWindow ?? 64), 256);
  }

  /** Replaces the token (after `unauthorized`); takes effect on the next connection. */
  setToken(token: ClientOptions['token']): void {
    this.token = token;
  }

  /**
   * Starts connecting (and restores the outbox store the first time). Resolves at the first
   * `hello`; the client then stays connected, reconnecting by itself, until `close()`.
   */
  connect(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new PalaverError('closed', 'the client was closed'));
    if (this.state === 'idle' || this.state === 'stopped') {
      this.attempt = 0;
      this.restored ??= this.outbox.restore().catch((error: unknown) => {
        this.emit('error', new PalaverError('protocol', `the outbox store could not be read: ${String(error)}`));
      });
      this.setState('connecting');
      void this.restored.then(() => this.open());
    }
    return this.whenOpen(Number.POSITIVE_INFINITY);
  }

  /**
   * Closes the connection for good. Sends still queued are rejected with `closed` but stay in
   * the outbox store, so the next run sends them. Resolves when the store has been written.
   */
  close(): Promise<void> {
    if (this.state !== 'closed') {
      this.setState('closed');
      clearTimeout(this.retryTimer);
      clearTimeout(this.pumpTimer);
      const ws = this.ws;
      if (ws) {
        this.dropped(ws, 1000, 'closed by the client');
        try {
          ws.close(1000);
        } catch {
          // Already closing.
        }
      }
      const closed = new PalaverError('closed', 'the client was closed');
      for (const waiter of this.openWaiters) waiter.reject(closed);
      this.openWaiters = [];
      for (const entry of this.outbox.list()) entry.reject?.(closed);
      for (const subscription of [...this.subscriptions.values()]) subscription.end();
    }
    return this.outbox.flushed();
  }

  /**
   * Reconnects now instead of waiting out the back-off, when the app learns that the network
   * is back (a browser's `online` event, an app back in the foreground). Does nothing unless
   * the client is waiting to reconnect.
   */
  reconnectNow(): void {
    if (this.state !== 'waiting' || this.ws) return;
    clearTimeout(this.retryTimer);
    void this.open();
  }

  /**
   * Sends a command and resolves with its reply's `data`. Waits for a connection (within the
   * time-out) and waits out `rate_limited`. A drop before the reply rejects with
   * `disconnected`: the command may or may not have been carried out. For messages use
   * {@link send}, which is safe to retry.
   */
  async request<K extends CommandType>(
    type: K,
    fields: Commands[K]['fields'],
    options: { timeoutMs?: number } = {},
  ): Promise<Commands[K]['reply']> {
    const deadline = Date.now() + (options.timeoutMs ?? this.options.requestTimeoutMs ?? 20_000);
    for (;;) {
      await this.whenOpen(deadline);
      // After a `rate_limited` (to this command or any other) nothing is sent until it is over.
      const paused = this.pausedUntil - Date.now();
      if (paused > 0) {
        if (Date.now() + paused > deadline) throw new PalaverError('timeout', 'rate limited past the time-out');
        await http.sleep(paused);
        continue;
      }
      try {
        return (await this.requestOnce(type, fields, deadline - Date.now())) as Commands[K]['reply'];
      } catch (error) {
        if (!(error instanceof PalaverError) || error.code !== 'rate_limited') throw error;
        // A little jitter, so that the commands refused together are not sent together again.
        const wait = Math.min(error.retryAfterMs ?? 1000, 60_000) * (1 + Math.random() / 2);
        if (Date.now() + wait > deadline) throw error;
        this.pause(wait);
      }
    }
  }

  /**
   * Sends a message. It is queued (bounded: `queue_full` past `maxQueue`) and sent when
   * connected, again after every drop with the same `client_msg_id` until the server
   * acknowledges it, so it is stored once. Resolves with the stored message.
   */
  send(
    room: string,
    body: string,
    options: { files?: string[]; replyTo?: string; mentions?: string[]; clientMsgId?: string } = {},
  ): Promise<Message> {
    if (this.state === 'closed') return Promise.reject(new PalaverError('closed', 'the client was closed'));
    if (this.outbox.full) {
      return Promise.reject(new PalaverError('queue_full', `${this.outbox.max} sends are already waiting`));
    }
    const item: PendingSend = {
      client_msg_id: options.clientMsgId ?? newClientMsgId(),
      room,
      body,
      queued_at: Date.now(),
    };
    if (options.files && options.files.length > 0) item.files = [...options.files];
    if (options.replyTo) item.reply_to = options.replyTo;
    if (options.mentions && options.mentions.length > 0) item.mentions = [...options.mentions];
    return new Promise((resolve, reject) => {
      this.outbox.push({ item, inFlight: null, failures: 0, resolve, reject });
      this.pump();
    });
  }

  /**
   * The room's message stream: joins it now (if connected) and again on every reconnection
   * with `after_seq`, handing out each message once, in order, then asks `changes` for what
   * changed meanwhile (`update` events). `afterSeq` and `afterRev`: the subscription's
   * `lastSeq` and `lastRev` kept from an earlier run; without `afterSeq` the stream starts with
   * the newest page, without `afterRev` the changes start at the room's `last_rev` then.
   */
  subscribe(room: string, options: { afterSeq?: number; afterRev?: number; limit?: number } = {}): RoomSubscription {
    const existing = this.subscriptions.get(room);
    if (existing?.active) return existing;
    const limit = Math.min(Math.max(1, options.limit ?? this.options.joinLimit ?? 100), 200);
    const subscription = new RoomSubscription(this, room, options.afterSeq, limit, options.afterRev);
    this.subscriptions.set(room, subscription);
    if (this.state === 'open') void subscription.catchUp();
    return subscription;
  }

  /** Uploads a file (section 9); pass the result's `id` in `send`'s `files`. */
  async upload(body: http.UploadBody, name: string, options: http.UploadOptions = {}): Promise<FileInfo> {
    return http.upload(this.needFetch(), this.base, await this.tokenValue(), body, name, options);
  }

  /** A file's bytes (or its thumbnail's). */
  async download(fileId: string, options: { thumbnail?: boolean } = {}): Promise<ArrayBuffer> {
    const path = `/files/${encodeURIComponent(fileId)}${options.thumbnail ? '/thumbnail' : ''}`;
    return http.download(this.needFetch(), this.base, await this.tokenValue(), path);
  }

  /** A URL for an `<img src>` (the token in the query: keep it out of logs and referrers). */
  fileUrl(fileId: string, options: { thumbnail?: boolean } = {}): string {
    const path = `/files/${encodeURIComponent(fileId)}${options.thumbnail ? '/thumbnail' : ''}`;
    return `${this.base}${path}?token=${encodeURIComponent(this.lastToken)}`;
  }

  // ---- Joiner, for RoomSubscription ----

  /** @internal */
  joinPage(room: string, afterSeq: number | undefined, limit: number): Promise<JoinReply> {
    if (this.state !== 'open') return Promise.reject(new PalaverError('disconnected', 'not connected'));
    const fields: Commands['join']['fields'] = { room, limit };
    if (afterSeq !== undefined) fields.after_seq = afterSeq;
    return this.request('join', fields);
  }

  /** @internal */
  changesPage(room: string, afterRev: number, limit: number): Promise<Commands['changes']['reply']> {
    if (this.state !== 'open') return Promise.reject(new PalaverError('disconnected', 'not connected'));
    return this.request('changes', { room, after_rev: afterRev, limit });
  }

  /** @internal */
  forget(subscription: RoomSubscription): void {
    if (this.subscriptions.get(subscription.roomId) !== subscription) return;
    this.subscriptions.delete(subscription.roomId);
    if (this.state !== 'open') return;
    this.requestOnce('leave', { room: subscription.roomId }, this.options.requestTimeoutMs ?? 20_000).catch(
      (error: unknown) => {
        const code = error instanceof PalaverError ? error.code : '';
        if (code !== 'disconnected' && code !== 'not_found' && code !== 'closed') {
          this.emit('error', error instanceof PalaverError ? error : new PalaverError('protocol', String(error)));
        }
      },
    );
  }

  // ---- the connection ----

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private async tokenValue(): Promise<string> {
    const token = typeof this.token === 'function' ? await this.token() : this.token;
    this.lastToken = token;
    return token;
  }

  private needFetch(): http.FetchLike {
    if (!this.fetchFn) throw new TypeError('no fetch on this platform: pass `fetch` in the options');
    return this.fetchFn;
  }

  private async open(): Promise<void> {
    if (this.state === 'closed' || this.state === 'stopped' || this.state === 'open' || this.ws) return;
    this.setState('connecting');
    if (!this.Socket) {
      this.emit('error', new PalaverError('protocol', 'no WebSocket on this platform: pass `WebSocket` in the options'));
      this.setState('stopped');
      return;
    }
    let ws: WebSocketLike;
    try {
      const token = await this.tokenValue();
      if (this.state !== 'connecting' || this.ws) return;
      ws = new this.Socket(http.wsUrl(this.base, token));
    } catch (error) {
      this.emit('error', new PalaverError('protocol', `could not connect: ${String(error)}`));
      this.retry(false, 1006, String(error));
      return;
    }
    this.ws = ws;
    this.greeted = false;
    ws.onmessage = (event) => this.receive(ws, event.data);
    ws.onclose = (event) => this.dropped(ws, event.code, event.reason);
    ws.onerror = () => undefined; // A close follows.
    const limit = this.options.connectTimeoutMs ?? 10_000;
    this.connectTimer = setTimeout(() => this.abandon(ws, 'no hello in time'), limit);
  }

  /** Drops a connection the client gave up on, without waiting for a closing handshake. */
  private abandon(ws: WebSocketLike, reason: string): void {
    this.dropped(ws, 1006, reason);
    try {
      if (ws.terminate) ws.terminate();
      else ws.close();
    } catch {
      // Already closed.
    }
  }

  private receive(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.ws) return;
    let frame: { type?: unknown } | null = null;
    try {
      frame = typeof data === 'string' ? (JSON.parse(data) as { type?: unknown }) : null;
    } catch {
      frame = null;
    }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') {
      this.emit('error', new PalaverError('protocol', `an unreadable frame from the server: ${String(data).slice(0, 200)}`));
      return;
    }
    switch (frame.type) {
      case 'hello':
        this.hello(ws, frame as HelloFrame);
        return;
      case 'ok':
      case 'error':
        this.settle(frame as OkFrame | ErrorFrame);
        return;
      default:
        this.event(frame as ServerEvent);
    }
  }

  private hello(ws: WebSocketLike, hello: HelloFrame): void {
    clearTimeout(this.connectTimer);
    if (hello.protocol !== PROTOCOL_VERSION) {
      const error = new PalaverError('protocol', `the server speaks protocol ${hello.protocol}; this library speaks ${PROTOCOL_VERSION}`);
      this.emit('error', error);
      this.setState('stopped');
      this.dropped(ws, 1002, error.message);
      ws.close(1000);
      for (const waiter of this.openWaiters) waiter.reject(error);
      this.openWaiters = [];
      return;
    }
    this.greeted = true;
    this.user = hello.user;
    this.attempt = 0;
    this.setState('open');
    const reconnect = this.everOpen;
    this.everOpen = true;
    for (const subscription of this.subscriptions.values()) void subscription.catchUp();
    this.pump();
    this.keepAlive(ws, hello.heartbeat_s);
    for (const waiter of this.openWaiters) waiter.resolve();
    this.openWaiters = [];
    this.emit('open', { hello, reconnect });
  }

  /**
   * A `ping` command every two heartbeats: a connection whose peer vanished (a laptop that
   * slept, a network that went away) never closes by itself. Unanswered within three
   * heartbeats (10 s at least), the connection is dropped and made again.
   */
  private keepAlive(ws: WebSocketLike, heartbeatSeconds: number): void {
    clearInterval(this.pingTimer);
    const beatMs = Math.max(1, Number(heartbeatSeconds) || 10) * 1000;
    let waiting = false;
    this.pingTimer = setInterval(() => {
      if (ws !== this.ws || waiting) return;
      waiting = true;
      this.requestOnce('ping', {}, this.options.pingTimeoutMs ?? Math.max(3 * beatMs, 10_000))
        .catch((error: unknown) => {
          if (error instanceof PalaverError && error.code === 'timeout' && ws === this.ws) {
            this.abandon(ws, 'the server did not answer a ping');
          }
        })
        .finally(() => {
          waiting = false;
        });
    }, 2 * beatMs);
  }

  private dropped(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = null;
    clearTimeout(this.connectTimer);
    clearInterval(this.pingTimer);
    const greeted = this.greeted;
    this.greeted = false;
    const lost = new PalaverError('disconnected', `the connection dropped (${code}) before the reply came`);
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(lost);
    }
    this.pending.clear();
    this.outbox.landAll();
    if (this.state === 'closed' || this.state === 'stopped') {
      this.emit('close', { code, reason });
      return;
    }
    if (code === 4001) {
      this.stop(code, reason);
      return;
    }
    if (greeted) {
      this.retry(code === 4002, code, reason);
      return;
    }
    // Refused before the upgrade: a browser cannot tell a 401 from a network error, so ask.
    this.setState('waiting');
    void this.signInRefused().then((refused) => {
      if (this.state !== 'waiting' || this.ws) return;
      if (refused) this.stop(401, 'the server refused the token');
      else this.retry(false, code, reason);
    });
  }

  /** True when the server answers the token with 401 (a plain GET of /ws, no upgrade). */
  private async signInRefused(): Promise<boolean> {
    if (!this.fetchFn) return false;
    try {
      const response = await this.fetchFn(http.wsUrl(this.base, this.lastToken).replace(/^ws/, 'http'));
      await response.text().catch(() => '');
      return response.status === 401;
    } catch {
      return false;
    }
  }

  private stop(code: number, reason: string): void {
    this.setState('stopped');
    this.emit('close', { code, reason });
    this.emit('unauthorized', { code, reason });
    const error = new PalaverError('unauthorized', reason || 'the server no longer accepts this token');
    for (const waiter of this.openWaiters) waiter.reject(error);
    this.openWaiters = [];
  }

  private retry(soon: boolean, code: number, reason: string): void {
    const delayMs = backoffDelay(soon ? 0 : this.attempt, this.options.reconnect);
    if (!soon) this.attempt += 1;
    this.setState('waiting');
    this.emit('close', { code, reason, delayMs });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.open(), delayMs);
  }

  private whenOpen(deadline: number): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new PalaverError('closed', 'the client was closed'));
    if (this.state === 'stopped') {
      return Promise.reject(new PalaverError('unauthorized', 'the server no longer accepts this token'));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const wait = deadline - Date.now();
      const timer = Number.isFinite(wait)
        ? setTimeout(() => {
            this.openWaiters = this.openWaiters.filter((other) => other !== waiter);
            reject(new PalaverError('timeout', 'not connected in time'));
          }, Math.max(0, wait))
        : undefined;
      this.openWaiters.push(waiter);
    });
  }

  private requestOnce(type: string, fields: object, timeoutMs: number): Promise<unknown> {
    const ws = this.ws;
    if (!ws || this.state !== 'open') return Promise.reject(new PalaverError('disconnected', 'not connected'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PalaverError('timeout', `no reply to \`${type}\` in ${timeoutMs} ms`));
      }, Math.max(0, timeoutMs));
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  private settle(frame: OkFrame | ErrorFrame): void {
    if (typeof frame.id !== 'number') {
      // `"id":null`: an error about no command of ours in particular (`unauthorized` before 4001).
      if (frame.type === 'error') this.emit('error', PalaverError.fromFrame(frame));
      return;
    }
    const waiter = this.pending.get(frame.id);
    if (waiter) {
      this.pending.delete(frame.id);
      clearTimeout(waiter.timer);
      if (frame.type === 'ok') waiter.resolve(frame.data);
      else waiter.reject(PalaverError.fromFrame(frame));
      return;
    }
    const entry = this.outbox.byRequest(frame.id);
    if (entry) this.sendSettled(entry, frame);
  }

  private event(event: ServerEvent): void {
    if (event.type === 'message') this.subscriptions.get(event.message.room)?.live(event.message);
    else if (event.type === 'message_updated') this.subscriptions.get(event.room)?.updated(event.message);
    else if (event.type === 'room_removed') this.subscriptions.get(event.room)?.removed();
    this.emit('event', event);
  }

  // ---- the outbox ----

  /** Puts queued sends on the wire, in order, up to the window. */
  private pump(): void {
    const ws = this.ws;
    if (!ws || this.state !== 'open') return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      clearTimeout(this.pumpTimer);
      this.pumpTimer = setTimeout(() => this.pump(), wait);
      return;
    }
    const window = this.window;
    let inFlight = this.outbox.list().filter((entry) => entry.inFlight !== null).length;
    for (const entry of this.outbox.list()) {
      if (inFlight >= window) break;
      if (entry.inFlight !== null) continue;
      const id = this.nextId++;
      entry.inFlight = id;
      inFlight += 1;
      const { queued_at: _queued, ...fields } = entry.item;
      ws.send(JSON.stringify({ type: 'send', id, ...fields }));
    }
  }

  private sendSettled(entry: OutboxEntry, frame: OkFrame | ErrorFrame): void {
    entry.inFlight = null;
    if (frame.type === 'ok') {
      const message = (frame.data as { message: Message }).message;
      this.outbox.remove(entry);
      this.window = Math.min(this.maxWindow, this.window * 2);
      entry.resolve?.(message);
      this.emit('sent', { pending: { ...entry.item }, message });
    } else {
      const error = PalaverError.fromFrame(frame);
      if (error.code === 'rate_limited') {
        this.window = 1;
        this.pause(Math.min(error.retryAfterMs ?? 1000, 60_000));
      } else if (error.code === 'unavailable' && entry.failures < (this.options.maxSendFailures ?? 10)) {
        entry.failures += 1;
        this.pause(backoffDelay(entry.failures - 1, { initialMs: 500, maxMs: 10_000 }));
      } else {
        this.outbox.remove(entry);
        entry.reject?.(error);
        this.emit('send_failed', { pending: { ...entry.item }, error });
      }
    }
    this.pump();
  }

  private pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }
}

/** A fresh `client_msg_id`: `c_` and 32 hex digits (128 random bits where the platform has crypto). */
export function newClientMsgId(): string {
  const bytes = new Uint8Array(16);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return `c_${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}
