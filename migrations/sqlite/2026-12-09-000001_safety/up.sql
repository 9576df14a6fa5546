-- Safety (docs/safety.md). Keep in step with migrations/postgres.

-- The operator's content rules, in the order they were given (PUT /admin/rules replaces them
-- all). A built-in rule has its id (`contact_phone`, …) and no pattern.
CREATE TABLE content_rules (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    pattern TEXT,
    action TEXT NOT NULL,
    applies_to TEXT NOT NULL
);

-- One row: moves on with every change of the rules, so that each node sees a change made
-- through another one and compiles the new set.
CREATE TABLE content_rules_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
INSERT INTO content_rules_version (id, version, updated_ms) VALUES (1, 0, 0);

-- Reports of messages. `message` is the message as it was when reported (the wire's
-- Message, JSON): it stays when the message is edited, deleted or its room removed, so
-- there are no foreign keys. `reporter_id` is NULL for a report made by a content rule.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    reporter_id BIGINT,
    room_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    sender_id BIGINT NOT NULL,
    message TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    resolution TEXT
);
CREATE INDEX reports_by_status ON reports (status, id);

-- Every moderation action, written in the transaction of the change it records.
-- `actor_id` NULL: the admin API.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms BIGINT NOT NULL,
    actor_id BIGINT,
    action TEXT NOT NULL,
    room_id BIGINT,
    target TEXT,
    detail TEXT NOT NULL
);
