-- The search index off the commit path (docs/conversations.md, "Search"): a new or edited
-- message's key (room_id * 2^32 + seq) goes into `message_search_pending`, a plain table,
-- instead of into the FTS5 index, which writes a new segment at every commit (about 50 µs
-- of the writer thread per message at 2,500 sends/s: BENCHMARKS.md, round 10). The store's
-- search indexer moves pending keys into `message_search` in batches, a few times a second;
-- until then, search checks the pending messages directly. A key is in one of the two,
-- never both.
CREATE TABLE message_search_pending (
    key BIGINT PRIMARY KEY NOT NULL
);

DROP TRIGGER message_search_insert;
DROP TRIGGER message_search_update;
DROP TRIGGER message_search_delete;

CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN NEW.body <> '' AND NOT NEW.deleted
BEGIN
    INSERT OR IGNORE INTO message_search_pending (key) VALUES (NEW.room_id * 4294967296 + NEW.seq);
END;

CREATE TRIGGER message_search_update AFTER UPDATE OF body, deleted ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = OLD.room_id * 4294967296 + OLD.seq;
    DELETE FROM message_search_pending WHERE key = OLD.room_id * 4294967296 + OLD.seq;
    INSERT OR IGNORE INTO message_search_pending (key)
        SELECT NEW.room_id * 4294967296 + NEW.seq
        WHERE NEW.body <> '' AND NOT NEW.deleted;
END;

CREATE TRIGGER message_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM message_search WHERE rowid = OLD.room_id * 4294967296 + OLD.seq;
    DELETE FROM message_search_pending WHERE key = OLD.room_id * 4294967296 + OLD.seq;
END;
