-- Bot definitions (the JSON document) and where each bot conversation is in its script.
CREATE TABLE bots (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    definition TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE bot_states (
    room_id BIGINT PRIMARY KEY REFERENCES rooms (id),
    state TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
