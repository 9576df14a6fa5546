-- Notifications for people who are not connected (docs/protocol.md section 12, docs/notifications.md),
-- PostgreSQL flavour. Keep in step with migrations/sqlite.

-- Where a user's notifications go. `address` is the kind and the endpoint or token
-- (`webpush https://…`, `fcm TOKEN`): unique, so registering it again, by anyone, finds it.
CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    address TEXT NOT NULL UNIQUE,
    p256dh TEXT,
    auth TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX devices_by_user ON devices (user_id);

-- A member's level for the room (`all`, `mentions`, `none`); NULL: the room kind's default.
ALTER TABLE members ADD COLUMN notify TEXT;

-- Decided in the transaction that commits the message, not yet sent: one row per message and
-- user to notify (only users with a device).
CREATE TABLE notifications (
    user_id BIGINT NOT NULL,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    decided_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);
CREATE INDEX notifications_by_age ON notifications (decided_ms);

-- When the last notification of a user and room was taken for sending (the coalescing window).
CREATE TABLE notify_windows (
    user_id BIGINT NOT NULL,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    sent_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- One notification for one device, composed, until the provider takes it or it is given up.
-- `lease_ms`: a node sending it holds it until then; a node that died lets it go by itself.
CREATE TABLE push_deliveries (
    id BIGSERIAL PRIMARY KEY,
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    next_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    lease_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX push_deliveries_due ON push_deliveries (next_ms);
CREATE INDEX push_deliveries_by_device ON push_deliveries (device_id);

-- Keys every node shares: the VAPID key of Web Push (`vapid`, the private key, base64url).
CREATE TABLE push_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
