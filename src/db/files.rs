//! The store's part for uploaded files: the description, the bytes (in chunks of
//! [`CHUNK_BYTES`], so that a download or a range reads only what it sends), the thumbnail,
//! who may read a file, and the removal of uploads no message refers to.

use std::collections::HashMap;
use std::future::Future;

use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::backend::{PgConn, SqliteConn};
use super::error::StoreError;
use super::models::{FileRow, MessageFileRow, StoredMessage};
use super::schema::{file_chunks, files, members, message_files};
use super::store::Store;
use crate::{with_conn, write_conn};

/// The files of messages, by (room, seq), in each message's order.
pub type MessageFiles = HashMap<(i64, i64), Vec<FileRow>>;

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
        rooms: Vec<i64>,
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
        room_id: i64,
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
                rooms: Vec<i64>,
                seqs: Vec<i64>,
            ) -> QueryResult<MessageFiles> {
                if rooms.is_empty() || seqs.is_empty() {
                    return Ok(MessageFiles::new());
                }
                let rows: Vec<(i64, i64, FileRow)> = message_files::table
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

            async fn delete_room_files(&mut self, room_id: i64) -> QueryResult<usize> {
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
pub fn message_keys(messages: &[StoredMessage]) -> (Vec<i64>, Vec<i64>) {
    let mut rooms: Vec<i64> = messages.iter().map(|m| m.row.room_id).collect();
    let mut seqs: Vec<i64> = messages.iter().map(|m| m.row.seq).collect();
    for list in [&mut rooms, &mut seqs] {
        list.sort_unstable();
        list.dedup();
    }
    (rooms, seqs)
}

/// The bytes of a file are stored in rows of at most this many bytes.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// A file to store: its description, its bytes and its thumbnail.
pub struct NewFile {
    pub row: FileRow,
    pub bytes: Vec<u8>,
    pub thumbnail: Option<Vec<u8>>,
}

impl Store {
    /// Stores a file, bytes and all, in one transaction: once this returns, the file is
    /// committed as durably as a message.
    pub async fn insert_file(&self, file: NewFile) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(), StoreError, _>(async move |conn| {
                    let NewFile { row, bytes, thumbnail } = file;
                    let id = row.id.clone();
                    diesel::insert_into(files::table)
                        .values((&row, files::thumbnail.eq(thumbnail)))
                        .execute(conn)
                        .await?;
                    for (idx, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
                        let idx = i32::try_from(idx)
                            .map_err(|_| StoreError::Conflict("the file is too large".into()))?;
                        diesel::insert_into(file_chunks::table)
                            .values((
                                file_chunks::file_id.eq(&id),
                                file_chunks::idx.eq(idx),
                                file_chunks::data.eq(chunk),
                            ))
                            .execute(conn)
                            .await?;
                    }
                    Ok(())
                })
                .await
            })
        })
        .await
    }

    /// The file, if `reader` may see it: its uploader, or a member of a room where a message
    /// carries it. None otherwise, exactly as for an id that was never issued.
    pub async fn file_for(&self, reader: i64, id: &str) -> Result<Option<FileRow>, StoreError> {
        let id = id.to_string();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let row = files::table
                    .find(&id)
                    .select(FileRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                let Some(row) = row else { return Ok(None) };
                if row.uploader_id == reader {
                    return Ok(Some(row));
                }
                let carried_where_reader_is = diesel::select(exists(
                    message_files::table
                        .inner_join(members::table.on(members::room_id.eq(message_files::room_id)))
                        .filter(message_files::file_id.eq(&id))
                        .filter(members::user_id.eq(reader)),
                ))
                .get_result::<bool>(conn)
                .await?;
                Ok(carried_where_reader_is.then_some(row))
            })
        })
        .await
    }

    /// Chunks `first..=last` of a file, in order, as `(index, bytes)`.
    pub async fn file_chunks(
        &self,
        id: &str,
        first: i32,
        last: i32,
    ) -> Result<Vec<(i32, Vec<u8>)>, StoreError> {
        let id = id.to_string();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(file_chunks::table
                    .filter(file_chunks::file_id.eq(&id))
                    .filter(file_chunks::idx.between(first, last))
                    .order(file_chunks::idx.asc())
                    .select((file_chunks::idx, file_chunks::data))
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// A file's thumbnail bytes, when it has one.
    pub async fn file_thumbnail(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let id = id.to_string();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(files::table
                    .find(&id)
                    .select(files::thumbnail)
                    .first::<Option<Vec<u8>>>(conn)
                    .await
                    .optional()?
                    .flatten())
            })
        })
        .await
    }

    /// Deletes up to `limit` files uploaded before `created_before_ms` that no message refers
    /// to, oldest first; returns how many went.
    pub async fn delete_unreferenced_files(
        &self,
        created_before_ms: i64,
        limit: i64,
    ) -> Result<usize, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<usize, StoreError, _>(async move |conn| {
                    let ids: Vec<String> = files::table
                        .filter(files::created_ms.lt(created_before_ms))
                        .filter(not(exists(
                            message_files::table.filter(message_files::file_id.eq(files::id)),
                        )))
                        .order(files::created_ms.asc())
                        .limit(limit)
                        .select(files::id)
                        .load(conn)
                        .await?;
                    if ids.is_empty() {
                        return Ok(0);
                    }
                    diesel::delete(file_chunks::table.filter(file_chunks::file_id.eq_any(&ids)))
                        .execute(conn)
                        .await?;
                    Ok(diesel::delete(files::table.filter(files::id.eq_any(&ids)))
                        .execute(conn)
                        .await?)
                })
                .await
            })
        })
        .await
    }
}
