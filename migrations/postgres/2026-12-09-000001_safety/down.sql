DROP TABLE audit_log;
DROP TABLE reports;
DROP TABLE content_rules_version;
DROP TABLE content_rules;
