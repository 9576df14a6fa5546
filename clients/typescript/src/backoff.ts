/** Reconnect delays: exponential, bounded, with jitter so that clients do not reconnect in step. */
export interface BackoffOptions {
  /** The first delay before jitter (default 250 ms). */
  initialMs?: number;
  /** The longest delay (default 15 s). */
  maxMs?: number;
  /** Each failed attempt multiplies the delay by this (default 2). */
  factor?: number;
}

/**
 * The delay before attempt `attempt` (0 for the first reconnect): "equal jitter", a random
 * point in the upper half of the exponential delay, never over `maxMs`.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = Math.max(1, options.initialMs ?? 250);
  const max = Math.max(initial, options.maxMs ?? 15_000);
  const factor = Math.max(1, options.factor ?? 2);
  const exponent = Math.min(Math.max(0, attempt), 32);
  const ceiling = Math.min(max, initial * factor ** exponent);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
