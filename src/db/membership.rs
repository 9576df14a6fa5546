//! The store's part for membership: joining and leaving a group (checked against caps and
//! bans, each moving the room's `authz_version` on under the room row's lock), whether a
//! user is a member, and read positions.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::authz::RoomChanges;
use super::error::StoreError;
use super::models::*;
use super::schema::{bans, members, rooms};
use super::seq::RoomSeqs;
use super::store::Store;
use crate::model::{RoomId, UserId};
use crate::{with_conn, write_conn};

/// Of `users`, those already in `cap` groups or more (on either backend's connection); also
/// used by `rooms.rs` when a group is created (`#[macro_use]` in `db/mod.rs`).
macro_rules! groups_full {
    ($conn:expr, $users:expr, $cap:expr) => {
        members::table
            .inner_join(rooms::table)
            .filter(rooms::kind.eq(RoomKind::Group))
            .filter(members::user_id.eq_any($users))
            .group_by(members::user_id)
            .having(diesel::dsl::count_star().ge($cap))
            .select(members::user_id)
            .load::<UserId>($conn)
            .await
    };
}

impl Store {
    /// Adds a member of a group; returns false when they already were one. A user already in
    /// as many groups as one user may be is refused with `TooManyRooms`, one banned from the
    /// group with `Banned` (docs/safety.md). Moves the room's
    /// `authz_version` on (`db/authz.rs`) in the same transaction, which takes the room
    /// row's lock first, as the group commit does (`db/seq.rs`): the two are ordered, and
    /// cannot deadlock on the member's row.
    pub async fn add_member(&self, room_id: RoomId, user_id: UserId) -> Result<bool, StoreError> {
        let cap = self.max_groups_per_user();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<bool, StoreError, _>(async move |conn| {
                    conn.lock_rooms(&[room_id]).await?;
                    let already: i64 = members::table
                        .filter(members::room_id.eq(room_id))
                        .filter(members::user_id.eq(user_id))
                        .count()
                        .get_result(conn)
                        .await?;
                    if already > 0 {
                        return Ok(false);
                    }
                    let banned: bool =
                        diesel::select(diesel::dsl::exists(bans::table.find((room_id, user_id))))
                            .get_result(conn)
                            .await?;
                    if banned {
                        return Err(StoreError::Banned(user_id));
                    }
                    if !groups_full!(conn, [user_id], cap)?.is_empty() {
                        return Err(StoreError::TooManyRooms(vec![user_id], cap));
                    }
                    let added = diesel::insert_into(members::table)
                        .values(MemberRow {
                            room_id,
                            user_id,
                            read_seq: 0,
                            joined_ms: crate::clock::now_ms(),
                        })
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                    if added > 0 {
                        conn.room_changed(room_id).await?;
                    }
                    Ok(added > 0)
                })
                .await
            })
        })
        .await
    }

    /// Ends a membership; returns false when there was none. Takes the room row's lock
    /// first and moves the room's `authz_version` on in the same transaction, as
    /// [`add_member`](Self::add_member): the room's group commits before it may still take
    /// the member's posts, those after it refuse them.
    pub async fn remove_member(
        &self,
        room_id: RoomId,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        self.remove_member_with(room_id, user_id, None).await
    }

    /// [`Store::remove_member`], writing `moderation` (a kick's audit entry) in the same
    /// transaction when a member was removed.
    pub async fn remove_member_with(
        &self,
        room_id: RoomId,
        user_id: UserId,
        moderation: Option<super::safety::Moderation>,
    ) -> Result<bool, StoreError> {
        use super::safety::Moderate;
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<bool, StoreError, _>(async move |conn| {
                    conn.lock_rooms(&[room_id]).await?;
                    let removed = diesel::delete(
                        members::table
                            .filter(members::room_id.eq(room_id))
                            .filter(members::user_id.eq(user_id)),
                    )
                    .execute(conn)
                    .await?;
                    if removed > 0 {
                        conn.room_changed(room_id).await?;
                        if let Some(moderation) = moderation {
                            conn.record(moderation).await?;
                        }
                    }
                    Ok(removed > 0)
                })
                .await
            })
        })
        .await
    }

    /// Whether the user is a member of the room now, as the store has it.
    pub async fn is_member(&self, room_id: RoomId, user_id: UserId) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(members::table
                    .filter(members::room_id.eq(room_id))
                    .filter(members::user_id.eq(user_id))
                    .select(members::user_id)
                    .first::<i64>(conn)
                    .await
                    .optional()?
                    .is_some())
            })
        })
        .await
    }

    /// Moves the read position forward (never back); returns the position now stored, or
    /// `None` when the user is not a member.
    pub async fn mark_read(
        &self,
        room_id: RoomId,
        user_id: UserId,
        seq: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let target = members::table
                    .filter(members::room_id.eq(room_id))
                    .filter(members::user_id.eq(user_id));
                diesel::update(target.filter(members::read_seq.lt(seq)))
                    .set(members::read_seq.eq(seq))
                    .execute(conn)
                    .await?;
                Ok(target.select(members::read_seq).first::<i64>(conn).await.optional()?)
            })
        })
        .await
    }
}
