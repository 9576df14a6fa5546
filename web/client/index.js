// Built from clients/typescript/src/index.ts by `npm run web` in clients/typescript: edit the source, not this file.
/** @palaver/client: a client for the Palaver chat server, protocol version 1. */
export * from './frames.js';
export { PalaverError, isRetryable } from './errors.js';
export { backoffDelay } from './backoff.js';
export { Sequencer } from './sequencer.js';
export { Revisions } from './revisions.js';
export { RoomSubscription } from './room.js';
export { httpBase } from './http.js';
export { PalaverClient, newClientMsgId, } from './client.js';
export { Emitter } from './emitter.js';
