/**
 * The frames and objects of the Palaver protocol, version 1 (docs/protocol.md). The server
 * only ever adds fields, so every object may carry more than is typed here.
 */

/** The protocol version this library speaks: the major version of the package. */
export const PROTOCOL_VERSION = 1;

export type UserKind = 'user' | 'bot' | 'system';

/** Section 3, User. A message's `sender` has no `online`. */
export interface User {
  id: string;
  name: string;
  kind: UserKind;
  online?: boolean;
}

/** Section 13: a member's role in a group. */
export type Role = 'owner' | 'moderator' | 'member';

/** A member as `join` lists them: in a group, with `role` and `muted_until` (section 13). */
export interface Member extends User {
  role?: Role;
  muted_until?: string | null;
}

export type RoomKind = 'group' | 'direct' | 'bot';
export type NotifyLevel = 'all' | 'mentions' | 'none';

/** Section 3, Room. */
export interface Room {
  id: string;
  kind: RoomKind;
  name: string;
  public: boolean;
  owner: string | null;
  members_count: number;
  last_seq: number;
  read_seq: number;
  unread: number;
  notify?: NotifyLevel;
  /** Section 11: the room's last `rev` (0 when no message ever changed). */
  last_rev: number;
  /** Section 11: messages after `read_seq` that mention the caller. */
  mentions_unread: number;
  /** Section 11: the newest message as the caller sees it; `null` in an empty room. */
  last_message: Message | null;
}

/** Section 9, File. */
export interface FileInfo {
  id: string;
  name: string;
  mime: string;
  size: number;
  width?: number;
  height?: number;
  thumbnail: boolean;
}

export interface Button {
  id: string;
  label: string;
}

export interface Card {
  title: string;
  text: string;
  image_url?: string;
  buttons?: Button[];
}

/** Section 6: a bot's or the system's rich template. */
export type Template =
  | { kind: 'text'; text: string }
  | { kind: 'buttons'; text: string; buttons: Button[] }
  | { kind: 'quick_replies'; text: string; replies: Button[] }
  | ({ kind: 'card' } & Card)
  | { kind: 'carousel'; cards: Card[] }
  | { kind: 'image'; url: string; alt: string };

/** Section 11: the message a reply answers, as it is now (`excerpt` `""` once deleted). */
export interface ReplyRef {
  id: string;
  seq: number;
  sender: User;
  excerpt: string;
}

/** Section 11: one emoji on a message; `me` is the receiving user's own. */
export interface Reaction {
  emoji: string;
  count: number;
  me: boolean;
}

/** Section 3, Message. `seq` is per room: 1, 2, 3, … with no gaps and no repeats. */
export interface Message {
  id: string;
  room: string;
  seq: number;
  ts: string;
  sender: User;
  body: string;
  template: Template | null;
  client_msg_id: string | null;
  action: { message: string; id: string } | null;
  files: FileInfo[];
  /** Section 11. */
  reply_to: ReplyRef | null;
  /** Section 11: user ids, ascending. */
  mentions: string[];
  /** Section 11: the time of the last edit. */
  edited: string | null;
  /** Section 11: a tombstone (`body` `""`, `files` `[]`…). */
  deleted: boolean;
  reactions: Reaction[];
  /** Section 11: the room `rev` of the message's latest change; 0 when it never changed. */
  rev: number;
  /** Section 13: from someone the receiving user blocks, its content left out; only when true. */
  blocked?: true;
}

/** Section 1: the first frame of every connection. */
export interface HelloFrame {
  type: 'hello';
  protocol: number;
  session: string;
  user: User;
  heartbeat_s: number;
}

/** Section 2's error codes, and `string` for codes a newer server may add. */
export type ErrorCode =
  | 'bad_request'
  | 'unknown_type'
  | 'too_large'
  | 'unsupported_frame'
  | 'unauthorized'
  | 'not_found'
  | 'forbidden'
  | 'conflict'
  | 'rate_limited'
  | 'timeout'
  | 'unavailable'
  | 'internal'
  | (string & {});

export type FrameId = string | number | null;

export interface OkFrame<D = unknown> {
  type: 'ok';
  id: FrameId;
  data: D;
}

export interface ErrorFrame {
  type: 'error';
  id: FrameId;
  code: ErrorCode;
  message: string;
  retry_after_ms?: number;
}

/** Section 5: the server's events. */
export type ServerEvent =
  | { type: 'message'; message: Message }
  | { type: 'member_joined'; room: string; user: User }
  | { type: 'member_left'; room: string; user: User }
  | { type: 'typing'; room: string; user: User }
  | { type: 'read'; room: string; user: User; seq: number }
  | { type: 'presence'; user: User; online: boolean }
  | { type: 'room_added'; room: Room }
  | { type: 'room_removed'; room: string }
  | { type: 'notice'; body: string }
  | { type: 'message_updated'; room: string; rev: number; message: Message }
  | { type: 'member_updated'; room: string; user: User; role: Role; muted_until: string | null };

export type ServerFrame = HelloFrame | OkFrame | ErrorFrame | ServerEvent;

export interface JoinReply {
  room: Room;
  members: Member[];
  messages: Message[];
  has_more: boolean;
}

export interface HistoryReply {
  messages: Message[];
  has_more: boolean;
}

/**
 * Section 4: every client command, its fields and the `data` of its `ok`. `send` is best
 * made through {@link PalaverClient.send}, which gives it a `client_msg_id` and retries it.
 */
export interface Commands {
  ping: { fields: Record<string, never>; reply: Record<string, never> };
  rooms: { fields: { limit?: number; after?: string }; reply: { rooms: Room[]; next?: string | null } };
  create_group: { fields: { name: string; members?: string[]; public?: boolean }; reply: { room: Room } };
  open_direct: { fields: { user: string }; reply: { room: Room } };
  open_bot: { fields: { bot: string }; reply: { room: Room } };
  join: { fields: { room: string; after_seq?: number; limit?: number }; reply: JoinReply };
  leave: { fields: { room: string; forget?: boolean }; reply: Record<string, never> };
  leave_groups: { fields: { owner: string }; reply: { left: string[] } };
  send: {
    fields: {
      room: string;
      body: string;
      client_msg_id?: string;
      files?: string[];
      reply_to?: string;
      mentions?: string[];
    };
    reply: { message: Message };
  };
  history: { fields: { room: string; before_seq?: number; limit?: number }; reply: HistoryReply };
  read: { fields: { room: string; seq: number }; reply: { read_seq: number } };
  typing: { fields: { room: string }; reply: Record<string, never> };
  action: { fields: { room: string; message: string; action: string }; reply: { message: Message } };
  invite: { fields: { room: string; user: string }; reply: Record<string, never> };
  kick: { fields: { room: string; user: string }; reply: Record<string, never> };
  users: {
    fields: { query?: string; after?: string; limit?: number };
    reply: { users: User[]; next: string | null };
  };
  notify: { fields: { room: string; level: NotifyLevel }; reply: Record<string, never> };
  // Section 11.
  edit: { fields: { room: string; message: string; body: string; mentions?: string[] }; reply: { message: Message } };
  delete: { fields: { room: string; message: string }; reply: { message: Message } };
  react: { fields: { room: string; message: string; emoji: string; on?: boolean }; reply: { message: Message } };
  changes: {
    fields: { room: string; after_rev: number; limit?: number };
    reply: { messages: Message[]; last_rev: number; has_more: boolean };
  };
  search: {
    fields: { query: string; room?: string; before_seq?: number; after?: string; limit?: number };
    reply: { messages: Message[]; next: string | null };
  };
  // Section 13.
  block: { fields: { user: string; on?: boolean }; reply: Record<string, never> };
  blocks: { fields: Record<string, never>; reply: { users: User[] } };
  report: {
    fields: { room: string; message: string; reason: ReportReason; note?: string };
    reply: { report: { id: string } };
  };
  set_role: { fields: { room: string; user: string; role: 'moderator' | 'member' }; reply: Record<string, never> };
  mute: { fields: { room: string; user: string; minutes: number }; reply: Record<string, never> };
  ban: { fields: { room: string; user: string; on?: boolean }; reply: Record<string, never> };
}

/** Section 13: why a member reports a message (`rule` is only the server's own). */
export type ReportReason = 'spam' | 'abuse' | 'sexual' | 'self_harm' | 'other';

export type CommandType = keyof Commands;

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
} as const;
