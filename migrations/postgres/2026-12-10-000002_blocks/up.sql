-- Blocking (docs/safety.md, "Blocking"). Keep in step with migrations/sqlite.

-- One row per block: `blocker_id` shut out `blocked_id`. Read by the rooms the blocker is in
-- (to hide the blocked user's messages and signals from them) and by `open_direct`/`invite`.
CREATE TABLE blocks (
    blocker_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_by_blocked ON blocks (blocked_id);

-- In a direct room: a block stands between its two members (either way), so neither may
-- post. Kept on both members' rows by the transaction that blocks or unblocks, so the group
-- commit's check of who posts reads it with the member row it reads anyway.
ALTER TABLE members ADD COLUMN blocked BOOLEAN NOT NULL DEFAULT FALSE;
