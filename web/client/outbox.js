// Built from clients/typescript/src/outbox.ts by `npm run web` in clients/typescript: edit the source, not this file.
/** The sends not yet acknowledged: bounded, in memory, with a hook to persist them. */
export class Outbox {
    max;
    entries = [];
    store;
    saving = Promise.resolve();
    onSaveError;
    constructor(max, store, onSaveError) {
        this.max = Math.max(1, max);
        this.store = store;
        this.onSaveError = onSaveError;
    }
    get size() {
        return this.entries.length;
    }
    get full() {
        return this.entries.length >= this.max;
    }
    list() {
        return this.entries;
    }
    /** Reads the store (once); entries already queued keep their place after the restored ones. */
    async restore() {
        if (!this.store)
            return;
        const loaded = await this.store.load();
        if (!Array.isArray(loaded))
            return;
        const known = new Set(this.entries.map((entry) => entry.item.client_msg_id));
        const restored = [];
        for (const item of loaded) {
            if (!isPendingSend(item) || known.has(item.client_msg_id))
                continue;
            known.add(item.client_msg_id);
            restored.push({ item, inFlight: null, failures: 0 });
        }
        // Nothing is dropped: past `max` (a smaller bound than the last run's) new sends are refused
        // until the queue drains.
        this.entries = [...restored, ...this.entries];
    }
    push(entry) {
        this.entries.push(entry);
        this.persist();
    }
    remove(entry) {
        const index = this.entries.indexOf(entry);
        if (index < 0)
            return;
        this.entries.splice(index, 1);
        this.persist();
    }
    byRequest(id) {
        return this.entries.find((entry) => entry.inFlight === id);
    }
    /** Nothing is in flight any more (the connection dropped). */
    landAll() {
        for (const entry of this.entries)
            entry.inFlight = null;
    }
    /** Resolves when every save asked for so far is done. */
    flushed() {
        return this.saving;
    }
    persist() {
        const store = this.store;
        if (!store)
            return;
        const snapshot = this.entries.map((entry) => ({ ...entry.item }));
        this.saving = this.saving
            .then(() => store.save(snapshot))
            .catch((error) => this.onSaveError(error));
    }
}
function isPendingSend(value) {
    if (typeof value !== 'object' || value === null)
        return false;
    const item = value;
    const strings = (list) => list === undefined || (Array.isArray(list) && list.every((id) => typeof id === 'string'));
    return (typeof item.client_msg_id === 'string' &&
        typeof item.room === 'string' &&
        typeof item.body === 'string' &&
        strings(item.files) &&
        strings(item.mentions) &&
        (item.reply_to === undefined || typeof item.reply_to === 'string'));
}
