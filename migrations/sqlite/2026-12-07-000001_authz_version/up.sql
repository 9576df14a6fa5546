-- Moves on with every change to what a node may keep in memory about a room for deciding
-- who may do what in it: its members (and their roles, bans and mutes as they come). Each
-- node re-reads the live rooms' versions every few seconds and after every Redis reconnect,
-- and a room whose version moved reloads itself from the store (docs/scale-out.md). The
-- change takes the room row's lock, so it is ordered with the group commits of the room.
ALTER TABLE rooms ADD COLUMN authz_version BIGINT NOT NULL DEFAULT 0;
