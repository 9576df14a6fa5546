-- Files users upload (docs/protocol.md section 9), SQLite flavour. Keep in step with
-- migrations/postgres. The bytes live in the database, in chunks of at most 256 KiB, so that a
-- file is committed like a message and every node reads it (docs/files.md).
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    uploader_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    thumbnail BLOB,
    thumbnail_mime TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX files_by_uploader ON files (uploader_id);
CREATE INDEX files_by_age ON files (created_ms);

CREATE TABLE file_chunks (
    file_id TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (file_id, idx)
);

-- Which messages carry which files, in the order the sender gave them.
CREATE TABLE message_files (
    room_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    position INTEGER NOT NULL,
    file_id TEXT NOT NULL REFERENCES files (id),
    PRIMARY KEY (room_id, seq, position),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq)
);
CREATE INDEX message_files_by_file ON message_files (file_id, room_id);
