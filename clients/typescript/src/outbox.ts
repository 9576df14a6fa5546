/** The sends not yet acknowledged: bounded, in memory, with a hook to persist them. */

/** One send waiting for its `ok`; what a {@link OutboxStore} keeps. */
export interface PendingSend {
  client_msg_id: string;
  room: string;
  body: string;
  files?: string[];
  /** Section 11: the message this one answers. */
  reply_to?: string;
  /** Section 11: the members it mentions. */
  mentions?: string[];
  /** When the app asked for the send (ms since the epoch). */
  queued_at: number;
}

/**
 * Where the offline queue is kept between runs (localStorage, AsyncStorage, a file). `save`
 * gets the whole queue after every change, in order; `load` is read once, by the first
 * `connect()`. A send restored from it is sent again with its `client_msg_id`, so the server
 * stores it once whatever happened before the app stopped.
 */
export interface OutboxStore {
  load(): PendingSend[] | Promise<PendingSend[]>;
  save(items: PendingSend[]): void | Promise<void>;
}

export interface OutboxEntry {
  item: PendingSend;
  /** The request id of the frame on the wire, or null when not in flight. */
  inFlight: number | null;
  /** `unavailable` answers so far (a drop or `rate_limited` does not count). */
  failures: number;
  resolve?: (message: import('./frames.js').Message) => void;
  reject?: (error: Error) => void;
}

export class Outbox {
  readonly max: number;
  private entries: OutboxEntry[] = [];
  private readonly store: OutboxStore | undefined;
  private saving: Promise<void> = Promise.resolve();
  private readonly onSaveError: (error: unknown) => void;

  constructor(max: number, store: OutboxStore | undefined, onSaveError: (error: unknown) => void) {
    this.max = Math.max(1, max);
    this.store = store;
    this.onSaveError = onSaveError;
  }

  get size(): number {
    return this.entries.length;
  }

  get full(): boolean {
    return this.entries.length >= this.max;
  }

  list(): readonly OutboxEntry[] {
    return this.entries;
  }

  /** Reads the store (once); entries already queued keep their place after the restored ones. */
  async restore(): Promise<void> {
    if (!this.store) return;
    const loaded = await this.store.load();
    if (!Array.isArray(loaded)) return;
    const known = new Set(this.entries.map((entry) => entry.item.client_msg_id));
    const restored: OutboxEntry[] = [];
    for (const item of loaded) {
      if (!isPendingSend(item) || known.has(item.client_msg_id)) continue;
      known.add(item.client_msg_id);
      restored.push({ item, inFlight: null, failures: 0 });
    }
    // Nothing is dropped: past `max` (a smaller bound than the last run's) new sends are refused
    // until the queue drains.
    this.entries = [...restored, ...this.entries];
  }

  push(entry: OutboxEntry): void {
    this.entries.push(entry);
    this.persist();
  }

  remove(entry: OutboxEntry): void {
    const index = this.entries.indexOf(entry);
    if (index < 0) return;
    this.entries.splice(index, 1);
    this.persist();
  }

  byRequest(id: number): OutboxEntry | undefined {
    return this.entries.find((entry) => entry.inFlight === id);
  }

  /** Nothing is in flight any more (the connection dropped). */
  landAll(): void {
    for (const entry of this.entries) entry.inFlight = null;
  }

  /** Resolves when every save asked for so far is done. */
  flushed(): Promise<void> {
    return this.saving;
  }

  private persist(): void {
    const store = this.store;
    if (!store) return;
    const snapshot = this.entries.map((entry) => ({ ...entry.item }));
    this.saving = this.saving
      .then(() => store.save(snapshot))
      .catch((error: unknown) => this.onSaveError(error));
  }
}

function isPendingSend(value: unknown): value is PendingSend {
  if (typeof value !== 'object' || value === null) return false;
  const item = value as Record<string, unknown>;
  const strings = (list: unknown) =>
    list === undefined || (Array.isArray(list) && list.every((id) => typeof id === 'string'));
  return (
    typeof item.client_msg_id === 'string' &&
    typeof item.room === 'string' &&
    typeof item.body === 'string' &&
    strings(item.files) &&
    strings(item.mentions) &&
    (item.reply_to === undefined || typeof item.reply_to === 'string')
  );
}
