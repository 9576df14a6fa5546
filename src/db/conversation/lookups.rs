//! The reads of section 11 apart from search: `changes`, the message a reply answers, a
//! room list's unread mentions and last messages, and messages whole by key (for `join`,
//! `history` and events). Reads that take more than one statement run in one snapshot, so
//! a page is the state at one moment.

use std::collections::HashMap;
use std::future::Future;

use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::ConversationError;
use super::load::ConversationReads;
use super::{ChangesPage, FullMessage, ReplyRef, MAX_CHANGES_PAGE};
use crate::db::backend::{PgConn, SqliteConn};
use crate::db::models::MessageKey;
use crate::db::schema::{members, mentions, messages, rooms};
use crate::db::store::Store;
use crate::model::{RoomId, UserId};
use crate::with_conn;

/// Makes the transaction it is called first in one snapshot of the database.
pub(super) trait Snapshot {
    fn snapshot(&mut self) -> impl Future<Output = QueryResult<()>> + Send;
}

impl Snapshot for PgConn {
    /// PostgreSQL's default (read committed) takes a snapshot per statement.
    async fn snapshot(&mut self) -> QueryResult<()> {
        diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(self)
            .await
            .map(|_| ())
    }
}

impl Snapshot for SqliteConn {
    /// In WAL mode a read transaction is a snapshot from its first read on.
    async fn snapshot(&mut self) -> QueryResult<()> {
        Ok(())
    }
}

impl Store {
    /// `changes`: the messages of `room` changed after `after_rev`, each once at its latest
    /// state, by `rev` ascending, at most `limit` (1 to 200), and the room's `last_rev`.
    pub async fn changes(
        &self,
        room: RoomId,
        after_rev: i64,
        limit: i64,
    ) -> Result<ChangesPage, ConversationError> {
        if !(1..=MAX_CHANGES_PAGE).contains(&limit) {
            return Err(ConversationError::OutOfRange(format!(
                "limit must be 1 to {MAX_CHANGES_PAGE}"
            )));
        }
        if after_rev < 0 {
            return Err(ConversationError::OutOfRange(
                "after_rev must not be negative".into(),
            ));
        }
        self.run(move |db| async move {
            Ok(with_conn!(&*db, conn => {
                conn.transaction::<ChangesPage, ConversationError, _>(async move |conn| {
                    conn.snapshot().await?;
                    let last_rev: Option<i64> = rooms::table
                        .find(room)
                        .select(rooms::last_rev)
                        .first(conn)
                        .await
                        .optional()?;
                    let Some(last_rev) = last_rev else {
                        return Err(ConversationError::NotFound("room"));
                    };
                    // The literal `rev > 0` is the partial index's own condition
                    // (`messages_by_rev`): the planner uses it whatever `after_rev` is.
                    let mut keys: Vec<MessageKey> = messages::table
                        .filter(messages::room_id.eq(room))
                        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("messages.rev > 0"))
                        .filter(messages::rev.gt(after_rev))
                        .order(messages::rev.asc())
                        .limit(limit + 1)
                        .select((messages::room_id, messages::seq))
                        .load(conn)
                        .await?;
                    let has_more = keys.len() as i64 > limit;
                    keys.truncate(limit as usize);
                    let messages = conn.full_messages(keys).await?;
                    Ok(ChangesPage { messages, last_rev, has_more })
                })
                .await
            }))
        })
        .await?
    }

    /// The message `seq` of `room` as a reply to it shows it (`send`'s `reply_to`):
    /// `NotFound` when the room has no such message.
    pub async fn reply_target(
        &self,
        room: RoomId,
        seq: i64,
    ) -> Result<ReplyRef, ConversationError> {
        self.run(move |db| async move {
            Ok(with_conn!(&*db, conn => {
                Ok::<_, ConversationError>(conn.reply_refs(vec![(room, seq)]).await?)
            }))
        })
        .await??
        .remove(&(room, seq))
        .ok_or(ConversationError::NotFound("message"))
    }

    /// Messages whole, in the order of `keys` (those not there left out).
    pub async fn full_messages(
        &self,
        keys: Vec<MessageKey>,
    ) -> Result<Vec<FullMessage>, ConversationError> {
        self.run(move |db| async move {
            Ok(with_conn!(&*db, conn => {
                conn.transaction::<Vec<FullMessage>, ConversationError, _>(async move |conn| {
                    conn.snapshot().await?;
                    Ok(conn.full_messages(keys).await?)
                })
                .await
            }))
        })
        .await?
    }

    /// The newest message of each of `rooms` that has one (tombstones included), by room,
    /// read in one query (and one more each for files, reactions, mentions and replies).
    pub async fn last_messages(
        &self,
        room_ids: Vec<RoomId>,
    ) -> Result<HashMap<RoomId, FullMessage>, ConversationError> {
        let found = self
            .run(move |db| async move {
                Ok(with_conn!(&*db, conn => {
                    conn.transaction::<Vec<FullMessage>, ConversationError, _>(async move |conn| {
                        conn.snapshot().await?;
                        Ok(conn.last_messages(room_ids).await?)
                    })
                    .await
                }))
            })
            .await??;
        Ok(found
            .into_iter()
            .map(|message| (message.room_id(), message))
            .collect())
    }

    /// For each of `rooms` where `user` is a member: how many messages after the user's
    /// `read_seq` mention them (rooms with none are left out). One query.
    pub async fn mentions_unread(
        &self,
        user: UserId,
        room_ids: Vec<RoomId>,
    ) -> Result<HashMap<RoomId, i64>, ConversationError> {
        if room_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let counts: Vec<(RoomId, i64)> = self
            .run(move |db| async move {
                with_conn!(&*db, conn => {
                    Ok(mentions::table
                        .inner_join(
                            members::table.on(members::room_id
                                .eq(mentions::room_id)
                                .and(members::user_id.eq(mentions::user_id))),
                        )
                        .filter(mentions::user_id.eq(user))
                        .filter(mentions::room_id.eq_any(room_ids))
                        .filter(mentions::seq.gt(members::read_seq))
                        .group_by(mentions::room_id)
                        .select((mentions::room_id, diesel::dsl::count_star()))
                        .load(conn)
                        .await?)
                })
            })
            .await?;
        Ok(counts.into_iter().collect())
    }
}
