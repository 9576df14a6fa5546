//! The queries that tie files to messages (which files a message carries), shared by the
//! group-commit writer's transaction, the history readers and the file store: a leaf that
//! imports neither the store nor the writer.

use std::collections::HashMap;
use std::future::Future;

use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::models::{FileRow, MessageFileRow, MessageKey, StoredMessage};
use super::schema::{file_chunks, files, message_files};
use crate::model::RoomId;

/// The files of messages, by (room, seq), in each message's order.
pub type MessageFiles = HashMap<MessageKey, Vec<FileRow>>;

/// The queries that tie files to messages, for the writer's transaction and the readers.
pub trait FileQueries {
    /// The files with these keys (any that exist).
    fn files_by_keys(
        &mut self,
        keys: Vec<String>,
    ) -> impl Future<Output = QueryResult<Vec<FileRow>>> + Send;
    /// The files the messages of `rooms` with `seqs` carry (a superset of the pairs asked
    /// for when several rooms are asked at once; callers look up their own pairs).
    fn files_of_messages(
        &mut self,
        rooms: Vec<RoomId>,
        seqs: Vec<i64>,
    ) -> impl Future<Output = QueryResult<MessageFiles>> + Send;
    fn insert_message_files(
        &mut self,
        rows: Vec<MessageFileRow>,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
    /// For a room being deleted: forgets which of its messages carry which files, and
    /// deletes the files no other room's messages carry; returns how many went.
    fn delete_room_files(
        &mut self,
        room_id: RoomId,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
}

/// The same statements on both backends.
macro_rules! file_queries {
    ($conn:ty) => {
        impl FileQueries for $conn {
            async fn files_by_keys(&mut self, keys: Vec<String>) -> QueryResult<Vec<FileRow>> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                files::table
                    .filter(files::id.eq_any(&keys))
                    .select(FileRow::as_select())
                    .load(self)
                    .await
            }

            async fn files_of_messages(
                &mut self,
                rooms: Vec<RoomId>,
                seqs: Vec<i64>,
            ) -> QueryResult<MessageFiles> {
                if rooms.is_empty() || seqs.is_empty() {
                    return Ok(MessageFiles::new());
                }
                let rows: Vec<(RoomId, i64, FileRow)> = message_files::table
                    .inner_join(files::table)
                    .filter(message_files::room_id.eq_any(&rooms))
                    .filter(message_files::seq.eq_any(&seqs))
                    .order((
                        message_files::room_id,
                        message_files::seq,
                        message_files::position,
                    ))
                    .select((
                        message_files::room_id,
                        message_files::seq,
                        FileRow::as_select(),
                    ))
                    .load(self)
                    .await?;
                let mut found = MessageFiles::new();
                for (room, seq, file) in rows {
                    found.entry((room, seq)).or_default().push(file);
                }
                Ok(found)
            }

            async fn insert_message_files(
                &mut self,
                rows: Vec<MessageFileRow>,
            ) -> QueryResult<usize> {
                // Few rows (at most 10 a message, and few messages carry files).
                let mut inserted = 0;
                for row in rows {
                    inserted += diesel::insert_into(message_files::table)
                        .values(&row)
                        .execute(self)
                        .await?;
                }
                Ok(inserted)
            }

            async fn delete_room_files(&mut self, room_id: RoomId) -> QueryResult<usize> {
                let carried: Vec<String> = message_files::table
                    .filter(message_files::room_id.eq(room_id))
                    .select(message_files::file_id)
                    .distinct()
                    .load(self)
                    .await?;
                diesel::delete(message_files::table.filter(message_files::room_id.eq(room_id)))
                    .execute(self)
                    .await?;
                if carried.is_empty() {
                    return Ok(0);
                }
                let orphans: Vec<String> = files::table
                    .filter(files::id.eq_any(&carried))
                    .filter(not(exists(
                        message_files::table.filter(message_files::file_id.eq(files::id)),
                    )))
                    .select(files::id)
                    .load(self)
                    .await?;
                diesel::delete(file_chunks::table.filter(file_chunks::file_id.eq_any(&orphans)))
                    .execute(self)
                    .await?;
                diesel::delete(files::table.filter(files::id.eq_any(&orphans)))
                    .execute(self)
                    .await
            }
        }
    };
}

file_queries!(PgConn);
file_queries!(SqliteConn);

/// Gives each message the files `found` lists for it.
pub fn attach(messages: &mut [StoredMessage], mut found: MessageFiles) {
    if found.is_empty() {
        return;
    }
    for message in messages {
        if let Some(files) = found.remove(&(message.row.room_id, message.row.seq)) {
            message.files = files;
        }
    }
}

/// The rooms and seqs to ask [`FileQueries::files_of_messages`] for.
pub fn message_keys(messages: &[StoredMessage]) -> (Vec<RoomId>, Vec<i64>) {
    let mut rooms: Vec<RoomId> = messages.iter().map(|m| m.row.room_id).collect();
    let mut seqs: Vec<i64> = messages.iter().map(|m| m.row.seq).collect();
    rooms.sort_unstable();
    rooms.dedup();
    seqs.sort_unstable();
    seqs.dedup();
    (rooms, seqs)
}
