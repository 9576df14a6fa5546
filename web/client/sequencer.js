// Built from clients/typescript/src/sequencer.ts by `npm run web` in clients/typescript: edit the source, not this file.
/**
 * Puts one room's messages in `seq` order with no gap and no repeat, whichever way they came
 * (a `join` page, a live event, a page fetched again after a reconnect). Pure: no I/O.
 */
export class Sequencer {
    /** The seq of the last message handed out; null before the first page told where to start. */
    lastSeq;
    waiting = new Map();
    maxWaiting;
    constructor(lastSeq = null, maxWaiting = 10_000) {
        this.lastSeq = lastSeq;
        this.maxWaiting = maxWaiting;
    }
    /** Messages held back because an earlier one has not come yet. */
    get waitingCount() {
        return this.waiting.size;
    }
    /** True while a message past the next expected one is held back. */
    get hasGap() {
        return this.waiting.size > 0;
    }
    /**
     * Sets the start when it was not known (the first page without `after_seq`); returns the
     * held-back messages that may now be handed out.
     */
    startAt(lastSeq) {
        if (this.lastSeq !== null)
            return [];
        this.lastSeq = lastSeq;
        for (const seq of [...this.waiting.keys()])
            if (seq <= lastSeq)
                this.waiting.delete(seq);
        return this.drain();
    }
    /**
     * Takes one message; returns the messages that may now be handed out, in order (none when
     * it is a repeat or comes after a gap). Past `maxWaiting` held-back messages the oldest are
     * let go: a later page brings them again.
     */
    accept(message) {
        const seq = message.seq;
        if (!Number.isSafeInteger(seq) || seq < 1)
            return [];
        if (this.lastSeq !== null && seq <= this.lastSeq)
            return [];
        if (this.waiting.has(seq))
            return [];
        this.waiting.set(seq, message);
        if (this.waiting.size > this.maxWaiting) {
            const highest = Math.max(...this.waiting.keys());
            this.waiting.clear();
            if (seq === highest)
                this.waiting.set(seq, message);
        }
        return this.drain();
    }
    drain() {
        const out = [];
        if (this.lastSeq === null)
            return out;
        for (;;) {
            const next = this.waiting.get(this.lastSeq + 1);
            if (!next)
                break;
            this.waiting.delete(next.seq);
            this.lastSeq = next.seq;
            out.push(next);
        }
        return out;
    }
}
