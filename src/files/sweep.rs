//! The clean-up of uploads that no message refers to: a background task that, every
//! `every`, deletes those older than `keep` (24 hours), in batches of [`BATCH`] and at most
//! [`MAX_BATCHES`] batches a round, so one round is bounded in work and in time. Every node may run
//! it at once: a delete of a file already gone deletes nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::db::{Store, StoreError};
use crate::metrics::METRICS;

/// Files deleted per transaction.
pub const BATCH: i64 = 100;
/// Transactions per round; what is left waits for the next round.
pub const MAX_BATCHES: usize = 20;

pub struct Sweeper {
    store: Store,
    clock: Arc<dyn Clock>,
    /// How long an upload may wait for a message to carry it.
    keep: Duration,
    batch: i64,
    max_batches: usize,
}

impl Sweeper {
    pub fn new(store: Store, clock: Arc<dyn Clock>, keep: Duration) -> Sweeper {
        Sweeper {
            store,
            clock,
            keep,
            batch: BATCH,
            max_batches: MAX_BATCHES,
        }
    }

    /// One round: returns how many files were deleted.
    pub async fn sweep_once(&self) -> Result<usize, StoreError> {
        let keep = i64::try_from(self.keep.as_millis()).unwrap_or(i64::MAX);
        let cutoff = self.clock.now_ms().saturating_sub(keep);
        let mut deleted = 0;
        for _ in 0..self.max_batches {
            let batch = self
                .store
                .delete_unreferenced_files(cutoff, self.batch)
                .await?;
            deleted += batch;
            METRICS.files_deleted.inc_by(batch as u64);
            if (batch as i64) < self.batch {
                break;
            }
        }
        Ok(deleted)
    }

    /// Runs a round every `every` until the process stops.
    pub async fn run(self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.sweep_once().await {
                Ok(0) => {}
                Ok(deleted) => log::info!("deleted {deleted} unreferenced uploads"),
                Err(err) => log::warn!("clean-up of unreferenced uploads failed: {err}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::db::files::NewFile;
    use crate::db::models::{FileRow, UserKind};
    use crate::db::{DatabaseUrl, StoreConfig};
    use crate::model::UserId;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn file(id: &str, uploader: UserId, created_ms: i64) -> NewFile {
        NewFile {
            row: FileRow {
                id: id.to_string(),
                uploader_id: uploader,
                name: "notes.txt".into(),
                mime: "text/plain".into(),
                size: 3,
                sha256: "00".into(),
                width: None,
                height: None,
                thumbnail_mime: None,
                created_ms,
            },
            bytes: b"abc".to_vec(),
            thumbnail: None,
        }
    }

    /// A fresh SQLite store with one user (the folder goes when the first value is dropped).
    async fn store_with_amy() -> (tempfile::TempDir, Store, crate::db::models::UserRow) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::Sqlite(dir.path().join("t.db").display().to_string());
        let store = Store::open(&url, StoreConfig::default()).expect("store");
        let amy = store
            .create_user("amy", UserKind::User, None)
            .await
            .expect("user");
        (dir, store, amy)
    }

    #[actix_rt::test]
    async fn uploads_no_message_carries_go_after_a_day_and_not_before() {
        let (_dir, store, amy) = store_with_amy().await;
        let start = 1_800_000_000_000;
        let clock = Arc::new(ManualClock::at(start));
        let sweeper = Sweeper::new(store.clone(), clock.clone(), DAY);
        store
            .insert_file(file("a1", amy.id, start))
            .await
            .expect("a1");
        clock.advance(Duration::from_secs(3600));
        store
            .insert_file(file("b2", amy.id, start + 3_600_000))
            .await
            .expect("b2");

        clock.advance(DAY - Duration::from_secs(3600));
        assert_eq!(
            sweeper.sweep_once().await.expect("sweep"),
            0,
            "a1 is a day old, not older"
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(sweeper.sweep_once().await.expect("sweep"), 1);
        assert!(store.file_for(amy.id, "a1").await.expect("read").is_none());
        assert!(store
            .file_chunks("a1", 0, 10)
            .await
            .expect("read")
            .is_empty());
        assert!(store.file_for(amy.id, "b2").await.expect("read").is_some());
        clock.advance(Duration::from_secs(3600));
        assert_eq!(sweeper.sweep_once().await.expect("sweep"), 1);
        assert!(store.file_for(amy.id, "b2").await.expect("read").is_none());
    }

    #[actix_rt::test]
    async fn a_round_is_bounded() {
        let (_dir, store, amy) = store_with_amy().await;
        for n in 0..11 {
            store
                .insert_file(file(&format!("f{n}"), amy.id, 0))
                .await
                .expect("insert");
        }
        let clock = Arc::new(ManualClock::at(DAY.as_millis() as i64 * 2));
        let sweeper = Sweeper {
            batch: 3,
            max_batches: 2,
            ..Sweeper::new(store.clone(), clock, DAY)
        };
        assert_eq!(sweeper.sweep_once().await.expect("sweep"), 6);
        assert_eq!(sweeper.sweep_once().await.expect("sweep"), 5);
        assert_eq!(sweeper.sweep_once().await.expect("sweep"), 0);
    }
}
