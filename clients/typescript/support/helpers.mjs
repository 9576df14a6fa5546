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

/**
 * What an app shows of a subscription: every message by id at its latest state (`message`
 * events, then `update` events applied), and the updates as they came. `messages`: what the
 * app kept from an earlier run. `problems`: what it saw that a stream must never do.
 */
export function view(subscription, messages = new Map()) {
  const updates = [];
  const problems = [];
  subscription.on('message', (message) => {
    if (messages.has(message.id)) problems.push(`${message.id} handed out twice`);
    messages.set(message.id, message);
  });
  subscription.on('update', (message) => {
    const known = messages.get(message.id);
    if (!known) problems.push(`an update of ${message.id}, which was never handed out`);
    else if (message.rev <= known.rev) problems.push(`${message.id}: rev ${message.rev} after ${known.rev}`);
    messages.set(message.id, message);
    updates.push(message);
  });
  return { messages, updates, problems };
}

/** A message as every reader sees it (`me` aside): what a view must agree with the store on. */
export function shown(message) {
  const { id, seq, body, deleted, edited, rev, mentions, reply_to: replyTo } = message;
  const reactions = message.reactions.map(({ emoji, count }) => ({ emoji, count }));
  return { id, seq, body, deleted, edited, rev, mentions, reply_to: replyTo?.id ?? null, reactions };
}
