-- Replies, edits, deletes, reactions, mentions and search (docs/protocol.md section 11,
-- docs/conversations.md), SQLite flavour. Keep in step with migrations/postgres.

-- A message's own state beside its body: what it answers (a seq of the same room), when it
-- was last edited, whether it is a tombstone, and the room `rev` of its latest change (0:
-- never changed).
ALTER TABLE messages ADD COLUMN reply_to_seq BIGINT;
ALTER TABLE messages ADD COLUMN edited_ms BIGINT;
ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
-- `changes`: a room's messages changed after a rev, in rev order.
CREATE INDEX messages_by_rev ON messages (room_id, rev) WHERE rev > 0;

-- The room's second counter: the last rev given (gapless, like last_seq).
ALTER TABLE rooms ADD COLUMN last_rev BIGINT NOT NULL DEFAULT 0;

-- Who a message mentions; by user, so a room list counts a user's unread mentions from the
-- index alone.
CREATE TABLE mentions (
    room_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (room_id, seq, user_id),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);
CREATE INDEX mentions_by_user ON mentions (user_id, room_id, seq);

-- One row per user, message and emoji. `emoji_rev`: the rev of the change that brought the
-- emoji onto the message (count 0 to 1), shared by all its rows: the order of first use.
CREATE TABLE reactions (
    room_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    emoji TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    emoji_rev BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);

-- Search: an FTS5 index of trigrams (substring match, case-insensitive, any script) holding
-- no copy of the text. Its rowid is the message's key, room_id * 2^32 + seq (the messages
-- table's own rowid is not stable: VACUUM, and so `palaver backup`, may renumber it).
-- Triggers keep it in step with every insert, edit, delete and room deletion.
CREATE VIRTUAL TABLE message_search USING fts5(
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram'
);
INSERT INTO message_search (rowid, body)
    SELECT room_id * 4294967296 + seq, body FROM messages WHERE NOT deleted AND body <> '';

CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN NEW.body <> '' AND NOT NEW.deleted
BEGIN
    INSERT INTO message_search (rowid, body) VALUES (NEW.room_id * 4294967296 + NEW.seq, NEW.body);
END;

CREATE TRIGGER message_search_update AFTER UPDATE OF body, deleted ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = OLD.room_id * 4294967296 + OLD.seq;
    INSERT INTO message_search (rowid, body)
        SELECT NEW.room_id * 4294967296 + NEW.seq, NEW.body
        WHERE NEW.body <> '' AND NOT NEW.deleted;
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = OLD.room_id * 4294967296 + OLD.seq;
END;
