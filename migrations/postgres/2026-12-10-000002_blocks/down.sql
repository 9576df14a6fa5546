ALTER TABLE members DROP COLUMN blocked;
DROP TABLE blocks;
