//! Reports of messages: made by a member (`report`) or by a `flag` content rule (reporter
//! NULL, reason `rule`), each keeping the message as it was when reported; listed and
//! resolved through the admin API. Resolving writes the report's new state and the audit
//! entry with the change it makes ([`super::moderation`]).

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::super::error::StoreError;
use super::super::schema::reports;
use super::super::store::Store;
use super::moderation::{Moderate, Moderation};
use crate::model::{RoomId, UserId};
pub use crate::safety::report::{ReportStatus, ResolveAction};
use crate::{with_conn, write_conn};

/// How a report was resolved, as stored (JSON) and shown.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resolution {
    pub action: String,
    pub note: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub at: String,
}

/// A report to store.
#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = reports, treat_none_as_default_value = false)]
pub struct NewReport {
    pub status: String,
    /// `spam`, `abuse`, `sexual`, `self_harm`, `other`, or `rule`.
    pub reason: String,
    pub note: Option<String>,
    /// `None`: a content rule.
    pub reporter_id: Option<UserId>,
    pub room_id: RoomId,
    pub seq: i64,
    pub sender_id: UserId,
    /// The wire's Message as it is now (JSON).
    pub message: String,
    pub created_ms: i64,
}

impl NewReport {
    pub fn new(
        reason: &str,
        note: Option<String>,
        reporter: Option<UserId>,
        (room, seq, sender): (RoomId, i64, UserId),
        message: String,
    ) -> NewReport {
        NewReport {
            status: ReportStatus::Open.as_str().to_string(),
            reason: reason.to_string(),
            note,
            reporter_id: reporter,
            room_id: room,
            seq,
            sender_id: sender,
            message,
            created_ms: crate::clock::now_ms(),
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = reports)]
pub struct ReportRow {
    pub id: i64,
    pub status: String,
    pub reason: String,
    pub note: Option<String>,
    pub reporter_id: Option<UserId>,
    pub room_id: RoomId,
    pub seq: i64,
    pub sender_id: UserId,
    pub message: String,
    pub created_ms: i64,
    pub resolution: Option<String>,
}

impl Store {
    /// Stores a report; answers its id.
    pub async fn create_report(&self, report: NewReport) -> Result<i64, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                Ok(diesel::insert_into(reports::table)
                    .values(&report)
                    .returning(reports::id)
                    .get_result(conn)
                    .await?)
            })
        })
        .await
    }

    pub async fn report(&self, id: i64) -> Result<ReportRow, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                reports::table
                    .find(id)
                    .select(ReportRow::as_select())
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or(StoreError::NotFound("report"))
            })
        })
        .await
    }

    /// Reports by id, after `after`, of one status or any, at most `limit + 1` (the extra
    /// one says there is a next page).
    pub async fn reports(
        &self,
        status: Option<ReportStatus>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ReportRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let mut query = reports::table
                    .select(ReportRow::as_select())
                    .filter(reports::id.gt(after))
                    .order(reports::id)
                    .limit(limit + 1)
                    .into_boxed();
                if let Some(status) = status {
                    query = query.filter(reports::status.eq(status.as_str()));
                }
                Ok(query.load(conn).await?)
            })
        })
        .await
    }

    /// Writes `moderation` (a report dismissed) in a transaction of its own. `NotFound`
    /// when the report it resolves is not open.
    pub async fn record_moderation(&self, moderation: Moderation) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(), StoreError, _>(async move |conn| {
                    conn.record(moderation).await?;
                    Ok(())
                })
                .await
            })
        })
        .await
    }
}
