// The pure parts: back-off, the sequencer, URLs, ids, the outbox store's input.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import WebSocket from 'ws';

import { backoffDelay, httpBase, newClientMsgId, Revisions, Sequencer, PalaverClient } from '../dist/index.js';

const message = (seq, room = 'r_1') => ({ id: `m_1_${seq}`, room, seq, body: `b${seq}` });

test('back-off grows, is bounded, and is jittered within the upper half', () => {
  const options = { initialMs: 100, maxMs: 1000 };
  assert.equal(backoffDelay(0, options, () => 0), 50);
  assert.equal(backoffDelay(0, options, () => 1), 100);
  assert.equal(backoffDelay(3, options, () => 1), 800);
  assert.equal(backoffDelay(50, options, () => 1), 1000);
  assert.equal(backoffDelay(1e9, options, () => 0), 500);
  const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(2)));
  assert.ok(seen.size > 10, 'jitter spreads the delays');
  for (const delay of seen) assert.ok(delay >= 500 && delay <= 1000, `${delay} in [500, 1000]`);
});

test('the sequencer hands out each message once, in seq order, with no gap', () => {
  const sequencer = new Sequencer(2);
  assert.deepEqual(sequencer.accept(message(2)), [], 'at or before the start: a repeat');
  assert.deepEqual(sequencer.accept(message(5)), [], 'after a gap: held back');
  assert.equal(sequencer.hasGap, true);
  assert.deepEqual(sequencer.accept(message(4)), []);
  assert.deepEqual(sequencer.accept(message(4)), [], 'a repeat while held back');
  assert.deepEqual(sequencer.accept(message(3)).map((m) => m.seq), [3, 4, 5]);
  assert.equal(sequencer.lastSeq, 5);
  assert.equal(sequencer.hasGap, false);
  assert.deepEqual(sequencer.accept(message(3)), [], 'a repeat after delivery');
  assert.deepEqual(sequencer.accept({ ...message(6), seq: -1 }), [], 'a nonsense seq');
  assert.deepEqual(sequencer.accept(message(6)).map((m) => m.seq), [6]);
});

const state = (seq, rev, body = `b${seq} at ${rev}`) => ({ ...message(seq), rev, body });

test('revisions hand out each state of a message once, never an older after a newer', () => {
  const revisions = new Revisions(4);
  assert.equal(revisions.change(state(1, 5), true, true)?.rev, 5, 'a live change');
  assert.equal(revisions.lastRev, 5, 'a live change moves lastRev');
  assert.equal(revisions.change(state(1, 5), true, false), null, 'the same state again (a changes page)');
  assert.equal(revisions.change(state(1, 3), true, false), null, 'an older state');
  assert.equal(revisions.change(state(1, 0), true, true), null, 'rev 0 is no change');
  assert.equal(revisions.change(state(2, 6), true, true)?.rev, 6);
  assert.equal(revisions.change(state(1, 7), true, true)?.body, 'b1 at 7');
  assert.equal(revisions.lastRev, 7);
  assert.equal(revisions.needsChanges(7), false);
  assert.equal(revisions.needsChanges(9), true);
});

test('revisions: live changes during a catch-up move lastRev only when it ends', () => {
  const revisions = new Revisions(4);
  revisions.beginCatchUp();
  assert.equal(revisions.change(state(3, 9), true, true)?.rev, 9, 'handed out at once');
  assert.equal(revisions.lastRev, 4, 'but a changes page of 5..8 may still be missing');
  assert.equal(revisions.change(state(1, 6), true, false)?.rev, 6, 'the changes page');
  assert.equal(revisions.change(state(3, 8), true, false), null, 'older than the live state');
  revisions.endCatchUp(8);
  assert.equal(revisions.lastRev, 9, 'the live change counts now');
  const cut = new Revisions(4);
  cut.beginCatchUp();
  cut.change(state(3, 9), true, true);
  cut.beginCatchUp();
  assert.equal(cut.lastRev, 4, 'a catch-up cut short starts again from where it was');
});

test('revisions: a change to a message not handed out yet is held and shown by its message', () => {
  const revisions = new Revisions(null);
  assert.equal(revisions.change(state(7, 3), false, true), null);
  assert.equal(revisions.change(state(7, 2), false, true), null, 'an older held state is dropped');
  assert.equal(revisions.lastRev, null, 'nothing is known before the first join');
  assert.equal(revisions.handOut(state(7, 0)).body, 'b7 at 3', 'the message shows its latest state');
  assert.equal(revisions.change(state(7, 3), true, false), null, 'and that state is not handed out again');
  assert.equal(revisions.handOut(state(8, 1)).rev, 1, 'a message newer than anything held goes as it is');
  revisions.endCatchUp(3);
  assert.equal(revisions.lastRev, 3);
  const small = new Revisions(0, 2);
  for (const seq of [1, 2, 3]) small.change(state(seq, seq), false, false);
  assert.equal(small.handOut(state(1, 0)).rev, 0, 'past maxKept the oldest held state is let go');
  assert.equal(small.handOut(state(3, 0)).rev, 3);
});

test('a sequencer without a start holds everything until the first page says where it starts', () => {
  const sequencer = new Sequencer();
  assert.deepEqual(sequencer.accept(message(8)), []);
  assert.deepEqual(sequencer.accept(message(7)), []);
  assert.deepEqual(sequencer.startAt(6).map((m) => m.seq), [7, 8], 'held-back messages go out at once');
  assert.deepEqual(sequencer.startAt(0), []);
  assert.equal(sequencer.lastSeq, 8, 'startAt only sets an unknown start');
});

test('the sequencer holds back a bounded number of messages', () => {
  const sequencer = new Sequencer(0, 3);
  for (const seq of [2, 3, 4]) sequencer.accept(message(seq));
  assert.equal(sequencer.waitingCount, 3);
  sequencer.accept(message(5));
  assert.ok(sequencer.waitingCount <= 3);
});

test('server URLs: http(s) and ws(s), with or without /ws; anything else is refused', () => {
  assert.equal(httpBase('https://chat.example.com/'), 'https://chat.example.com');
  assert.equal(httpBase('wss://chat.example.com/ws'), 'https://chat.example.com');
  assert.equal(httpBase('ws://127.0.0.1:8080'), 'http://127.0.0.1:8080');
  assert.equal(httpBase('http://h/prefix/ws/'), 'http://h/prefix');
  assert.throws(() => httpBase('ftp://h'), /http\(s\):\/\/ or ws\(s\):\/\//);
  assert.throws(() => new PalaverClient({ url: 'chat.example.com', token: 't' }), TypeError);
});

test('client_msg_ids are c_ and 32 hex digits, and differ', () => {
  const ids = new Set(Array.from({ length: 100 }, newClientMsgId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^c_[0-9a-f]{32}$/);
});

test('the offline queue is bounded and restores only well-formed sends from its store', async () => {
  const saved = [];
  const store = {
    load: () => [
      { client_msg_id: 'c_1', room: 'r_1', body: 'kept', queued_at: 1 },
      { client_msg_id: 'c_1', room: 'r_1', body: 'a repeat', queued_at: 1 },
      { room: 'r_1', body: 'no id' },
      'nonsense',
      { client_msg_id: 'c_2', room: 'r_1', body: 'bad files', files: [1] },
    ],
    save: (items) => saved.push(items),
  };
  // No server at this address (a port just closed): the client stays offline and keeps what
  // it is given.
  const port = await closedPort();
  const client = new PalaverClient({
    url: `http://127.0.0.1:${port}`,
    token: 't',
    WebSocket,
    maxQueue: 3,
    outboxStore: store,
    reconnect: { initialMs: 10_000 },
  });
  const connecting = client.connect();
  connecting.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(client.queued.map((item) => item.body), ['kept']);
  const first = client.send('r_1', 'one');
  const second = client.send('r_1', 'two');
  await assert.rejects(client.send('r_1', 'three'), (error) => error.code === 'queue_full');
  await client.saved();
  assert.deepEqual(saved.at(-1).map((item) => item.body), ['kept', 'one', 'two']);
  await client.close();
  await assert.rejects(first, (error) => error.code === 'closed');
  await assert.rejects(second, (error) => error.code === 'closed');
  assert.deepEqual(saved.at(-1).map((item) => item.body), ['kept', 'one', 'two'], 'a close keeps the queue in the store');
  await assert.rejects(connecting, (error) => error.code === 'closed');
});

function closedPort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
