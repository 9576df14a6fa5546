DROP INDEX users_by_name_key;
DROP INDEX users_by_external_sub;
ALTER TABLE users DROP COLUMN deactivated_ms;
ALTER TABLE users DROP COLUMN external_sub;
ALTER TABLE users DROP COLUMN name_key;
