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
    if (event.type === 'message_updated') {
      const rev: number = event.rev;
      const thumbsUp = event.message.reactions.find((reaction) => reaction.emoji === '👍');
      void [rev, thumbsUp?.me, event.message.reply_to?.excerpt];
    }
    if (event.type === 'member_updated') {
      const until: string | null = event.muted_until;
      void [until, event.role];
    }
  });
  // Section 11: a reply with a mention, a reaction, the changes since a rev, a search.
  const reply = await client.request('send', { room: 'r_1', body: 'yes', reply_to: sent.id, mentions: ['u_2'] });
  const reacted = await client.request('react', { room: 'r_1', message: reply.message.id, emoji: '👍' });
  const changed = await client.request('changes', { room: 'r_1', after_rev: reacted.message.rev });
  const lastRev: number = changed.last_rev;
  const found = await client.request('search', { query: '넓이', limit: 20 });
  const next: string | null = found.next;
  const lastMessage: Message | null = rooms[0]?.last_message ?? null;
  // Section 13.
  await client.request('block', { user: 'u_9' });
  await client.request('report', { room: 'r_1', message: 'm_1_2', reason: 'abuse' });
  await client.request('mute', { room: 'r_2', user: 'u_4', minutes: 30 });
  const roles = page.members.map((member) => member.role);
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
  // @ts-expect-error: a group has one owner
  await client.request('set_role', { room: 'r_2', user: 'u_3', role: 'owner' });
  // @ts-expect-error: `rule` is only the server's own reason
  await client.request('report', { room: 'r_1', message: 'm_1_2', reason: 'rule' });
  void [seqs, hasMore, unread, sent, width, lastRev, next, lastMessage, roles];
}
