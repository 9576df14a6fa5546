//! What a moderation action writes beside its change, in the change's own transaction
//! ([`Moderation`]): its audit entries and, when it resolves a report, the report's new
//! state. A store function that makes such a change (a kick, a deactivation, a message
//! deleted, a report dismissed) takes one and calls [`Moderate::record`] inside its
//! transaction, so the record and the change commit together or not at all.

use std::future::Future;

use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::super::backend::{PgConn, SqliteConn};
use super::super::schema::{audit_log, reports};
use super::audit::{AuditEntry, NewAudit};
use crate::safety::report::ReportStatus;

/// The audit entries of one action and the report it resolves, if any.
#[derive(Clone, Debug)]
pub struct Moderation {
    entries: Vec<NewAudit>,
    /// The report and its resolution (JSON).
    resolves: Option<(i64, String)>,
}

impl Moderation {
    pub fn audit(entry: AuditEntry) -> Moderation {
        Moderation {
            entries: vec![entry.row()],
            resolves: None,
        }
    }

    pub fn and(mut self, entry: AuditEntry) -> Moderation {
        self.entries.push(entry.row());
        self
    }

    /// Also marks the (open) report `id` resolved with `resolution`.
    pub fn resolving(mut self, id: i64, resolution: String) -> Moderation {
        self.resolves = Some((id, resolution));
        self
    }
}

/// Writes a [`Moderation`] inside the caller's transaction. A report to resolve that is not
/// open (any more) fails with `NotFound`, and so rolls the whole change back.
pub trait Moderate {
    fn record(&mut self, moderation: Moderation) -> impl Future<Output = QueryResult<()>> + Send;
}

impl Moderate for PgConn {
    async fn record(&mut self, moderation: Moderation) -> QueryResult<()> {
        if let Some((id, resolution)) = moderation.resolves {
            let updated = diesel::update(
                reports::table
                    .find(id)
                    .filter(reports::status.eq(ReportStatus::Open.as_str())),
            )
            .set((
                reports::status.eq(ReportStatus::Resolved.as_str()),
                reports::resolution.eq(resolution),
            ))
            .execute(self)
            .await?;
            if updated == 0 {
                return Err(diesel::result::Error::NotFound);
            }
        }
        diesel::insert_into(audit_log::table)
            .values(&moderation.entries)
            .execute(self)
            .await?;
        Ok(())
    }
}

impl Moderate for SqliteConn {
    fn record(&mut self, moderation: Moderation) -> impl Future<Output = QueryResult<()>> + Send {
        self.spawn_blocking(move |conn| {
            if let Some((id, resolution)) = moderation.resolves {
                let update = diesel::update(
                    reports::table
                        .find(id)
                        .filter(reports::status.eq(ReportStatus::Open.as_str())),
                )
                .set((
                    reports::status.eq(ReportStatus::Resolved.as_str()),
                    reports::resolution.eq(resolution),
                ));
                if diesel::RunQueryDsl::execute(update, conn)? == 0 {
                    return Err(diesel::result::Error::NotFound);
                }
            }
            let insert = diesel::insert_into(audit_log::table).values(&moderation.entries);
            diesel::RunQueryDsl::execute(insert, conn)?;
            Ok(())
        })
    }
}
