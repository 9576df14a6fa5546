//! The store's part for messages: pages of a room's history, one message by its seq,
//! counts. Appends go through the group-commit writer (`Store::append`).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::error::StoreError;
use super::file_queries::{self, FileQueries};
use super::models::*;
use super::schema::{messages, users};
use super::store::Store;
use crate::model::RoomId;
use crate::with_conn;

impl Store {
    /// Up to `limit` messages with `seq` above `after_seq`, oldest first.
    pub async fn messages_after(
        &self,
        room_id: RoomId,
        after_seq: i64,
        limit: i64,
    ) -> Result<MessagePage, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let rows: Vec<(MessageRow, UserRow)> = messages::table
                    .inner_join(users::table)
                    .filter(messages::room_id.eq(room_id))
                    .filter(messages::seq.gt(after_seq))
                    .order(messages::seq.asc())
                    .limit(limit + 1)
                    .select((MessageRow::as_select(), UserRow::as_select()))
                    .load(conn)
                    .await?;
                let mut page = page(rows, limit);
                let (rooms, seqs) = file_queries::message_keys(&page.messages);
                file_queries::attach(&mut page.messages, conn.files_of_messages(rooms, seqs).await?);
                Ok(page)
            })
        })
        .await
    }

    /// The `limit` messages just before `before_seq` (the newest without it), oldest first.
    pub async fn messages_before(
        &self,
        room_id: RoomId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<MessagePage, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let rows: Vec<(MessageRow, UserRow)> = messages::table
                    .inner_join(users::table)
                    .filter(messages::room_id.eq(room_id))
                    .filter(messages::seq.lt(before_seq.unwrap_or(i64::MAX)))
                    .order(messages::seq.desc())
                    .limit(limit + 1)
                    .select((MessageRow::as_select(), UserRow::as_select()))
                    .load(conn)
                    .await?;
                // Newest first from the query; a page reads oldest first.
                let mut page = page(rows, limit);
                page.messages.reverse();
                let (rooms, seqs) = file_queries::message_keys(&page.messages);
                file_queries::attach(&mut page.messages, conn.files_of_messages(rooms, seqs).await?);
                Ok(page)
            })
        })
        .await
    }

    pub async fn message(
        &self,
        room_id: RoomId,
        seq: i64,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let row: Option<(MessageRow, UserRow)> = messages::table
                    .inner_join(users::table)
                    .filter(messages::room_id.eq(room_id))
                    .filter(messages::seq.eq(seq))
                    .select((MessageRow::as_select(), UserRow::as_select()))
                    .first(conn)
                    .await
                    .optional()?;
                let Some((row, sender)) = row else { return Ok(None) };
                let mut found = conn.files_of_messages(vec![room_id], vec![seq]).await?;
                Ok(Some(StoredMessage {
                    reply_to: None,
                    mentions: Vec::new(),
                    files: found.remove(&(room_id, seq)).unwrap_or_default(),
                    row,
                    sender,
                }))
            })
        })
        .await
    }

    pub async fn count_messages(&self) -> Result<i64, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(messages::table.count().get_result::<i64>(conn).await?)
            })
        })
        .await
    }
}

/// A page from rows fetched with `limit + 1`, in the order of the query: an extra row only
/// says that there is more past the page.
fn page(mut rows: Vec<(MessageRow, UserRow)>, limit: i64) -> MessagePage {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    MessagePage {
        messages: rows
            .into_iter()
            .map(|(row, sender)| StoredMessage {
                reply_to: None,
                mentions: Vec::new(),
                row,
                sender,
                files: Vec::new(),
            })
            .collect(),
        has_more,
    }
}
