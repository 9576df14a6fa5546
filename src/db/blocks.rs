//! The store's part of blocking (section 13): who shut out whom. A block is one row of
//! `blocks`; the transaction that makes or lifts one also keeps the `blocked` flag of the
//! pair's direct room on both member rows (read by the group commit's check of who posts,
//! `db/sender_checks.rs`) and moves the `authz_version` of every room of the blocker on, so
//! each of those rooms, on every node, reloads what it hides from whom (`db/authz.rs`).

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::models::{RoomKind, UserRow};
use super::schema::{blocks, members, rooms, users};
use super::seq::RoomSeqs;
use super::store::{pair_key, Store};
use crate::model::{RoomId, UserId};
use crate::{with_conn, write_conn};

/// The most users one user may block (a bounded list; `blocks` answers it in one reply).
pub const MAX_BLOCKS: i64 = 1_000;

/// What a block or unblock changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockChange {
    /// The rooms whose `authz_version` moved (every room of the blocker), ascending; empty
    /// when the block already stood (or was already lifted).
    pub rooms: Vec<RoomId>,
}

impl Store {
    /// `blocker` blocks (`on`) or unblocks `blocked`. Idempotent: asking for what already
    /// holds changes nothing. A blocker already at [`MAX_BLOCKS`] gets `TooManyBlocks`.
    pub async fn set_block(
        &self,
        blocker: UserId,
        blocked: UserId,
        on: bool,
    ) -> Result<BlockChange, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<BlockChange, StoreError, _>(async move |conn| {
                    let mut rooms_of: Vec<RoomId> = members::table
                        .filter(members::user_id.eq(blocker))
                        .select(members::room_id)
                        .load(conn)
                        .await?;
                    rooms_of.sort_unstable();
                    // The rooms' locks first, in id order, as the group commit takes them.
                    conn.lock_rooms(&rooms_of).await?;
                    let changed = if on {
                        let count: i64 = blocks::table
                            .filter(blocks::blocker_id.eq(blocker))
                            .count()
                            .get_result(conn)
                            .await?;
                        let added = diesel::insert_into(blocks::table)
                            .values((
                                blocks::blocker_id.eq(blocker),
                                blocks::blocked_id.eq(blocked),
                                blocks::created_ms.eq(crate::clock::now_ms()),
                            ))
                            .on_conflict_do_nothing()
                            .execute(conn)
                            .await?;
                        if added > 0 && count >= MAX_BLOCKS {
                            return Err(StoreError::TooManyBlocks(MAX_BLOCKS));
                        }
                        added > 0
                    } else {
                        diesel::delete(
                            blocks::table
                                .filter(blocks::blocker_id.eq(blocker))
                                .filter(blocks::blocked_id.eq(blocked)),
                        )
                        .execute(conn)
                        .await?
                            > 0
                    };
                    if !changed {
                        return Ok(BlockChange::default());
                    }
                    let direct: Option<i64> = rooms::table
                        .filter(rooms::pair_key.eq(pair_key(RoomKind::Direct, blocker, blocked)))
                        .select(rooms::id)
                        .first(conn)
                        .await
                        .optional()?;
                    if let Some(direct) = direct {
                        let standing: i64 = blocks::table
                            .filter(
                                blocks::blocker_id
                                    .eq(blocker)
                                    .and(blocks::blocked_id.eq(blocked))
                                    .or(blocks::blocker_id
                                        .eq(blocked)
                                        .and(blocks::blocked_id.eq(blocker))),
                            )
                            .count()
                            .get_result(conn)
                            .await?;
                        diesel::update(members::table.filter(members::room_id.eq(direct)))
                            .set(members::blocked.eq(standing > 0))
                            .execute(conn)
                            .await?;
                    }
                    diesel::update(rooms::table.filter(rooms::id.eq_any(&rooms_of)))
                        .set(rooms::authz_version.eq(rooms::authz_version + 1))
                        .execute(conn)
                        .await?;
                    Ok(BlockChange { rooms: rooms_of })
                })
                .await
            })
        })
        .await
    }

    /// The users `blocker` blocks, by id (at most [`MAX_BLOCKS`]).
    pub async fn blocks_of(&self, blocker: UserId) -> Result<Vec<UserRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(blocks::table
                    .inner_join(users::table.on(users::id.eq(blocks::blocked_id)))
                    .filter(blocks::blocker_id.eq(blocker))
                    .order(users::id.asc())
                    .limit(MAX_BLOCKS)
                    .select(UserRow::as_select())
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// The ids of the users `blocker` blocks.
    pub async fn blocked_by(&self, blocker: UserId) -> Result<HashSet<UserId>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(blocks::table
                    .filter(blocks::blocker_id.eq(blocker))
                    .select(blocks::blocked_id)
                    .limit(MAX_BLOCKS)
                    .load::<UserId>(conn)
                    .await?
                    .into_iter()
                    .collect())
            })
        })
        .await
    }

    /// Whether a block stands between `a` and `b`, either way.
    pub async fn block_between(&self, a: UserId, b: UserId) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let count: i64 = blocks::table
                    .filter(
                        blocks::blocker_id
                            .eq(a)
                            .and(blocks::blocked_id.eq(b))
                            .or(blocks::blocker_id.eq(b).and(blocks::blocked_id.eq(a))),
                    )
                    .count()
                    .get_result(conn)
                    .await?;
                Ok(count > 0)
            })
        })
        .await
    }
}
