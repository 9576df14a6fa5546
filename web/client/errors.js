// Built from clients/typescript/src/errors.ts by `npm run web` in clients/typescript: edit the source, not this file.
/** A failed command or upload: `code` is the server's error code or a {@link ClientErrorCode}. */
export class PalaverError extends Error {
    code;
    /** From a `rate_limited` error: how long to wait before trying again. */
    retryAfterMs;
    /** The HTTP status, for an upload or download. */
    status;
    constructor(code, message, extra = {}) {
        super(message);
        this.name = 'PalaverError';
        this.code = code;
        this.retryAfterMs = extra.retryAfterMs;
        this.status = extra.status;
    }
    static fromFrame(frame) {
        return new PalaverError(frame.code, frame.message, { retryAfterMs: frame.retry_after_ms });
    }
}
/** Server codes after which the same send, with the same `client_msg_id`, may be sent again. */
export function isRetryable(code) {
    return code === 'rate_limited' || code === 'unavailable' || code === 'disconnected' || code === 'timeout';
}
