DROP TABLE message_files;
DROP TABLE file_chunks;
DROP TABLE files;
