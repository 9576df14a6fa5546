// Built from clients/typescript/src/emitter.ts by `npm run web` in clients/typescript: edit the source, not this file.
export class Emitter {
    listeners = new Map();
    /** Adds a listener; returns the function that removes it. */
    on(name, listener) {
        let set = this.listeners.get(name);
        if (!set) {
            set = new Set();
            this.listeners.set(name, set);
        }
        set.add(listener);
        return () => this.off(name, listener);
    }
    off(name, listener) {
        this.listeners.get(name)?.delete(listener);
    }
    /**
     * Calls every listener. A listener that throws does not stop the others or the client:
     * its error is rethrown on its own (reported as uncaught, as EventTarget does).
     */
    emit(name, value) {
        const set = this.listeners.get(name);
        if (!set || set.size === 0) {
            // An error nobody listens for is still said, never dropped without a word.
            if (name === 'error')
                console.warn('@palaver/client:', value);
            return;
        }
        for (const listener of [...set]) {
            try {
                listener(value);
            }
            catch (error) {
                setTimeout(() => {
                    throw error;
                }, 0);
            }
        }
    }
}
