DROP TABLE bans;
ALTER TABLE members DROP COLUMN muted_until_ms;
ALTER TABLE members DROP COLUMN role;
