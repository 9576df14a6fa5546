// connection.js: the one WebSocket to the server (docs/protocol.md sections 1 and 2).
// It matches replies to requests by id, hands server events to the app, and reconnects
// with exponential backoff when the connection drops. The browser answers the server's
// pings by itself.

const MAX_BACKOFF_MS = 10000;
const FIRST_BACKOFF_MS = 400;
const RATE_LIMIT_RETRIES = 3;
/** Our own `ping` every this many heartbeats, to notice a connection that died silently. */
const PING_EVERY_HEARTBEATS = 2;
/** How long a `ping` may wait for its reply: a heartbeat, but never less than this. */
const MIN_PING_TIMEOUT_MS = 5000;

/** A failed command: `code` is the server's error code, or `disconnected`. */
export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Events dispatched: `hello` (detail: the hello frame), `event` (detail: a server event),
 * `down` (detail: {code, everConnected, attempt}), `retry` (detail: {delayMs}), `revoked`.
 */
export class Connection extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.socket = null;
    this.ready = false;
    this.stopped = true;
    this.everConnected = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.nextId = 1;
    this.pending = new Map();
    this.pingTimer = null;
  }

  url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}`;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.dropped(socket, 1000);
    if (socket) socket.close(1000);
  }

  /**
   * The browser answers the server's pings by itself, but cannot tell when a connection died
   * without a close (a laptop that slept, a network that vanished). A `ping` command every
   * two heartbeats, unanswered within a heartbeat (5 s at least), drops the connection and
   * reconnects.
   */
  keepAlive(heartbeatSeconds) {
    clearInterval(this.pingTimer);
    const beatMs = Math.max(1, Number(heartbeatSeconds) || 10) * 1000;
    const socket = this.socket;
    const timeoutMs = Math.max(beatMs, MIN_PING_TIMEOUT_MS);
    this.pingTimer = setInterval(() => this.probe(socket, timeoutMs), beatMs * PING_EVERY_HEARTBEATS);
  }

  probe(socket, timeoutMs) {
    if (socket !== this.socket || !this.ready) return;
    const timer = setTimeout(() => {
      this.dropped(socket, 4000);
      socket.close();
    }, timeoutMs);
    this.requestOnce('ping', {})
      .catch(() => {})
      .finally(() => clearTimeout(timer));
  }

  /** Reconnects now instead of waiting out the backoff (the network came back). */
  retryNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  open() {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener('message', (event) => this.receive(event.data));
    socket.addEventListener('close', (event) => this.dropped(socket, event.code));
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === 'hello') this.greeted(frame);
    else if (frame.type === 'ok' || frame.type === 'error') this.settle(frame);
    else this.emit('event', frame);
  }

  greeted(hello) {
    this.ready = true;
    this.everConnected = true;
    this.attempt = 0;
    this.emit('hello', hello);
  }

  settle(reply) {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (reply.type === 'ok') waiter.resolve(reply.data);
    else waiter.reject(Object.assign(new RequestError(reply.code, reply.message), reply));
  }

  dropped(socket, code) {
    if (!socket || socket !== this.socket) return;
    this.socket = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    for (const waiter of this.pending.values()) {
      waiter.reject(new RequestError('disconnected', 'the connection dropped'));
    }
    this.pending.clear();
    this.emit('down', { code, everConnected: this.everConnected, attempt: this.attempt });
    if (this.stopped) return;
    if (code === 4001) {
      this.stopped = true;
      this.emit('revoked', {});
      return;
    }
    this.scheduleRetry();
  }

  scheduleRetry() {
    const base = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.attempt);
    const delayMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.emit('retry', { delayMs });
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  /** Sends a command; resolves with the reply's `data`, rejects with a RequestError. */
  async request(type, fields = {}) {
    for (let tries = 0; ; tries += 1) {
      try {
        return await this.requestOnce(type, fields);
      } catch (error) {
        if (error.code !== 'rate_limited' || tries >= RATE_LIMIT_RETRIES) throw error;
        await sleep(error.retry_after_ms || 500);
      }
    }
  }

  requestOnce(type, fields) {
    if (!this.ready) {
      return Promise.reject(new RequestError('disconnected', 'not connected'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
