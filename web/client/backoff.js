// Built from clients/typescript/src/backoff.ts by `npm run web` in clients/typescript: edit the source, not this file.
/**
 * The delay before attempt `attempt` (0 for the first reconnect): "equal jitter", a random
 * point in the upper half of the exponential delay, never over `maxMs`.
 */
export function backoffDelay(attempt, options = {}, random = Math.random) {
    const initial = Math.max(1, options.initialMs ?? 250);
    const max = Math.max(initial, options.maxMs ?? 15_000);
    const factor = Math.max(1, options.factor ?? 2);
    const exponent = Math.min(Math.max(0, attempt), 32);
    const ceiling = Math.min(max, initial * factor ** exponent);
    return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
