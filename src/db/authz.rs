//! The store's side of authorization that holds on every node. The store is the record of
//! who may do what; a node only keeps copies (a room's members, a connection's token), and
//! those copies are checked against the store here:
//!
//! - each room row has an `authz_version` that every change to what a node keeps about the
//!   room for authorization moves on, in the change's own transaction ([`RoomChanges`]):
//!   members, roles, mutes and bans (`db/safety/standing.rs`);
//! - [`Store::live_state`] is the one read of the hub's sweep (`actors/hub/authz.rs`): the
//!   versions of the rooms live on a node, which of its connections' tokens still exist,
//!   and which of its users are deactivated, in one query;
//! - `db/sender_checks.rs` is the group commit's check, in the batch's own transaction, that
//!   each person posting is still a member of the room, not muted and not deactivated.

use std::future::Future;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::error::StoreError;
use super::schema::{rooms, tokens, users};
use super::store::Store;
use crate::model::{RoomId, UserId};
use crate::with_conn;

/// What the store says now about what a node keeps in memory (see [`Store::live_state`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveState {
    /// `(room, authz_version)` of each asked-about room that exists.
    pub rooms: Vec<(RoomId, i64)>,
    /// The asked-about tokens that still exist (a revoked one is deleted).
    pub tokens: Vec<i64>,
    /// The asked-about users that are deactivated.
    pub deactivated: Vec<UserId>,
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
        room_ids: Vec<RoomId>,
        token_ids: Vec<i64>,
        user_ids: Vec<UserId>,
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
                        // The union's middle column holds each kind's own id.
                        ROOM => state.rooms.push((RoomId(id), version)),
                        TOKEN => state.tokens.push(id),
                        _ => state.deactivated.push(UserId(id)),
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
    fn room_changed(&mut self, room_id: RoomId) -> impl Future<Output = QueryResult<()>> + Send;
}

impl RoomChanges for PgConn {
    async fn room_changed(&mut self, room_id: RoomId) -> QueryResult<()> {
        diesel::update(rooms::table.find(room_id))
            .set(rooms::authz_version.eq(rooms::authz_version + 1))
            .execute(self)
            .await?;
        Ok(())
    }
}

impl RoomChanges for SqliteConn {
    fn room_changed(&mut self, room_id: RoomId) -> impl Future<Output = QueryResult<()>> + Send {
        self.spawn_blocking(move |conn| {
            let update = diesel::update(rooms::table.find(room_id))
                .set(rooms::authz_version.eq(rooms::authz_version + 1));
            diesel::RunQueryDsl::execute(update, conn)?;
            Ok(())
        })
    }
}
