//! `--retention-days N`: messages older than N days, and the files only they carried, are
//! deleted by a background task (docs/operations.md, "Retention"). It works in batches of
//! [`BATCH`] messages, one transaction each, with a pause of [`PAUSE`] between them, so the
//! group-commit writer (on SQLite, the same writing thread) waits at most one short batch.
//! With several nodes on one PostgreSQL, each batch first takes a transaction-scoped advisory
//! lock: a node that cannot take it skips its turn, so one node does a batch at a time.
//! A room's `seq` is never reused: its history simply starts later.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::backend::Backend;
use super::error::StoreError;
use super::safety::{AuditEntry, Moderation};
use super::schema::{file_chunks, files, message_files, messages};
use super::store::Store;
use crate::write_conn;

/// Messages deleted per transaction.
pub const BATCH: i64 = 500;
/// The pause between two batches, for the writer and the readers.
pub const PAUSE: Duration = Duration::from_millis(100);
/// Turns in a row another node may hold the lock before this node leaves the round to it.
const MAX_BUSY: u32 = 100;
/// The advisory lock one batch holds on PostgreSQL (any constant; "palvret").
const LOCK_KEY: i64 = 0x0070_616c_7672_6574;
/// The first round starts at most this long after the server.
const FIRST_ROUND: Duration = Duration::from_secs(60);

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Batch {
    /// Another node holds the lock: nothing was done.
    #[default]
    Busy,
    Deleted {
        messages: usize,
        files: usize,
    },
}

/// The retention flags, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Messages older than this go.
    pub keep: Duration,
    /// How often a round runs.
    pub every: Duration,
}

impl RetentionSettings {
    /// From `--retention-days` (none: off) and `--retention-sweep-secs`.
    pub fn new(days: Option<u32>, sweep_secs: u64) -> Result<Option<RetentionSettings>, String> {
        let Some(days) = days else { return Ok(None) };
        if days == 0 {
            return Err("--retention-days must be at least 1".into());
        }
        if sweep_secs == 0 {
            return Err("--retention-sweep-secs must be at least 1".into());
        }
        Ok(Some(RetentionSettings {
            keep: Duration::from_secs(u64::from(days) * 24 * 3600),
            every: Duration::from_secs(sweep_secs),
        }))
    }
}

impl Store {
    /// Deletes up to `limit` of the oldest messages created before `cutoff_ms`, what ties
    /// files to them, and the files no message carries any more; one transaction.
    pub async fn expire_messages(&self, cutoff_ms: i64, limit: i64) -> Result<Batch, StoreError> {
        self.run(move |db| async move {
            let postgres = matches!(&*db, Backend::Postgres(_));
            write_conn!(&*db, conn => {
                conn.transaction::<Batch, StoreError, _>(async move |conn| {
                    if postgres {
                        #[derive(QueryableByName)]
                        struct Locked {
                            #[diesel(sql_type = diesel::sql_types::Bool)]
                            locked: bool,
                        }
                        let locked: Locked = diesel::sql_query(format!(
                            "SELECT pg_try_advisory_xact_lock({LOCK_KEY}) AS locked"
                        ))
                        .get_result(conn)
                        .await?;
                        if !locked.locked {
                            return Ok(Batch::Busy);
                        }
                    }
                    let keys: Vec<(i64, i64)> = messages::table
                        .filter(messages::created_ms.lt(cutoff_ms))
                        .order(messages::created_ms.asc())
                        .limit(limit)
                        .select((messages::room_id, messages::seq))
                        .load(conn)
                        .await?;
                    let mut rooms: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
                    for (room, seq) in &keys {
                        rooms.entry(*room).or_default().push(*seq);
                    }
                    let mut carried: Vec<String> = Vec::new();
                    for (room, seqs) in &rooms {
                        let ties = message_files::table
                            .filter(message_files::room_id.eq(room))
                            .filter(message_files::seq.eq_any(seqs));
                        carried.extend(
                            ties.clone()
                                .select(message_files::file_id)
                                .load::<String>(conn)
                                .await?,
                        );
                        diesel::delete(ties).execute(conn).await?;
                        diesel::delete(
                            messages::table
                                .filter(messages::room_id.eq(room))
                                .filter(messages::seq.eq_any(seqs)),
                        )
                        .execute(conn)
                        .await?;
                    }
                    carried.sort_unstable();
                    carried.dedup();
                    let files = if carried.is_empty() {
                        0
                    } else {
                        let orphans: Vec<String> = files::table
                            .filter(files::id.eq_any(&carried))
                            .filter(not(exists(
                                message_files::table.filter(message_files::file_id.eq(files::id)),
                            )))
                            .select(files::id)
                            .load(conn)
                            .await?;
                        diesel::delete(
                            file_chunks::table.filter(file_chunks::file_id.eq_any(&orphans)),
                        )
                        .execute(conn)
                        .await?;
                        diesel::delete(files::table.filter(files::id.eq_any(&orphans)))
                            .execute(conn)
                            .await?
                    };
                    Ok(Batch::Deleted {
                        messages: keys.len(),
                        files,
                    })
                })
                .await
            })
        })
        .await
    }
}

/// The background task of `--retention-days`.
pub struct Retention {
    store: Store,
    settings: RetentionSettings,
}

impl Retention {
    pub fn new(store: Store, settings: RetentionSettings) -> Retention {
        Retention { store, settings }
    }

    /// One round: batches until one deletes fewer than [`BATCH`] messages; answers the
    /// messages and files deleted.
    pub async fn round(&self) -> Result<(usize, usize), StoreError> {
        let keep = i64::try_from(self.settings.keep.as_millis()).unwrap_or(i64::MAX);
        let cutoff = crate::clock::now_ms().saturating_sub(keep);
        let (mut messages, mut files) = (0, 0);
        let mut busy = 0;
        loop {
            match self.store.expire_messages(cutoff, BATCH).await? {
                // Another node's batches: it goes on with the round; this one tries later.
                Batch::Busy if busy >= MAX_BUSY => return Ok((messages, files)),
                Batch::Busy => busy += 1,
                Batch::Deleted {
                    messages: batch,
                    files: gone,
                } => {
                    busy = 0;
                    messages += batch;
                    files += gone;
                    if (batch as i64) < BATCH {
                        return Ok((messages, files));
                    }
                }
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// Runs a round every `every` (the first within a minute of the start) until the
    /// process stops.
    pub async fn run(self) {
        let every = self.settings.every;
        log::info!(
            "retention: messages older than {} days are deleted, looked for every {}s",
            self.settings.keep.as_secs() / 86_400,
            every.as_secs()
        );
        tokio::time::sleep(every.min(FIRST_ROUND)).await;
        let metrics = &crate::metrics::METRICS;
        // Shown at 0 from the start, so that a dashboard and an alert see the series.
        for what in ["messages", "files"] {
            metrics.retention_deleted.with_label_values(&[what]);
        }
        loop {
            match self.round().await {
                Ok((0, _)) => {}
                Ok((messages, files)) => {
                    metrics
                        .retention_deleted
                        .with_label_values(&["messages"])
                        .inc_by(messages as u64);
                    metrics
                        .retention_deleted
                        .with_label_values(&["files"])
                        .inc_by(files as u64);
                    let days = self.settings.keep.as_secs() / 86_400;
                    log::info!(
                        "retention: deleted {messages} messages and {files} files older than {days} days"
                    );
                    // What the round deleted, in the audit log beside what people did.
                    let audit = AuditEntry::admin("retention").detail(serde_json::json!({
                        "messages": messages, "files": files, "days": days,
                    }));
                    if let Err(err) = self.store.record_moderation(Moderation::audit(audit)).await {
                        log::warn!("retention: the round's audit entry was not written: {err}");
                    }
                }
                Err(err) => {
                    metrics.retention_failures.inc();
                    log::warn!("retention: a batch failed, tried again next round: {err}")
                }
            }
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_off_by_default_and_counted_in_days() {
        assert_eq!(RetentionSettings::new(None, 3600), Ok(None));
        assert!(RetentionSettings::new(Some(0), 3600).is_err());
        assert!(RetentionSettings::new(Some(30), 0).is_err());
        let on = RetentionSettings::new(Some(30), 60)
            .expect("valid")
            .expect("on");
        assert_eq!(on.keep, Duration::from_secs(30 * 86_400));
        assert_eq!(on.every, Duration::from_secs(60));
    }
}
