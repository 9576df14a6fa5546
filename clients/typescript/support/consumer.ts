// Compiled (not run) by test/pack.test.mjs: an app written against the published types. Each
// `@ts-expect-error` line must fail to type-check, so the types are as strict as they claim.
import { PalaverClient, PalaverError, type Message, type OutboxStore, type ServerEvent } from '../dist/index.js';

export async function app(): Promise<void> {
  const store: OutboxStore = { load: () => [], save: () => undefined };
  const client = new PalaverClient({ url: 'https://chat.example.com', token: async () => 'pv_x', outboxStore: store });
  await client.connect();
  const page = await client.request('join', { room: 'r_1', after_seq: 3 });
  const seqs: number[] = page.messages.map((message: Message) => message.seq);
  const hasMore: boolean = page.has_more;
  const { rooms } = await client.request('rooms', {});
  const unread: number = rooms[0]?.unread ?? 0;
  const sent: Message = await client.send('r_1', 'hi', { files: ['f_1'] });
  const file = await client.upload(new Uint8Array([1, 2, 3]), 'a.bin');
  const width: number | undefined = file.width;
  client.on('event', (event: ServerEvent) => {
    if (event.type === 'read') {
      const seq: number = event.seq;
      void seq;
    }
  });
  const room = client.subscribe('r_1', { afterSeq: 2 });
  room.on('message', (message) => void message.body.length);
  try {
    await client.request('open_direct', { user: 'u_3' });
  } catch (error) {
    if (error instanceof PalaverError && error.code === 'not_found') return;
  }
  // @ts-expect-error: `join` needs a room
  await client.request('join', {});
  // @ts-expect-error: no such command
  await client.request('dance', {});
  // @ts-expect-error: `seq` is a number
  await client.request('read', { room: 'r_1', seq: '3' });
  void [seqs, hasMore, unread, sent, width];
}
