-- Replies, edits, deletes, reactions, mentions and search (docs/protocol.md section 11,
-- docs/conversations.md), PostgreSQL flavour. Keep in step with migrations/sqlite.

-- A message's own state beside its body: what it answers (a seq of the same room), when it
-- was last edited, whether it is a tombstone, and the room `rev` of its latest change (0:
-- never changed).
ALTER TABLE messages ADD COLUMN reply_to_seq BIGINT;
ALTER TABLE messages ADD COLUMN edited_ms BIGINT;
ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE messages ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
-- `changes`: a room's messages changed after a rev, in rev order.
CREATE INDEX messages_by_rev ON messages (room_id, rev) WHERE rev > 0;

-- The room's second counter: the last rev given (gapless, like last_seq; taken with
-- UPDATE … RETURNING under the room row's lock, the one the group commit takes for seq).
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

-- Search: a GIN index of trigrams (pg_trgm) on the lower-cased body serves
-- `lower(body) LIKE '%word%'` for every word of 3 code points or more. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension, so the database's owner may create it;
-- where it is missing or may not be created, the migration goes on without the index and
-- search answers the same, by a scan (docs/conversations.md; `palaver migrate` says so).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX messages_body_trgm ON messages USING gin (lower(body) gin_trgm_ops);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'pg_trgm cannot be created here (%): search works without its index', SQLERRM;
        END;
    ELSE
        RAISE WARNING 'pg_trgm is not installed: search works without its index';
    END IF;
END
$$;
