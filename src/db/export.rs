//! The store's reads for exporting everything it holds about one person
//! (`GET /admin/users/{id}/export`, `palaver users export`): their row as it is (deactivated
//! or not), their memberships, and their messages and uploads a page at a time, by keys that
//! the indexes cover (`messages_by_sender`, `files_by_uploader`), so that an export of any
//! size holds one page in memory.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::error::StoreError;
use super::file_queries::{self, FileQueries};
use super::models::*;
use super::schema::{files, members, messages, users};
use super::store::Store;
use crate::model::{RoomId, UserId};
use crate::with_conn;

/// A person's row with what the wire's User object leaves out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub user: UserRow,
    /// The external id (JWT `sub`) that names them, if any.
    pub external_sub: Option<String>,
    pub deactivated_ms: Option<i64>,
}

impl Store {
    /// The person `user_id` names, deactivated or not; `None` for a bot, the system, or no
    /// one.
    pub async fn profile(&self, user_id: UserId) -> Result<Option<Profile>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(users::table
                    .find(user_id)
                    .filter(users::kind.eq(UserKind::User))
                    .select((UserRow::as_select(), users::external_sub, users::deactivated_ms))
                    .first::<(UserRow, Option<String>, Option<i64>)>(conn)
                    .await
                    .optional()?
                    .map(|(user, external_sub, deactivated_ms)| Profile {
                        user,
                        external_sub,
                        deactivated_ms,
                    }))
            })
        })
        .await
    }

    /// When the person joined each room they are a member of: (room id, ms), by room id.
    pub async fn joined_times(&self, user_id: UserId) -> Result<Vec<(RoomId, i64)>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(members::table
                    .filter(members::user_id.eq(user_id))
                    .order(members::room_id.asc())
                    .select((members::room_id, members::joined_ms))
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Up to `limit` messages the person sent, in (room, seq) order after `after` (a
    /// (room, seq) pair; `(RoomId(0), 0)` for the first page), with their files.
    pub async fn messages_of_sender(
        &self,
        user_id: UserId,
        after: MessageKey,
        limit: i64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let (after_room, after_seq) = after;
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let rows: Vec<(MessageRow, UserRow)> = messages::table
                    .inner_join(users::table)
                    .filter(messages::sender_id.eq(user_id))
                    .filter(
                        messages::room_id.gt(after_room).or(messages::room_id
                            .eq(after_room)
                            .and(messages::seq.gt(after_seq))),
                    )
                    .order((messages::room_id.asc(), messages::seq.asc()))
                    .limit(limit)
                    .select((MessageRow::as_select(), UserRow::as_select()))
                    .load(conn)
                    .await?;
                let mut page: Vec<StoredMessage> = rows
                    .into_iter()
                    .map(|(row, sender)| StoredMessage {
                        reply_to: None,
                        mentions: Vec::new(),
                        row,
                        sender,
                        files: Vec::new(),
                    })
                    .collect();
                let (rooms, seqs) = file_queries::message_keys(&page);
                file_queries::attach(&mut page, conn.files_of_messages(rooms, seqs).await?);
                Ok(page)
            })
        })
        .await
    }

    /// Up to `limit` files the person uploaded, by id, after the id `after` (`""` first).
    pub async fn files_of_uploader(
        &self,
        user_id: UserId,
        after: &str,
        limit: i64,
    ) -> Result<Vec<FileRow>, StoreError> {
        let after = after.to_string();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(files::table
                    .filter(files::uploader_id.eq(user_id))
                    .filter(files::id.gt(&after))
                    .order(files::id.asc())
                    .limit(limit)
                    .select(FileRow::as_select())
                    .load(conn)
                    .await?)
            })
        })
        .await
    }
}
