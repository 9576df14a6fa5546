// Clients for the end-to-end tests: the library on Node with the `ws` WebSocket, reconnecting
// fast so that the tests stay short.
import { writeFileSync, readFileSync, existsSync, renameSync } from 'node:fs';
import WebSocket from 'ws';

import { PalaverClient } from '../dist/index.js';

export function client(base, token, options = {}) {
  return new PalaverClient({
    url: base,
    token,
    WebSocket,
    reconnect: { initialMs: 50, maxMs: 400 },
    requestTimeoutMs: 15_000,
    ...options,
  });
}

/** An outbox store in a JSON file, written whole and renamed into place on every change. */
export function fileStore(path) {
  return {
    load: () => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : []),
    save: (items) => {
      writeFileSync(`${path}.tmp`, JSON.stringify(items));
      renameSync(`${path}.tmp`, path);
    },
  };
}

/** Collects a subscription's stream. */
export function collect(subscription) {
  const got = [];
  subscription.on('message', (message) => got.push(message));
  return got;
}

/** Asserts `messages` are seq 1..n exactly, with the bodies `bodies` each once. */
export function assertGapless(assert, messages, bodies, what) {
  assert.deepEqual(
    messages.map((m) => m.seq),
    Array.from({ length: messages.length }, (_, i) => i + 1),
    `${what}: seq 1..n, no gap, no repeat`,
  );
  assert.deepEqual([...messages.map((m) => m.body)].sort(), [...bodies].sort(), `${what}: every body once`);
}
