ALTER TABLE rooms DROP COLUMN last_seq;
