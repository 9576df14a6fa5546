ALTER TABLE rooms DROP COLUMN authz_version;
