-- The last seq given in each room, kept on the room row. The writer locks the rows of the
-- rooms a batch appends to (ascending id), reads their last_seq and moves it forward in the
-- same transaction, so several nodes appending to one room get one gapless order.
ALTER TABLE rooms ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
UPDATE rooms SET last_seq = COALESCE((SELECT MAX(seq) FROM messages WHERE messages.room_id = rooms.id), 0);
