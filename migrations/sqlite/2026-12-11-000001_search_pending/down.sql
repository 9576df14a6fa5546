-- Back to indexing in the commit: what is pending is indexed first.
INSERT INTO message_search (rowid, body)
    SELECT p.key, m.body FROM message_search_pending p
    JOIN messages m ON m.room_id = (p.key >> 32) AND m.seq = (p.key & 4294967295);

DROP TRIGGER message_search_insert;
DROP TRIGGER message_search_update;
DROP TRIGGER message_search_delete;
DROP TABLE message_search_pending;

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
