//! Whether the store can commit, for `/healthz`: a probe write of one row, and what the
//! group-commit writer saw last (a full disk may still let a one-row update through while
//! every batch of messages fails).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::backend::Backend;
use super::error::StoreError;
use crate::write_conn;

/// A writer failure this recent, with no commit since, makes the store unhealthy.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(10);

/// The writer's last commit and last failure, as milliseconds since the store opened
/// (0: never). Atomics, so neither side ever waits for or poisons a lock.
#[derive(Debug)]
pub struct CommitHealth {
    opened: Instant,
    last_commit_ms: AtomicU64,
    last_failure_ms: AtomicU64,
}

impl CommitHealth {
    pub fn new() -> CommitHealth {
        CommitHealth {
            opened: Instant::now(),
            last_commit_ms: AtomicU64::new(0),
            last_failure_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        // At least 1, so that 0 keeps meaning "never".
        (self.opened.elapsed().as_millis() as u64).max(1)
    }

    /// A batch (or part of one) was committed.
    pub fn committed(&self) {
        self.last_commit_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// A batch failed for want of the store (not because of a post in it).
    pub fn failed(&self) {
        self.last_failure_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// How long ago the writer last failed, when that failure is within `window` and no
    /// commit came after it.
    pub fn failing(&self, window: Duration) -> Option<Duration> {
        let failure = self.last_failure_ms.load(Ordering::Relaxed);
        let commit = self.last_commit_ms.load(Ordering::Relaxed);
        if failure == 0 || commit > failure {
            return None;
        }
        let ago = Duration::from_millis(self.now_ms().saturating_sub(failure));
        (ago <= window).then_some(ago)
    }
}

impl Default for CommitHealth {
    fn default() -> Self {
        CommitHealth::new()
    }
}

/// Rewrites the probe row in a transaction of the writer's own connection (SQLite) or the
/// pool (PostgreSQL), then asks `health` how the writer fares.
pub async fn check(backend: &Backend, health: &CommitHealth) -> Result<(), StoreError> {
    use diesel_async::RunQueryDsl;
    write_conn!(backend, conn => {
        diesel::sql_query("UPDATE store_probe SET probes = probes + 1 WHERE id = 1")
            .execute(conn)
            .await?;
        Ok::<(), StoreError>(())
    })?;
    match health.failing(FAILURE_WINDOW) {
        Some(ago) => Err(StoreError::Unavailable(format!(
            "the last commit of messages failed {:.1} s ago and none has succeeded since",
            ago.as_secs_f64()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_counts_until_a_commit_or_the_window_ends() {
        let health = CommitHealth::new();
        assert_eq!(health.failing(FAILURE_WINDOW), None, "never failed");
        health.committed();
        assert_eq!(health.failing(FAILURE_WINDOW), None);
        std::thread::sleep(Duration::from_millis(2));
        health.failed();
        assert!(
            health.failing(FAILURE_WINDOW).is_some(),
            "failed after the last commit"
        );
        std::thread::sleep(Duration::from_millis(2));
        health.committed();
        assert_eq!(
            health.failing(FAILURE_WINDOW),
            None,
            "a commit since clears it"
        );
    }

    #[test]
    fn a_failure_older_than_the_window_is_forgotten() {
        let health = CommitHealth::new();
        health.failed();
        std::thread::sleep(Duration::from_millis(20));
        assert!(health.failing(Duration::from_millis(5)).is_none());
        assert!(health.failing(Duration::from_secs(5)).is_some());
    }
}
