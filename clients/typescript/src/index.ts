/** @palaver/client: a client for the Palaver chat server, protocol version 1. */
export * from './frames.js';
export { PalaverError, isRetryable, type ClientErrorCode } from './errors.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { Sequencer } from './sequencer.js';
export { Revisions } from './revisions.js';
export type { OutboxStore, PendingSend } from './outbox.js';
export { RoomSubscription, type RoomEvents } from './room.js';
export { httpBase, type FetchLike, type UploadBody, type UploadOptions } from './http.js';
export {
  PalaverClient,
  newClientMsgId,
  type ClientEvents,
  type ClientOptions,
  type ConnectionState,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.js';
export { Emitter, type Listener } from './emitter.js';
