//! The store's part of sending notifications (docs/notifications.md), in two steps each of
//! which any node may take, so a node that dies leaves its work to another:
//!
//! 1. Compose: a user's pending notifications of a room that are due (`crate::notify::window`)
//!    become one delivery per device, in one transaction that also drops what was read and
//!    starts the next coalescing window, for up to [`COMPOSE_CHUNK`] users and rooms at once
//!    in a few statements (`compose.rs`). On PostgreSQL each user and room is taken under a
//!    transaction-scoped advisory lock (skipped when another node holds it).
//! 2. Deliver: due deliveries are claimed with a lease (`FOR UPDATE SKIP LOCKED` on
//!    PostgreSQL); the node that claimed one sends it and records the answer. A lease that
//!    runs out (its node died) lets another node claim the delivery again.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::stream::StreamExt;

use super::backend::Backend;
use super::devices::DeviceRow;
use super::error::StoreError;
use super::models::{RoomKind, RoomRow};
use super::schema::{
    devices, members, notifications, notify_windows, push_deliveries, rooms, users,
};
use super::store::Store;
use crate::notify::payload::{collapse_key, Preview};
use crate::{with_conn, write_conn};

#[macro_use]
mod compose;

/// How the sender composes.
#[derive(Clone, Copy, Debug)]
pub struct ComposeRules {
    pub now_ms: i64,
    pub window_ms: i64,
    pub preview: Preview,
    /// How long a delivery is tried before it is given up (`--push-ttl`).
    pub ttl_ms: i64,
}

/// User and room pairs composed in one transaction: one commit for many, yet short enough
/// that the messages waiting on the same writer meanwhile are not held up noticeably.
pub const COMPOSE_CHUNK: usize = 32;
/// Compose transactions in flight at once (each a connection on PostgreSQL: with the
/// writer's commits in flight, `writer::COMMITS_IN_FLIGHT`, this leaves connections of the
/// default pool of 8 to reads and claims).
pub const COMPOSE_PARALLEL: usize = 2;

/// What composing did, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Composed {
    /// Notifications composed (each to every device of its user).
    pub notifications: i64,
    /// Messages folded into a notification of another message.
    pub folded: i64,
    /// Messages read before their notification went: not sent.
    pub read: i64,
    /// Deliveries made (one per device).
    pub deliveries: i64,
}

impl Composed {
    fn add(&mut self, other: Composed) {
        self.notifications += other.notifications;
        self.folded += other.folded;
        self.read += other.read;
        self.deliveries += other.deliveries;
    }
}

/// A delivery claimed for sending.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: i64,
    pub device: DeviceRow,
    pub room_id: i64,
    pub payload: String,
    pub attempts: i32,
    pub created_ms: i64,
    pub expires_ms: i64,
}

impl Delivery {
    /// Web Push `Topic`, FCM `collapse_key`, APNs `apns-collapse-id`.
    pub fn collapse_key(&self) -> String {
        collapse_key(self.room_id)
    }
}

#[derive(Insertable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = push_deliveries)]
struct NewDelivery {
    device_id: i64,
    room_id: i64,
    seq: i64,
    payload: String,
    attempts: i32,
    created_ms: i64,
    next_ms: i64,
    expires_ms: i64,
    lease_ms: i64,
}

#[derive(QueryableByName)]
struct Group {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = BigInt)]
    room_id: i64,
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    device_id: i64,
    #[diesel(sql_type = BigInt)]
    room_id: i64,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = BigInt)]
    created_ms: i64,
    #[diesel(sql_type = BigInt)]
    expires_ms: i64,
}

/// The user and room pairs whose notifications are due at `now` (the values are integers,
/// written into the SQL; `greatest` is spelled `max` on SQLite).
fn due_sql(postgres: bool, now_ms: i64, window_ms: i64, limit: i64) -> String {
    let greatest = if postgres { "GREATEST" } else { "MAX" };
    format!(
        "SELECT n.user_id, n.room_id FROM notifications n \
         LEFT JOIN notify_windows w ON w.user_id = n.user_id AND w.room_id = n.room_id \
         GROUP BY n.user_id, n.room_id, w.sent_ms \
         HAVING {greatest}(MIN(n.decided_ms), COALESCE(w.sent_ms + {window_ms}, 0)) <= {now_ms} \
         ORDER BY MIN(n.decided_ms) LIMIT {limit}"
    )
}

/// Claims up to `limit` due deliveries until `now + lease` (integers written into the SQL).
fn claim_sql(postgres: bool, now_ms: i64, lease_ms: i64, limit: i64) -> String {
    let skip_locked = if postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    format!(
        "UPDATE push_deliveries SET lease_ms = {until} WHERE id IN (\
           SELECT id FROM push_deliveries WHERE next_ms <= {now_ms} AND lease_ms <= {now_ms} \
           ORDER BY next_ms LIMIT {limit}{skip_locked}) \
         RETURNING id, device_id, room_id, payload, attempts, created_ms, expires_ms",
        until = now_ms.saturating_add(lease_ms)
    )
}

/// A key for PostgreSQL's advisory lock of one user and room (a collision only makes one
/// of two pairs wait for the next round).
pub(super) fn lock_key(user_id: i64, room_id: i64) -> i64 {
    user_id.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64) ^ room_id
}

impl Store {
    /// User and room pairs with notifications due now, oldest first.
    pub async fn due_notifications(
        &self,
        now_ms: i64,
        window_ms: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        self.run(move |db| async move {
            let postgres = matches!(&*db, Backend::Postgres(_));
            let sql = due_sql(postgres, now_ms, window_ms, limit);
            with_conn!(&*db, conn => {
                let groups: Vec<Group> = diesel::sql_query(sql).load(conn).await?;
                Ok(groups.into_iter().map(|g| (g.user_id, g.room_id)).collect())
            })
        })
        .await
    }

    /// Composes the notifications of these user and room pairs (those still due: another
    /// node may have been first): [`COMPOSE_CHUNK`] pairs a transaction, in a few statements
    /// for the whole chunk (`compose.rs`), so that a burst costs one commit per chunk, not
    /// one per pair (on SQLite the writer that composes is the one that commits messages);
    /// a pair the store refuses is skipped (and logged) without undoing the others. Up to
    /// [`COMPOSE_PARALLEL`] chunks at once: on PostgreSQL each on its own connection, since
    /// each statement is a round trip; on SQLite they queue for the one writer.
    pub async fn compose_notifications(
        &self,
        groups: Vec<(i64, i64)>,
        rules: ComposeRules,
    ) -> Result<Composed, StoreError> {
        let chunks = groups
            .chunks(COMPOSE_CHUNK)
            .map(|chunk| self.compose_chunk(chunk.to_vec(), rules));
        let mut running = futures_util::stream::iter(chunks).buffer_unordered(COMPOSE_PARALLEL);
        let mut total = Composed::default();
        while let Some(done) = running.next().await {
            total.add(done?);
        }
        Ok(total)
    }

    /// One transaction of [`Store::compose_notifications`]: the whole chunk at once
    /// (`compose.rs`), under a savepoint; if the store refuses that, each pair alone under
    /// its own, so that one pair the store cannot compose is skipped (and logged) without
    /// holding up the others, now or in any later turn.
    async fn compose_chunk(
        &self,
        chunk: Vec<(i64, i64)>,
        rules: ComposeRules,
    ) -> Result<Composed, StoreError> {
        self.run(move |db| async move {
            let postgres = matches!(&*db, Backend::Postgres(_));
            write_conn!(&*db, conn => {
                conn.transaction::<Composed, StoreError, _>(async move |conn| {
                    let pairs = chunk.clone();
                    let whole = conn
                        .transaction::<Composed, StoreError, _>(async move |conn| {
                            compose_pairs!(conn, pairs, rules, postgres)
                        })
                        .await;
                    let err = match whole {
                        Ok(done) => return Ok(done),
                        Err(err) => err,
                    };
                    log::warn!(
                        "notifications: cannot compose {} user and room pairs together ({err}); \
                         composing them one by one",
                        chunk.len()
                    );
                    let mut total = Composed::default();
                    let mut refused = 0;
                    for (user_id, room_id) in chunk {
                        let done = conn
                            .transaction::<Composed, StoreError, _>(async move |conn| {
                                compose_pairs!(conn, vec![(user_id, room_id)], rules, postgres)
                            })
                            .await;
                        match done {
                            Ok(done) => total.add(done),
                            Err(err) => {
                                refused += 1;
                                if refused == 1 {
                                    log::warn!(
                                        "notifications: cannot compose for u_{user_id} in r_{room_id}: {err}"
                                    );
                                }
                            }
                        }
                    }
                    if refused > 1 {
                        log::warn!(
                            "notifications: {refused} user and room pairs of one compose transaction could not be composed"
                        );
                    }
                    Ok(total)
                })
                .await
            })
        })
        .await
    }

    /// Claims up to `limit` deliveries due now, each held for `lease_ms`.
    pub async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.run(move |db| async move {
            let postgres = matches!(&*db, Backend::Postgres(_));
            let sql = claim_sql(postgres, now_ms, lease_ms, limit);
            write_conn!(&*db, conn => {
                conn.transaction::<Vec<Delivery>, StoreError, _>(async move |conn| {
                    let claimed: Vec<Claimed> = diesel::sql_query(sql).load(conn).await?;
                    if claimed.is_empty() {
                        return Ok(Vec::new());
                    }
                    let ids: Vec<i64> = claimed.iter().map(|c| c.device_id).collect();
                    let found: Vec<DeviceRow> = devices::table
                        .filter(devices::id.eq_any(ids))
                        .select(DeviceRow::as_select())
                        .load(conn)
                        .await?;
                    Ok(claimed
                        .into_iter()
                        .filter_map(|c| {
                            let device = found.iter().find(|d| d.id == c.device_id)?.clone();
                            Some(Delivery {
                                id: c.id,
                                device,
                                room_id: c.room_id,
                                payload: c.payload,
                                attempts: c.attempts,
                                created_ms: c.created_ms,
                                expires_ms: c.expires_ms,
                            })
                        })
                        .collect())
                })
                .await
            })
        })
        .await
    }

    /// Deliveries done with (the provider took them, or they were given up), in one write.
    pub async fn finish_deliveries(&self, ids: Vec<i64>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                diesel::delete(push_deliveries::table.filter(push_deliveries::id.eq_any(ids)))
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// A delivery is tried again at `next_ms` (its lease let go).
    pub async fn retry_delivery(&self, id: i64, next_ms: i64) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                diesel::update(push_deliveries::table.find(id))
                    .set((
                        push_deliveries::next_ms.eq(next_ms),
                        push_deliveries::attempts.eq(push_deliveries::attempts + 1),
                        push_deliveries::lease_ms.eq(0),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// When the oldest notification not yet handed to a provider was decided.
    pub async fn oldest_unsent_ms(&self) -> Result<Option<i64>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let decided: Option<i64> = notifications::table
                    .select(diesel::dsl::min(notifications::decided_ms))
                    .first(conn)
                    .await?;
                let composed: Option<i64> = push_deliveries::table
                    .select(diesel::dsl::min(push_deliveries::created_ms))
                    .first(conn)
                    .await?;
                Ok(decided.into_iter().chain(composed).min())
            })
        })
        .await
    }
}
