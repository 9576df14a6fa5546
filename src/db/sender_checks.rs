//! The group commit's check, in the batch's own transaction, that each person posting is
//! still a member of the room, not muted there (docs/safety.md), not deactivated and not on
//! either side of a block in a direct room ([`SenderChecks`]), and why one is refused
//! ([`Refusal`]). The rest of the store's side of authorization is `db/authz.rs`.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::error::StoreError;
use super::models::RoomKind;
use super::schema::{members, rooms, users};
use crate::model::{RoomId, UserId};

/// Why a person may not post in a room (found in the commit's transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a member (any more); `public_group`: the room is a public group, which they may
    /// join again.
    NotMember { public_group: bool },
    /// The person was deactivated.
    Deactivated,
    /// A direct room between two users one of whom blocks the other (section 13).
    Blocked,
    /// The member is muted in the group until then (ms).
    Muted { until: i64 },
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> StoreError {
        match refusal {
            Refusal::NotMember { public_group } => StoreError::NotMember { public_group },
            Refusal::Deactivated => StoreError::Deactivated,
            Refusal::Blocked => StoreError::Blocked,
            Refusal::Muted { until } => StoreError::Muted(until),
        }
    }
}

/// The group commit's check of who posts. `pairs` are `(room, person)`, ascending, no
/// repeats; the answer holds those who may not post in that room now. PostgreSQL takes one
/// statement for the whole batch; SQLite a cached single-row statement for each pair (its
/// statements are calls in place, `db/seq.rs` says why). Why each refused one was refused
/// is read only when there is one.
pub trait SenderChecks {
    fn refused_senders(
        &mut self,
        pairs: &[(RoomId, UserId)],
    ) -> impl Future<Output = QueryResult<HashMap<(RoomId, UserId), Refusal>>> + Send;
}

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = BigInt)]
    room_id: RoomId,
    #[diesel(sql_type = BigInt)]
    user_id: UserId,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    muted_until_ms: Option<i64>,
}

/// A member found by the check: refused when muted now.
fn muted(until: Option<i64>, now_ms: i64) -> Option<Refusal> {
    until
        .filter(|until| crate::safety::roles::muted_at(Some(*until), now_ms))
        .map(|until| Refusal::Muted { until })
}

impl SenderChecks for PgConn {
    async fn refused_senders(
        &mut self,
        pairs: &[(RoomId, UserId)],
    ) -> QueryResult<HashMap<(RoomId, UserId), Refusal>> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let (room_ids, user_ids): (Vec<RoomId>, Vec<UserId>) = pairs.iter().copied().unzip();
        let now = crate::clock::now_ms();
        let mut mutes = HashMap::new();
        let allowed: HashSet<(RoomId, UserId)> = diesel::sql_query(
            "SELECT m.room_id, m.user_id, m.muted_until_ms \
             FROM unnest($1::int8[], $2::int8[]) AS p (room_id, user_id) \
             JOIN members m ON m.room_id = p.room_id AND m.user_id = p.user_id \
             JOIN users u ON u.id = m.user_id \
             WHERE u.deactivated_ms IS NULL AND NOT m.blocked",
        )
        .bind::<Array<BigInt>, _>(room_ids)
        .bind::<Array<BigInt>, _>(user_ids)
        .load::<Pair>(self)
        .await?
        .into_iter()
        .map(|pair| {
            if let Some(refusal) = muted(pair.muted_until_ms, now) {
                mutes.insert((pair.room_id, pair.user_id), refusal);
            }
            (pair.room_id, pair.user_id)
        })
        .collect();
        let refused: Vec<(RoomId, UserId)> = pairs
            .iter()
            .copied()
            .filter(|pair| !allowed.contains(pair))
            .collect();
        if refused.is_empty() {
            return Ok(mutes);
        }
        let (room_ids, user_ids): (Vec<RoomId>, Vec<UserId>) = refused.iter().copied().unzip();
        let blocked: HashSet<(RoomId, UserId)> = members::table
            .filter(members::room_id.eq_any(&room_ids))
            .filter(members::blocked.eq(true))
            .select((members::room_id, members::user_id))
            .load::<(RoomId, UserId)>(self)
            .await?
            .into_iter()
            .collect();
        let gone: HashSet<UserId> = users::table
            .filter(users::id.eq_any(user_ids))
            .filter(users::deactivated_ms.is_not_null())
            .select(users::id)
            .load::<UserId>(self)
            .await?
            .into_iter()
            .collect();
        let open: HashSet<RoomId> = rooms::table
            .filter(rooms::id.eq_any(room_ids))
            .filter(rooms::kind.eq(RoomKind::Group))
            .filter(rooms::public.eq(true))
            .select(rooms::id)
            .load::<RoomId>(self)
            .await?
            .into_iter()
            .collect();
        mutes.extend(refused.into_iter().map(|(room, user)| {
            (
                (room, user),
                why(
                    gone.contains(&user),
                    blocked.contains(&(room, user)),
                    open.contains(&room),
                ),
            )
        }));
        Ok(mutes)
    }
}

impl SenderChecks for SqliteConn {
    fn refused_senders(
        &mut self,
        pairs: &[(RoomId, UserId)],
    ) -> impl Future<Output = QueryResult<HashMap<(RoomId, UserId), Refusal>>> + Send {
        let pairs = pairs.to_vec();
        self.spawn_blocking(move |conn| {
            let mut refused = HashMap::new();
            let now = crate::clock::now_ms();
            for (room, user) in pairs {
                let allowed = members::table
                    .inner_join(users::table)
                    .filter(members::room_id.eq(room))
                    .filter(members::user_id.eq(user))
                    .filter(users::deactivated_ms.is_null())
                    .select((members::blocked, members::muted_until_ms));
                let blocked = match diesel::RunQueryDsl::first::<(bool, Option<i64>)>(allowed, conn)
                    .optional()?
                {
                    Some((false, until)) => {
                        if let Some(refusal) = muted(until, now) {
                            refused.insert((room, user), refusal);
                        }
                        continue;
                    }
                    Some((true, _)) => true,
                    None => false,
                };
                let gone = users::table
                    .find(user)
                    .filter(users::deactivated_ms.is_not_null())
                    .select(users::id);
                let gone = diesel::RunQueryDsl::first::<UserId>(gone, conn)
                    .optional()?
                    .is_some();
                let open = rooms::table
                    .find(room)
                    .filter(rooms::kind.eq(RoomKind::Group))
                    .filter(rooms::public.eq(true))
                    .select(rooms::id);
                let open = diesel::RunQueryDsl::first::<RoomId>(open, conn)
                    .optional()?
                    .is_some();
                refused.insert((room, user), why(gone, blocked, open));
            }
            Ok(refused)
        })
    }
}

fn why(deactivated: bool, blocked: bool, public_group: bool) -> Refusal {
    if deactivated {
        Refusal::Deactivated
    } else if blocked {
        Refusal::Blocked
    } else {
        Refusal::NotMember { public_group }
    }
}
