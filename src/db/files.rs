//! The store's part for uploaded files: the description, the bytes (in chunks of
//! [`CHUNK_BYTES`], so that a download or a range reads only what it sends), the thumbnail,
//! who may read a file, and the removal of uploads no message refers to.

use diesel::dsl::{count_star, exists, min, not, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::models::FileRow;
use super::schema::{file_chunks, files, members, message_files};
use super::store::Store;
use crate::model::UserId;
use crate::{with_conn, write_conn};

/// The bytes of a file are stored in rows of at most this many bytes.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// What one user keeps of uploads, for the quotas (docs/files.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadUsage {
    /// Uploads no message carries: how many, and their bytes.
    pub unattached_files: i64,
    pub unattached_bytes: i64,
    /// Bytes of the uploads made since the time asked about, and when the oldest was made.
    pub recent_bytes: i64,
    pub oldest_recent_ms: Option<i64>,
}

/// `SUM(size)` as a 64-bit integer on both backends (PostgreSQL sums BIGINT to NUMERIC).
const SUM_OF_SIZES: &str = "CAST(COALESCE(SUM(size), 0) AS BIGINT)";

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

    /// What `uploader` keeps: uploads no message carries, and what was uploaded since
    /// `since_ms` (still stored: uploads no message carried go after a day).
    pub async fn upload_usage(
        &self,
        uploader: UserId,
        since_ms: i64,
    ) -> Result<UploadUsage, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let (unattached_files, unattached_bytes) = files::table
                    .filter(files::uploader_id.eq(uploader))
                    .filter(not(exists(
                        message_files::table.filter(message_files::file_id.eq(files::id)),
                    )))
                    .select((count_star(), sql::<BigInt>(SUM_OF_SIZES)))
                    .get_result::<(i64, i64)>(conn)
                    .await?;
                let (recent_bytes, oldest_recent_ms) = files::table
                    .filter(files::uploader_id.eq(uploader))
                    .filter(files::created_ms.gt(since_ms))
                    .select((sql::<BigInt>(SUM_OF_SIZES), min(files::created_ms)))
                    .get_result::<(i64, Option<i64>)>(conn)
                    .await?;
                Ok(UploadUsage {
                    unattached_files,
                    unattached_bytes,
                    recent_bytes,
                    oldest_recent_ms,
                })
            })
        })
        .await
    }

    /// The file, if `reader` may see it: its uploader, or a member of a room where a message
    /// carries it. None otherwise, exactly as for an id that was never issued.
    pub async fn file_for(&self, reader: UserId, id: &str) -> Result<Option<FileRow>, StoreError> {
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
