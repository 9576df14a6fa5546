// Built from clients/typescript/src/frames.ts by `npm run web` in clients/typescript: edit the source, not this file.
/**
 * The frames and objects of the Palaver protocol, version 1 (docs/protocol.md). The server
 * only ever adds fields, so every object may carry more than is typed here.
 */
/** The protocol version this library speaks: the major version of the package. */
export const PROTOCOL_VERSION = 1;
/** Section 2: close codes a client acts on. */
export const CloseCode = {
    /** Normal close; also a connection silent for three heartbeats: reconnect. */
    NORMAL: 1000,
    /** The server is shutting down: reconnect. */
    GOING_AWAY: 1001,
    /** Over the rate limit for ten seconds: reconnect after the back-off. */
    POLICY: 1008,
    /** The token was revoked, the user deactivated or disconnected by an admin: do not reconnect with this token. */
    UNAUTHORIZED: 4001,
    /** The client could not keep up, or its room restarted: reconnect and resume. */
    TOO_SLOW: 4002,
};
