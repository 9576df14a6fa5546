-- Roles, mutes and bans in groups (docs/safety.md). Keep in step with migrations/sqlite.

-- A member's role: `member` or `moderator`. The owner is the group's `rooms.owner_id`
-- and has no other record, so existing groups keep the owner they had.
ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member';

-- Until when (ms) a member may not send, edit, react or type; NULL or past: not muted.
-- A mute ends by itself: everyone compares it with the clock.
ALTER TABLE members ADD COLUMN muted_until_ms BIGINT;

-- Who is banned from which group: `invite` and `join` are refused for them. A ban
-- outlives the membership it ended, so it has its own table.
CREATE TABLE bans (
    room_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    by_id BIGINT,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
