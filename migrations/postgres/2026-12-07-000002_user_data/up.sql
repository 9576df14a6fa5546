-- A user's messages, for exporting and erasing them (GET /admin/users/{id}/export,
-- DELETE /admin/users/{id}?erase=true) without reading every room's history.
CREATE INDEX messages_by_sender ON messages (sender_id, room_id, seq);
-- Messages by age, for --retention-days: each batch finds the oldest ones at once.
CREATE INDEX messages_by_age ON messages (created_ms);
