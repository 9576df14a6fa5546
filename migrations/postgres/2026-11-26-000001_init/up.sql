-- Palaver schema, PostgreSQL flavour. Keep in step with migrations/sqlite.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    handle TEXT UNIQUE,
    created_ms BIGINT NOT NULL
);

INSERT INTO users (name, kind, handle, created_ms) VALUES ('system', 'system', 'system', 0);

CREATE TABLE tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);
CREATE INDEX tokens_by_user ON tokens (user_id);

CREATE TABLE rooms (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT,
    public BOOLEAN NOT NULL DEFAULT FALSE,
    owner_id BIGINT REFERENCES users (id),
    pair_key TEXT UNIQUE,
    created_ms BIGINT NOT NULL
);

CREATE TABLE members (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    read_seq BIGINT NOT NULL DEFAULT 0,
    joined_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE messages (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    seq BIGINT NOT NULL,
    sender_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    template TEXT,
    client_msg_id TEXT,
    action TEXT,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq)
);
CREATE UNIQUE INDEX messages_idempotency ON messages (room_id, sender_id, client_msg_id);
