DROP TABLE push_keys;
DROP TABLE push_deliveries;
DROP TABLE notify_windows;
DROP TABLE notifications;
ALTER TABLE members DROP COLUMN notify;
DROP TABLE devices;
