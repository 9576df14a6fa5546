//! The writer's part of notifications: in the transaction that commits messages, the
//! notifications the rooms decided are stored for the users who have a device (one lookup
//! and one insert per batch, nothing when no one is to be notified). A leaf like
//! `file_queries.rs`: it imports neither the store nor the writer.

use std::future::Future;

use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::schema::{devices, notifications};
use crate::model::{RoomId, UserId};

/// One message to notify one user of, decided by the commit that stores the message.
#[derive(Queryable, Selectable, Insertable, Clone, Copy, Debug, PartialEq, Eq)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub user_id: UserId,
    pub room_id: RoomId,
    pub seq: i64,
    pub decided_ms: i64,
}

pub trait NotifyQueries {
    /// Stores the rows of users who have at least one device; answers how many.
    fn record_notifications(
        &mut self,
        rows: Vec<NotificationRow>,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
}

/// Rows a statement on PostgreSQL: well under its 65,535 bound parameters.
const PG_CHUNK: usize = 4000;

fn with_device(rows: Vec<NotificationRow>, owners: &[UserId]) -> Vec<NotificationRow> {
    rows.into_iter()
        .filter(|row| owners.binary_search(&row.user_id).is_ok())
        .collect()
}

fn users_of(rows: &[NotificationRow]) -> Vec<UserId> {
    let mut users: Vec<UserId> = rows.iter().map(|row| row.user_id).collect();
    users.sort_unstable();
    users.dedup();
    users
}

impl NotifyQueries for PgConn {
    async fn record_notifications(&mut self, rows: Vec<NotificationRow>) -> QueryResult<usize> {
        let mut owners: Vec<UserId> = devices::table
            .filter(devices::user_id.eq_any(users_of(&rows)))
            .select(devices::user_id)
            .distinct()
            .load(self)
            .await?;
        owners.sort_unstable();
        let rows = with_device(rows, &owners);
        let mut inserted = 0;
        for chunk in rows.chunks(PG_CHUNK) {
            inserted += diesel::insert_into(notifications::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(self)
                .await?;
        }
        Ok(inserted)
    }
}

impl NotifyQueries for SqliteConn {
    /// On SQLite, one cached single-row statement per row (`db/bulk.rs` says why).
    fn record_notifications(
        &mut self,
        rows: Vec<NotificationRow>,
    ) -> impl Future<Output = QueryResult<usize>> + Send {
        self.spawn_blocking(move |conn| {
            let users = users_of(&rows);
            let mut owners: Vec<UserId> = diesel::RunQueryDsl::load(
                devices::table
                    .filter(devices::user_id.eq_any(users))
                    .select(devices::user_id)
                    .distinct(),
                conn,
            )?;
            owners.sort_unstable();
            let mut inserted = 0;
            for row in with_device(rows, &owners) {
                inserted += diesel::RunQueryDsl::execute(
                    diesel::insert_into(notifications::table)
                        .values(row)
                        .on_conflict_do_nothing(),
                    conn,
                )?;
            }
            Ok(inserted)
        })
    }
}
