DROP INDEX messages_by_age;
DROP INDEX messages_by_sender;
