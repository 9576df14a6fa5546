//! The store's side of authorization that holds on every node. The store is the record of
//! who may do what; a node only keeps copies (a room's members, a connection's token), and
//! those copies are checked against the store here:
//!
//! - each room row has an `authz_version` that every change to what a node keeps about the
//!   room for authorization moves on, in the change's own transaction ([`RoomChanges`]):
//!   members now, roles, bans and mutes as they come;
//! - [`Store::live_state`] is the one read of the hub's sweep (`actors/hub/authz.rs`): the
//!   versions of the rooms live on a node, which of its connections' tokens still exist,
//!   and which of its users are deactivated, in one query;
//! - [`SenderChecks`] is the group commit's check, in the batch's own transaction, that each
//!   person posting is still a member of the room and not deactivated.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::error::StoreError;
use super::models::RoomKind;
use super::schema::{members, rooms, tokens, users};
use super::store::Store;
use crate::with_conn;

/// What the store says now about what a node keeps in memory (see [`Store::live_state`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveState {
    /// `(room, authz_version)` of each asked-about room that exists.
    pub rooms: Vec<(i64, i64)>,
    /// The asked-about tokens that still exist (a revoked one is deleted).
    pub tokens: Vec<i64>,
    /// The asked-about users that are deactivated.
    pub deactivated: Vec<i64>,
}

/// Row kinds of the one query of [`Store::live_state`].
const ROOM: i64 = 0;
const TOKEN: i64 = 1;
const DEACTIVATED: i64 = 2;

impl Store {
    /// One query for the hub's sweep: the `authz_version` of each of `rooms` (a deleted room
    /// is left out), which of `tokens` still exist, which of `users` are deactivated.
    pub async fn live_state(
        &self,
        room_ids: Vec<i64>,
        token_ids: Vec<i64>,
        user_ids: Vec<i64>,
    ) -> Result<LiveState, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let kind = |kind: i64| sql::<BigInt>(&format!("CAST({kind} AS BIGINT)"));
                let found: Vec<(i64, i64, i64)> = rooms::table
                    .filter(rooms::id.eq_any(room_ids))
                    .select((kind(ROOM), rooms::id, rooms::authz_version))
                    .union_all(
                        tokens::table
                            .filter(tokens::id.eq_any(token_ids))
                            .select((kind(TOKEN), tokens::id, kind(0))),
                    )
                    .union_all(
                        users::table
                            .filter(users::id.eq_any(user_ids))
                            .filter(users::deactivated_ms.is_not_null())
                            .select((kind(DEACTIVATED), users::id, kind(0))),
                    )
                    .load(conn)
                    .await?;
                let mut state = LiveState::default();
                for (kind, id, version) in found {
                    match kind {
                        ROOM => state.rooms.push((id, version)),
                        TOKEN => state.tokens.push(id),
                        _ => state.deactivated.push(id),
                    }
                }
                Ok(state)
            })
        })
        .await
    }
}

/// Moves a room's `authz_version` on, in the transaction that changes what a node may keep
/// about the room. That transaction takes the room row's lock first (`RoomSeqs::lock_rooms`,
/// as the group commit does), so the change and the room's batches are ordered, and a batch
/// that moves the member's read position cannot deadlock with it.
pub trait RoomChanges {
    fn room_changed(&mut self, room_id: i64) -> impl Future<Output = QueryResult<()>> + Send;
}

impl RoomChanges for PgConn {
    async fn room_changed(&mut self, room_id: i64) -> QueryResult<()> {
        diesel::update(rooms::table.find(room_id))
            .set(rooms::authz_version.eq(rooms::authz_version + 1))
            .execute(self)
            .await?;
        Ok(())
    }
}

impl RoomChanges for SqliteConn {
    fn room_changed(&mut self, room_id: i64) -> impl Future<Output = QueryResult<()>> + Send {
        self.spawn_blocking(move |conn| {
            let update = diesel::update(rooms::table.find(room_id))
                .set(rooms::authz_version.eq(rooms::authz_version + 1));
            diesel::RunQueryDsl::execute(update, conn)?;
            Ok(())
        })
    }
}

/// Why a person may not post in a room (found in the commit's transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a member (any more); `public_group`: the room is a public group, which they may
    /// join again.
    NotMember { public_group: bool },
    /// The person was deactivated.
    Deactivated,
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> StoreError {
        match refusal {
            Refusal::NotMember { public_group } => StoreError::NotMember { public_group },
            Refusal::Deactivated => StoreError::Deactivated,
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
        pairs: &[(i64, i64)],
    ) -> impl Future<Output = QueryResult<HashMap<(i64, i64), Refusal>>> + Send;
}

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = BigInt)]
    room_id: i64,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
}

impl SenderChecks for PgConn {
    async fn refused_senders(
        &mut self,
        pairs: &[(i64, i64)],
    ) -> QueryResult<HashMap<(i64, i64), Refusal>> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let (room_ids, user_ids): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
        let allowed: HashSet<(i64, i64)> = diesel::sql_query(
            "SELECT m.room_id, m.user_id \
             FROM unnest($1::int8[], $2::int8[]) AS p (room_id, user_id) \
             JOIN members m ON m.room_id = p.room_id AND m.user_id = p.user_id \
             JOIN users u ON u.id = m.user_id \
             WHERE u.deactivated_ms IS NULL",
        )
        .bind::<Array<BigInt>, _>(room_ids)
        .bind::<Array<BigInt>, _>(user_ids)
        .load::<Pair>(self)
        .await?
        .into_iter()
        .map(|pair| (pair.room_id, pair.user_id))
        .collect();
        let refused: Vec<(i64, i64)> = pairs
            .iter()
            .copied()
            .filter(|pair| !allowed.contains(pair))
            .collect();
        if refused.is_empty() {
            return Ok(HashMap::new());
        }
        let (room_ids, user_ids): (Vec<i64>, Vec<i64>) = refused.iter().copied().unzip();
        let gone: HashSet<i64> = users::table
            .filter(users::id.eq_any(user_ids))
            .filter(users::deactivated_ms.is_not_null())
            .select(users::id)
            .load::<i64>(self)
            .await?
            .into_iter()
            .collect();
        let open: HashSet<i64> = rooms::table
            .filter(rooms::id.eq_any(room_ids))
            .filter(rooms::kind.eq(RoomKind::Group))
            .filter(rooms::public.eq(true))
            .select(rooms::id)
            .load::<i64>(self)
            .await?
            .into_iter()
            .collect();
        Ok(refused
            .into_iter()
            .map(|(room, user)| {
                (
                    (room, user),
                    why(gone.contains(&user), open.contains(&room)),
                )
            })
            .collect())
    }
}

impl SenderChecks for SqliteConn {
    fn refused_senders(
        &mut self,
        pairs: &[(i64, i64)],
    ) -> impl Future<Output = QueryResult<HashMap<(i64, i64), Refusal>>> + Send {
        let pairs = pairs.to_vec();
        self.spawn_blocking(move |conn| {
            let mut refused = HashMap::new();
            for (room, user) in pairs {
                let allowed = members::table
                    .inner_join(users::table)
                    .filter(members::room_id.eq(room))
                    .filter(members::user_id.eq(user))
                    .filter(users::deactivated_ms.is_null())
                    .select(members::user_id);
                if diesel::RunQueryDsl::first::<i64>(allowed, conn)
                    .optional()?
                    .is_some()
                {
                    continue;
                }
                let gone = users::table
                    .find(user)
                    .filter(users::deactivated_ms.is_not_null())
                    .select(users::id);
                let gone = diesel::RunQueryDsl::first::<i64>(gone, conn)
                    .optional()?
                    .is_some();
                let open = rooms::table
                    .find(room)
                    .filter(rooms::kind.eq(RoomKind::Group))
                    .filter(rooms::public.eq(true))
                    .select(rooms::id);
                let open = diesel::RunQueryDsl::first::<i64>(open, conn)
                    .optional()?
                    .is_some();
                refused.insert((room, user), why(gone, open));
            }
            Ok(refused)
        })
    }
}

fn why(deactivated: bool, public_group: bool) -> Refusal {
    if deactivated {
        Refusal::Deactivated
    } else {
        Refusal::NotMember { public_group }
    }
}
