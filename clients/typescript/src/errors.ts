import type { ErrorCode, ErrorFrame } from './frames.js';

/**
 * Codes the library itself gives, beside the server's (section 2):
 * - `disconnected`: the connection dropped before the reply came; the command may or may not
 *   have been carried out (sends are not affected: they are retried with their `client_msg_id`).
 * - `timeout`: no reply within the request's time-out.
 * - `closed`: the client was closed with {@link PalaverClient.close}.
 * - `queue_full`: the offline queue holds `maxQueue` sends already.
 * - `protocol`: the server speaks another protocol version, or sent something unreadable.
 */
export type ClientErrorCode = 'disconnected' | 'timeout' | 'closed' | 'queue_full' | 'protocol';

/** A failed command or upload: `code` is the server's error code or a {@link ClientErrorCode}. */
export class PalaverError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  /** From a `rate_limited` error: how long to wait before trying again. */
  readonly retryAfterMs: number | undefined;
  /** The HTTP status, for an upload or download. */
  readonly status: number | undefined;

  constructor(code: ErrorCode | ClientErrorCode, message: string, extra: { retryAfterMs?: number; status?: number } = {}) {
    super(message);
    this.name = 'PalaverError';
    this.code = code;
    this.retryAfterMs = extra.retryAfterMs;
    this.status = extra.status;
  }

  static fromFrame(frame: ErrorFrame): PalaverError {
    return new PalaverError(frame.code, frame.message, { retryAfterMs: frame.retry_after_ms });
  }
}

/** Server codes after which the same send, with the same `client_msg_id`, may be sent again. */
export function isRetryable(code: string): boolean {
  return code === 'rate_limited' || code === 'unavailable' || code === 'disconnected' || code === 'timeout';
}
