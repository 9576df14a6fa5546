-- Sign-in from an existing backend, the user directory and user lifecycle (docs/protocol.md
-- section 10). Same statements on both backends.
-- name_key: the name folded to lower case (by the server, Unicode-aware) for the directory.
ALTER TABLE users ADD COLUMN name_key TEXT;
-- external_sub: the `sub` of the JWT that created the user, unique.
ALTER TABLE users ADD COLUMN external_sub TEXT;
-- deactivated_ms: when an admin deactivated the user; NULL while active.
ALTER TABLE users ADD COLUMN deactivated_ms BIGINT;
UPDATE users SET name_key = lower(name);
CREATE UNIQUE INDEX users_by_external_sub ON users (external_sub);
CREATE INDEX users_by_name_key ON users (name_key, id);
