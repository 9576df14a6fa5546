//! A room's messages page by page, whole (reply, mentions, edit, tombstone, reactions,
//! `rev`): what `join`, `history`, the admin API and a room's catch-up deliver. The keys
//! and the messages are read in one snapshot.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::load::ConversationReads;
use super::lookups::Snapshot;
use super::FullMessage;
use crate::db::error::StoreError;
use crate::db::schema::messages;
use crate::db::store::Store;
use crate::model::RoomId;
use crate::with_conn;

/// One page of a room's messages, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FullPage {
    pub messages: Vec<FullMessage>,
    /// More messages exist past the page (after it for `after`, before it for `before`).
    pub has_more: bool,
}

/// Where a page is.
#[derive(Clone, Copy, Debug)]
enum Side {
    After(i64),
    Before(Option<i64>),
}

impl Store {
    /// Up to `limit` messages with `seq` above `after_seq`, oldest first.
    pub async fn full_page_after(
        &self,
        room: RoomId,
        after_seq: i64,
        limit: i64,
    ) -> Result<FullPage, StoreError> {
        self.full_page(room, Side::After(after_seq), limit).await
    }

    /// The `limit` messages just before `before_seq` (the newest without it), oldest first.
    pub async fn full_page_before(
        &self,
        room: RoomId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<FullPage, StoreError> {
        self.full_page(room, Side::Before(before_seq), limit).await
    }

    async fn full_page(
        &self,
        room: RoomId,
        side: Side,
        limit: i64,
    ) -> Result<FullPage, StoreError> {
        self.run(move |db| async move {
            Ok(with_conn!(&*db, conn => {
                conn.transaction::<FullPage, StoreError, _>(async move |conn| {
                    conn.snapshot().await?;
                    let of_room = messages::table.filter(messages::room_id.eq(room));
                    let mut seqs: Vec<i64> = match side {
                        Side::After(after) => {
                            of_room
                                .filter(messages::seq.gt(after))
                                .order(messages::seq.asc())
                                .limit(limit + 1)
                                .select(messages::seq)
                                .load(conn)
                                .await?
                        }
                        Side::Before(before) => {
                            of_room
                                .filter(messages::seq.lt(before.unwrap_or(i64::MAX)))
                                .order(messages::seq.desc())
                                .limit(limit + 1)
                                .select(messages::seq)
                                .load(conn)
                                .await?
                        }
                    };
                    let has_more = seqs.len() as i64 > limit;
                    seqs.truncate(limit as usize);
                    seqs.sort_unstable();
                    let keys = seqs.into_iter().map(|seq| (room, seq)).collect();
                    let messages = conn.full_messages(keys).await?;
                    Ok(FullPage { messages, has_more })
                })
                .await
            }))
        })
        .await?
    }
}
