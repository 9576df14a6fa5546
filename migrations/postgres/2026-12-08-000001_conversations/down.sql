DROP INDEX IF EXISTS messages_body_trgm;
DROP TABLE reactions;
DROP TABLE mentions;
ALTER TABLE rooms DROP COLUMN last_rev;
DROP INDEX messages_by_rev;
ALTER TABLE messages DROP COLUMN rev;
ALTER TABLE messages DROP COLUMN deleted;
ALTER TABLE messages DROP COLUMN edited_ms;
ALTER TABLE messages DROP COLUMN reply_to_seq;
