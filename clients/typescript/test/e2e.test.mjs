// The library against the real server (tests/clients.rs gives PALAVER_BIN), on SQLite and on
// PostgreSQL: chat, errors, resume after a SIGKILL of the server and after a TCP cut, changes
// (edits, deletes, reactions) caught up after a cut and after a client's restart, close codes
// 4001 and 4002, rate limits, uploads, and a client process killed around a restart.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { PalaverError } from '../dist/index.js';
import { assertGapless, client, collect, fileStore, shown, view } from '../support/helpers.mjs';
import { backends, png, Proxy, Server, sleep, until } from '../support/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** A server with amy and bob in a group; the callback gets them; everything is closed after. */
async function withChat(backend, run, { extra = [], proxied = false } = {}) {
  const server = await Server.start(backend, extra);
  const proxy = proxied ? await Proxy.start(server.port) : null;
  const clients = [];
  try {
    const amy = await server.user('amy');
    const bob = await server.user('bob');
    const via = proxy ? proxy.base : server.base;
    const make = (user, options) => {
      const made = client(via, user.token, options);
      clients.push(made);
      return made;
    };
    const { status, body } = await server.admin('POST', '/admin/rooms', {
      kind: 'group',
      name: 'study',
      members: [amy.id, bob.id],
      owner: amy.id,
    });
    assert.equal(status, 201, JSON.stringify(body));
    await run({ server, proxy, amy, bob, room: body.room.id, make });
  } finally {
    for (const made of clients) await made.close();
    await proxy?.close();
    await server.stop();
  }
}

for (const backend of backends()) {
  describe(backend, () => {
    test('two people chat; commands are typed; bad input is a PalaverError and changes nothing', async () => {
      await withChat(backend, async ({ server, amy, bob, room, make }) => {
        const a = make(amy);
        const b = make(bob);
        await Promise.all([a.connect(), b.connect()]);
        assert.equal(a.user.id, amy.id);
        const aStream = collect(a.subscribe(room));
        const bStream = collect(b.subscribe(room));
        await Promise.all([a.subscribe(room).ready, b.subscribe(room).ready]);
        const sent = await a.send(room, 'hi bob');
        assert.equal(sent.seq, 1);
        assert.match(sent.client_msg_id, /^c_[0-9a-f]{32}$/);
        await b.send(room, 'hi amy');
        await until(() => aStream.length === 2 && bStream.length === 2, 10_000, 'both messages');
        assert.deepEqual(bStream.map((m) => m.body), ['hi bob', 'hi amy']);
        assert.deepEqual(aStream, bStream);

        const { rooms } = await a.request('rooms', {});
        assert.deepEqual(rooms.map((r) => r.id), [room]);
        await assert.rejects(a.request('join', { room: 'r_999' }), (error) => {
          assert.ok(error instanceof PalaverError);
          assert.equal(error.code, 'not_found');
          return true;
        });
        await assert.rejects(a.request('read', { room, seq: 99 }), { code: 'bad_request' });
        await assert.rejects(a.request('open_direct', { user: amy.id }), { code: 'bad_request' });

        const failed = [];
        a.on('send_failed', (event) => failed.push(event));
        await assert.rejects(a.send('r_999', 'nowhere'), { code: 'not_found' });
        await assert.rejects(a.send(room, 'x'.repeat(4001)), { code: 'too_large' });
        assert.deepEqual(failed.map((f) => f.error.code), ['not_found', 'too_large']);
        assert.deepEqual(a.queued, [], 'a refused send leaves the queue');

        const nowhere = a.subscribe('r_999');
        await assert.rejects(nowhere.ready, { code: 'not_found' });
        assert.equal(nowhere.active, false);

        // The same client_msg_id twice: one stored message.
        const first = await a.send(room, 'once', { clientMsgId: 'c-fixed' });
        const again = await a.send(room, 'once, again', { clientMsgId: 'c-fixed' });
        assert.equal(again.id, first.id);
        assert.equal(again.body, 'once');
        const stored = await server.messages(room);
        assert.deepEqual(stored.map((m) => m.body), ['hi bob', 'hi amy', 'once']);
      });
    });

    test('a subscription pages through a long history from afterSeq, in order, once', async () => {
      await withChat(backend, async ({ server, amy, room, make }) => {
        for (let i = 1; i <= 25; i += 1) {
          const { status } = await server.admin('POST', `/admin/rooms/${room}/messages`, { body: `old ${i}` });
          assert.equal(status, 201);
        }
        const a = make(amy, { joinLimit: 7 });
        await a.connect();
        const fromStart = a.subscribe(room, { afterSeq: 0 });
        const got = collect(fromStart);
        await fromStart.ready;
        assert.deepEqual(got.map((m) => m.seq), Array.from({ length: 25 }, (_, i) => i + 1));
        assert.equal(fromStart.lastSeq, 25);
        fromStart.end();

        const b = make(amy, { joinLimit: 7 });
        await b.connect();
        const later = b.subscribe(room, { afterSeq: 20 });
        const tail = collect(later);
        await later.ready;
        assert.deepEqual(tail.map((m) => m.seq), [21, 22, 23, 24, 25]);
        const c = make(amy, { joinLimit: 5 });
        await c.connect();
        const newest = c.subscribe(room);
        const page = collect(newest);
        await newest.ready;
        assert.deepEqual(page.map((m) => m.seq), [21, 22, 23, 24, 25], 'without afterSeq: the newest page');
      });
    });

    test('a server killed (SIGKILL) and restarted mid-conversation: nothing lost or doubled', async () => {
      await withChat(backend, async ({ server, amy, bob, room, make }) => {
        const a = make(amy);
        const b = make(bob);
        await Promise.all([a.connect(), b.connect()]);
        const aStream = collect(a.subscribe(room));
        const bStream = collect(b.subscribe(room));
        await Promise.all([a.subscribe(room).ready, b.subscribe(room).ready]);
        const bodies = [];
        const sends = [];
        let acked = 0;
        const say = (who, text) => {
          bodies.push(text);
          sends.push(who.send(room, text).then((m) => ((acked += 1), m)));
        };
        for (let i = 1; i <= 40; i += 1) say(a, `amy ${i}`);
        await until(() => acked >= 10, 10_000, 'ten acks');
        await server.kill();
        for (let i = 1; i <= 10; i += 1) say(b, `bob while down ${i}`);
        for (let i = 41; i <= 50; i += 1) say(a, `amy ${i}`);
        await sleep(300);
        await server.restart();
        const stored = await Promise.all(sends);
        assert.equal(new Set(stored.map((m) => m.id)).size, 60, 'every send acked with its own message');
        await until(() => aStream.length >= 60 && bStream.length >= 60, 15_000, 'both streams');
        await sleep(200);
        assertGapless(assert, aStream, bodies, 'amy');
        assertGapless(assert, bStream, bodies, 'bob');
        assertGapless(assert, await server.messages(room), bodies, 'the store');
        const amyOrder = aStream.map((m) => m.body).filter((body) => body.startsWith('amy '));
        assert.deepEqual(amyOrder, Array.from({ length: 50 }, (_, i) => `amy ${i + 1}`), "amy's sends keep their order");
      });
    });

    test('a network cut at the TCP level, again and again: nothing lost or doubled', async () => {
      await withChat(
        backend,
        async ({ server, proxy, amy, bob, room, make }) => {
          const a = make(amy);
          const b = make(bob);
          let reconnects = 0;
          a.on('open', ({ reconnect }) => (reconnects += reconnect ? 1 : 0));
          await Promise.all([a.connect(), b.connect()]);
          const aStream = collect(a.subscribe(room));
          const bStream = collect(b.subscribe(room));
          await Promise.all([a.subscribe(room).ready, b.subscribe(room).ready]);
          const bodies = [];
          const sends = [];
          for (let round = 0; round < 4; round += 1) {
            for (let i = 0; i < 15; i += 1) {
              const body = `round ${round} ${i % 2 ? 'bob' : 'amy'} ${i}`;
              bodies.push(body);
              sends.push((i % 2 ? b : a).send(room, body));
            }
            // Both connected again (a slow machine may still be reconnecting from the last cut).
            await until(() => a.state === 'open' && b.state === 'open', 10_000, 'both connected');
            await sleep(5 * round);
            assert.equal(proxy.cut(), 2, 'both connections cut');
            await sleep(100);
          }
          await Promise.all(sends);
          await until(() => aStream.length >= 60 && bStream.length >= 60, 15_000, 'both streams');
          await sleep(200);
          assertGapless(assert, aStream, bodies, 'amy');
          assertGapless(assert, bStream, bodies, 'bob');
          assertGapless(assert, await server.messages(room), bodies, 'the store');
          assert.ok(reconnects >= 4, `amy reconnected after each cut (${reconnects})`);
        },
        { proxied: true },
      );
    });

    test('edits, deletes and reactions missed while cut off, across a server restart, come once each at their latest state', async () => {
      await withChat(
        backend,
        async ({ server, proxy, amy, room, make, bob }) => {
          const a = client(server.base, amy.token);
          try {
            const b = make(bob);
            await Promise.all([a.connect(), b.connect()]);
            const subscription = b.subscribe(room);
            const seen = view(subscription);
            await subscription.ready;
            const sent = [];
            for (let i = 1; i <= 5; i += 1) sent.push(await a.send(room, `question ${i}`));
            const [m1, m2, m3, m4] = sent.map((m) => m.id);
            const answer = await a.send(room, 'see question 1, bob', { replyTo: m1, mentions: [bob.id] });
            assert.equal(answer.reply_to?.id, m1, 'send takes reply_to');
            assert.deepEqual(answer.mentions, [bob.id], 'and mentions');
            await until(() => seen.messages.size === 6, 10_000, 'six messages');
            await a.request('edit', { room, message: m1, body: 'question 1, fixed' });
            await b.request('react', { room, message: m2, emoji: '👍' });
            await until(() => seen.updates.length === 2, 10_000, 'two live updates');
            const liveRev = subscription.lastRev;
            assert.ok(liveRev >= 2, `lastRev follows live changes (${liveRev})`);

            proxy.refuse(true);
            assert.equal(proxy.cut(), 1, "bob's connection cut");
            await until(() => b.state !== 'open', 10_000, 'bob disconnected');
            await a.request('edit', { room, message: m3, body: 'question 3, first fix' });
            await a.request('delete', { room, message: m4 });
            await a.request('react', { room, message: m1, emoji: '🎉' });
            await a.request('edit', { room, message: m3, body: 'question 3, second fix' });
            const m7 = (await a.send(room, 'question 7')).id;
            await a.request('edit', { room, message: m7, body: 'question 7, fixed before bob saw it' });
            await server.kill();
            await server.restart();
            await until(() => a.state === 'open', 15_000, 'amy back');
            await a.request('react', { room, message: m2, emoji: '👍' });
            const m8 = (await a.send(room, 'question 8')).id;
            await a.request('delete', { room, message: m8 });
            assert.equal(seen.updates.length, 2, 'nothing reached bob meanwhile');

            proxy.refuse(false);
            const stored = await server.messages(room);
            const lastRev = Math.max(...stored.map((m) => m.rev));
            await until(() => subscription.lastRev === lastRev && seen.messages.size === 8, 15_000, 'bob caught up');
            await sleep(200);
            assert.deepEqual(seen.problems, []);
            const caughtUp = seen.updates.slice(2).map((m) => m.id);
            assert.deepEqual([...caughtUp].sort(), [m1, m2, m3, m4].sort(), 'each changed message once, in one update');
            assert.deepEqual(
              [...seen.messages.values()].sort((x, y) => x.seq - y.seq).map(shown),
              stored.map(shown),
              "bob's view is the store's",
            );
            assert.equal(seen.messages.get(m3).body, 'question 3, second fix');
            assert.equal(seen.messages.get(m4).deleted, true);
            assert.equal(seen.messages.get(m7).body, 'question 7, fixed before bob saw it', 'a message shows its latest state');
            assert.equal(seen.messages.get(m8).deleted, true);
            const thumbs = seen.messages.get(m2).reactions.find((r) => r.emoji === '👍');
            assert.deepEqual(thumbs, { emoji: '👍', count: 2, me: true }, "bob's own reaction is his");
          } finally {
            await a.close();
          }
        },
        { proxied: true },
      );
    });

    test('a client stopped and started again with its lastSeq and lastRev, around a server restart, gets every change once', async () => {
      await withChat(backend, async ({ server, amy, bob, room, make }) => {
        const a = make(amy);
        const b = make(bob);
        await Promise.all([a.connect(), b.connect()]);
        const first = b.subscribe(room);
        const before = view(first);
        // What the app keeps on disk, written on every event (a killed app has the last one).
        let kept = { afterSeq: undefined, afterRev: undefined };
        const keep = () => (kept = { afterSeq: first.lastSeq, afterRev: first.lastRev });
        first.on('message', keep);
        first.on('update', keep);
        await first.ready;
        const sent = [];
        for (let i = 1; i <= 5; i += 1) sent.push((await a.send(room, `note ${i}`)).id);
        await a.request('react', { room, message: sent[0], emoji: '👀' });
        await until(() => before.messages.size === 5 && before.updates.length === 1, 10_000, 'bob has five');
        assert.deepEqual(kept, { afterSeq: 5, afterRev: 1 });
        await b.close();

        await a.request('edit', { room, message: sent[1], body: 'note 2, edited' });
        await a.request('react', { room, message: sent[0], emoji: '👀', on: false });
        await server.kill();
        await server.restart();
        await until(() => a.state === 'open', 15_000, 'amy back');
        await a.request('delete', { room, message: sent[2] });
        await a.request('edit', { room, message: sent[1], body: 'note 2, edited twice' });
        const sixth = (await a.send(room, 'note 6')).id;

        const again = make(bob);
        await again.connect();
        const second = again.subscribe(room, kept);
        const keptMessages = new Map(before.messages);
        const after = view(second, keptMessages);
        const handedOut = [];
        second.on('message', (m) => handedOut.push(m.id));
        await second.ready;
        await sleep(200);
        assert.deepEqual([...before.problems, ...after.problems], []);
        assert.deepEqual(handedOut, [sixth], 'only the new message comes as a message');
        assert.deepEqual(
          after.updates.map((m) => m.id).sort(),
          [sent[0], sent[1], sent[2]].sort(),
          'each message changed meanwhile comes once, at its latest state',
        );
        const byId = new Map((await server.messages(room)).map((m) => [m.id, shown(m)]));
        for (const update of after.updates) assert.deepEqual(shown(update), byId.get(update.id));
        assert.deepEqual([...keptMessages.values()].map(shown), [...byId.values()], "bob's view is the store's");
        assert.equal(second.lastRev, Math.max(...[...byId.values()].map((m) => m.rev)));
        assert.equal(second.lastSeq, 6);
      });
    });

    test('reconnectNow skips the back-off once the network is back', async () => {
      await withChat(backend, async ({ server, amy, make }) => {
        const a = make(amy, { reconnect: { initialMs: 60_000, maxMs: 60_000 } });
        await a.connect();
        let delay;
        a.on('close', ({ delayMs }) => (delay = delayMs));
        await server.kill();
        await until(() => a.state === 'waiting' && delay !== undefined, 10_000, 'waiting to reconnect');
        assert.ok(delay >= 30_000, `a long back-off (${delay} ms)`);
        await server.restart();
        a.reconnectNow();
        await until(() => a.state === 'open', 10_000, 'connected again well before the back-off ends');
        a.reconnectNow();
        assert.equal(a.state, 'open', 'while connected it does nothing');
      });
    });

    test('a connection that went silent (no close, no RST) is found dead by its ping and made again', async () => {
      await withChat(
        backend,
        async ({ server, proxy, amy, room, make }) => {
          const a = make(amy, { pingTimeoutMs: 1500 });
          const closes = [];
          a.on('close', (event) => closes.push(event));
          await a.connect();
          const stream = collect(a.subscribe(room));
          await a.subscribe(room).ready;
          assert.equal(proxy.blackhole(), 1);
          const started = Date.now();
          const sent = a.send(room, 'into the silence');
          await server.admin('POST', `/admin/rooms/${room}/messages`, { body: 'said meanwhile' });
          assert.equal((await sent).body, 'into the silence');
          await until(() => stream.length === 2, 10_000, 'the stream after the silence');
          assert.deepEqual([...stream.map((m) => m.body)].sort(), ['into the silence', 'said meanwhile']);
          assert.equal(closes.length, 1, 'one dead connection given up');
          assert.equal(closes[0].code, 1006);
          assert.match(closes[0].reason, /ping/);
          assert.ok(Date.now() - started < 8_000, 'found within two heartbeats and the ping time-out');
        },
        { proxied: true, extra: ['--heartbeat-secs', '1'] },
      );
    });

    test('close 4002 reconnects and resumes; 4001 stops; a revoked token is refused with 401', async () => {
      await withChat(
        backend,
        async ({ server, proxy, amy, room, make }) => {
          const a = make(amy);
          const closes = [];
          const unauthorized = [];
          a.on('close', (event) => closes.push(event.code));
          a.on('unauthorized', (event) => unauthorized.push(event.code));
          await a.connect();
          const stream = collect(a.subscribe(room));
          await a.subscribe(room).ready;
          await a.send(room, 'before');
          await until(() => stream.length === 1);

          // 4002 as the server sends it: the client reconnects, resumes, misses nothing.
          const reopened = new Promise((resolve) => a.on('open', ({ reconnect }) => reconnect && resolve()));
          proxy.closeWith(4002);
          await until(() => closes.includes(4002), 5_000, 'the 4002 close');
          await server.admin('POST', `/admin/rooms/${room}/messages`, { body: 'while away' });
          await reopened;
          await a.send(room, 'after');
          await until(() => stream.length === 3, 10_000, 'the resumed stream');
          assert.deepEqual(stream.map((m) => m.body), ['before', 'while away', 'after']);

          // 4001 from the admin API: the client stops and says why; no reconnection.
          const { status } = await server.admin('DELETE', `/admin/users/${amy.id}/connections`);
          assert.equal(status, 204);
          await until(() => unauthorized.length === 1, 5_000, 'unauthorized');
          assert.deepEqual(unauthorized, [4001]);
          assert.equal(a.state, 'stopped');
          const accepted = proxy.accepted;
          const queuedWhileStopped = a.send(room, 'queued while stopped');
          await sleep(500);
          assert.equal(proxy.accepted, accepted, 'no reconnection after 4001');
          await assert.rejects(a.request('ping', {}), { code: 'unauthorized' });

          // The token is still good (a disconnect, not a revocation): connect again.
          await a.connect();
          assert.equal((await queuedWhileStopped).body, 'queued while stopped');
          await until(() => stream.length === 4, 10_000, 'the stream after connecting again');

          // Revoked: 4001 again, then the next connect is refused (HTTP 401 on the upgrade).
          assert.equal((await server.admin('DELETE', `/admin/users/${amy.id}/tokens`)).status, 204);
          await until(() => unauthorized.length === 2, 5_000, 'the second unauthorized');
          await assert.rejects(a.connect(), { code: 'unauthorized' });
          assert.deepEqual(unauthorized, [4001, 4001, 401]);
          await assert.rejects(a.upload(png(), 'x.png'), { code: 'unauthorized', status: 401 });
        },
        { proxied: true },
      );
    });

    test('rate_limited is waited out: every send stored once, every command answered', async () => {
      await withChat(
        backend,
        async ({ server, amy, room, make }) => {
          const a = make(amy);
          await a.connect();
          const stream = collect(a.subscribe(room));
          await a.subscribe(room).ready;
          const bodies = Array.from({ length: 30 }, (_, i) => `fast ${i}`);
          const [stored, pongs] = await Promise.all([
            Promise.all(bodies.map((body) => a.send(room, body))),
            Promise.all(Array.from({ length: 8 }, () => a.request('ping', {}, { timeoutMs: 30_000 }))),
          ]);
          assert.equal(new Set(stored.map((m) => m.seq)).size, 30);
          assert.equal(pongs.length, 8);
          await until(() => stream.length === 30, 10_000, 'the stream');
          assertGapless(assert, stream, bodies, 'the stream');
          assertGapless(assert, await server.messages(room), bodies, 'the store');
        },
        { extra: ['--rate', '10', '--burst', '5'] },
      );
    });

    test('uploads: a picture sent, received, downloaded with its thumbnail; bad uploads refused', async () => {
      await withChat(backend, async ({ amy, bob, room, make }) => {
        const a = make(amy);
        const b = make(bob);
        await Promise.all([a.connect(), b.connect()]);
        const bStream = collect(b.subscribe(room));
        await b.subscribe(room).ready;
        const picture = png(6, 4);
        const file = await a.upload(picture, 'triangle.png', { contentType: 'image/png' });
        assert.match(file.id, /^f_[0-9a-f]{32}$/);
        assert.equal(file.mime, 'image/png');
        assert.deepEqual([file.width, file.height, file.thumbnail], [6, 4, true]);
        const message = await a.send(room, '', { files: [file.id] });
        assert.deepEqual(message.files, [file]);
        await until(() => bStream.length === 1, 10_000, "bob's message");
        assert.deepEqual(bStream[0].files, [file]);
        const bytes = Buffer.from(await b.download(file.id));
        assert.ok(bytes.equals(picture), 'the same bytes');
        const thumbnail = Buffer.from(await b.download(file.id, { thumbnail: true }));
        assert.ok(thumbnail.length > 0);
        const viaUrl = await fetch(b.fileUrl(file.id));
        assert.equal(viaUrl.status, 200);

        await assert.rejects(a.upload(new Uint8Array(0), 'empty.bin'), { code: 'bad_request', status: 400 });
        await assert.rejects(a.upload(picture, ''), { code: 'bad_request', status: 400 });
        await assert.rejects(b.download('f_00000000000000000000000000000000'), { code: 'not_found', status: 404 });
        await assert.rejects(a.send(room, 'someone else', { files: ['f_00000000000000000000000000000000'] }), {
          code: 'not_found',
        });
      });
    });

    test('a client killed and restarted around a server restart loses and doubles nothing', async () => {
      await withChat(backend, async ({ server, amy, room, make }) => {
        const dir = mkdtempSync(join(tmpdir(), 'palaver-outbox-'));
        const storeFile = join(dir, 'outbox.json');
        try {
          const child = spawn(process.execPath, [join(here, '../support/sender.mjs'), server.base, amy.token, room, storeFile], {
            stdio: ['pipe', 'pipe', 'inherit'],
          });
          const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
          assert.equal((await lines.next()).value, 'first');
          await server.kill();
          child.stdin.write('more\n');
          assert.equal((await lines.next()).value, 'second');
          const gone = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await gone;
          await server.restart();

          const again = make(amy, { outboxStore: fileStore(storeFile) });
          const sent = [];
          again.on('sent', ({ message }) => sent.push(message));
          await again.connect();
          assert.ok(again.queued.length >= 10, `the ten sends made while the server was down wait (${again.queued.length})`);
          await until(() => again.queued.length === 0, 15_000, 'the outbox to empty');
          await again.saved();
          assert.deepEqual(fileStore(storeFile).load(), [], 'the store is empty again');
          const bodies = Array.from({ length: 20 }, (_, i) => `killed-client ${i + 1}`);
          assertGapless(assert, await server.messages(room), bodies, 'the store');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  });
}
