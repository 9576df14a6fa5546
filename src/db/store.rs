//! The store interface every actor and handler calls. Each call runs on the store's own
//! multi-threaded runtime, so a caller that goes away (an actor stopping, a client
//! disconnecting) never cancels a query half-way; appends go through the group-commit writer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::backend::{self, Backend, DatabaseUrl, SqliteSync};
use super::error::StoreError;
use super::health::{self, CommitHealth};
use super::models::*;
use super::writer::{self, AppendJob, NewPost, Outcome};
use crate::model::UserId;

/// A room as one user sees it in lists: what the wire's Room object is made of.
#[derive(Clone, Debug)]
pub struct RoomSummary {
    pub room: RoomRow,
    pub members_count: i64,
    pub last_seq: i64,
    /// The caller's read position; 0 for an admin's view.
    pub read_seq: i64,
    /// For direct and bot rooms: the other party's name (both names for an admin's view).
    pub display_name: Option<String>,
    /// The caller's notification level, if they chose one (section 12).
    pub notify: Option<crate::notify::Level>,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub pool_size: usize,
    /// A call that takes longer fails with `Unavailable`.
    pub call_timeout: Duration,
    /// Appends waiting for the writer; a full queue fails fast with `Unavailable`.
    pub writer_queue: usize,
    /// SQLite only: fsync every commit (the default) or only at checkpoints.
    pub sqlite_sync: SqliteSync,
    /// PostgreSQL only: group-commit batches committed at once, each on a connection of the
    /// pool (at most `pool_size - 1`, so that reads always get one). SQLite commits one at a
    /// time on its single writing connection.
    pub commits_in_flight: usize,
    /// PostgreSQL only: fewest posts a batch needs to start while another commits; smaller
    /// ones wait for a commit to finish (`writer/schedule.rs`).
    pub min_batch_beside: usize,
    /// Most groups one user may be a member of (`--max-rooms-per-user`): a group that would
    /// take a user over it is refused with [`StoreError::TooManyRooms`].
    pub max_groups_per_user: i64,
}

/// The default of [`StoreConfig::max_groups_per_user`].
pub const MAX_GROUPS_PER_USER: i64 = 2_000;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pool_size: 8,
            call_timeout: Duration::from_secs(10),
            writer_queue: 8192,
            sqlite_sync: SqliteSync::default(),
            commits_in_flight: writer::COMMITS_IN_FLIGHT,
            min_batch_beside: writer::MIN_BESIDE,
            max_groups_per_user: MAX_GROUPS_PER_USER,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<Backend>,
    runtime: RuntimeGuard,
    writer: mpsc::Sender<AppendJob>,
    /// What the writer saw last, for [`Store::can_commit`].
    health: Arc<CommitHealth>,
    call_timeout: Duration,
    max_groups_per_user: i64,
    /// Told when the writer committed notifications (the sender waits on it).
    push_wake: Arc<tokio::sync::Notify>,
    /// The content rules as this node compiled them (`db/safety/content_rules.rs`).
    rules: super::safety::LiveRules,
}

/// Owns the store runtime; shuts it down without blocking, which is allowed anywhere.
struct RuntimeGuard(Option<tokio::runtime::Runtime>);

impl RuntimeGuard {
    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(|rt| rt.handle())
    }
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(super) fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("pv_{}", hex::encode(bytes))
}

pub(super) fn pair_key(kind: RoomKind, UserId(a): UserId, UserId(b): UserId) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{low}:{high}", kind.as_str())
}

impl Store {
    /// Opens (creating and migrating as needed) the database. Blocks the calling thread
    /// until the database answers; safe to call from inside or outside an async runtime.
    pub fn open(url: &DatabaseUrl, config: StoreConfig) -> Result<Store, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("palaver-store")
            .enable_all()
            .build()
            .map_err(|err| StoreError::Unavailable(format!("cannot start store runtime: {err}")))?;
        let handle = runtime.handle().clone();
        let url_owned = url.clone();
        let (pool_size, sync) = (config.pool_size, config.sqlite_sync);
        let opened = std::thread::spawn(move || {
            handle.block_on(async move { backend::open(&url_owned, pool_size, sync).await })
        })
        .join()
        .map_err(|_| StoreError::Unavailable("store start-up panicked".into()))??;
        let backend = Arc::new(opened);
        let (writer_tx, writer_rx) = mpsc::channel(config.writer_queue);
        let health = Arc::new(CommitHealth::new());
        let in_flight = config
            .commits_in_flight
            .clamp(1, config.pool_size.saturating_sub(1).max(1));
        let push_wake = Arc::new(tokio::sync::Notify::new());
        runtime.spawn(writer::run(
            backend.clone(),
            writer_rx,
            health.clone(),
            in_flight,
            config.min_batch_beside,
            push_wake.clone(),
        ));
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                runtime: RuntimeGuard(Some(runtime)),
                writer: writer_tx,
                health,
                call_timeout: config.call_timeout,
                max_groups_per_user: config.max_groups_per_user,
                push_wake,
                rules: Default::default(),
            }),
        })
    }

    pub(super) fn live_rules(&self) -> &super::safety::LiveRules {
        &self.inner.rules
    }

    pub(super) fn max_groups_per_user(&self) -> i64 {
        self.inner.max_groups_per_user
    }

    /// Notified each time this node commits messages with notifications decided.
    pub fn push_wake(&self) -> Arc<tokio::sync::Notify> {
        self.inner.push_wake.clone()
    }

    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// Whether this is SQLite, whose search index is kept by the store's own indexer
    /// (`db/conversation/search_index.rs`).
    pub fn is_sqlite(&self) -> bool {
        matches!(&*self.inner.backend, super::backend::Backend::Sqlite { .. })
    }

    /// Runs one store call on the store runtime, bounded by the call time-out.
    pub(super) async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Arc<Backend>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let Some(handle) = self.inner.runtime.handle() else {
            return Err(StoreError::Unavailable("the store is shut down".into()));
        };
        let timeout = self.inner.call_timeout;
        let fut = call(self.inner.backend.clone());
        let task = handle.spawn(async move {
            match tokio::time::timeout(timeout, fut).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::Unavailable(format!(
                    "the database did not answer within {timeout:?}"
                ))),
            }
        });
        match task.await {
            Ok(result) => result,
            Err(err) => Err(StoreError::Unavailable(format!("store task failed: {err}"))),
        }
    }

    /// Whether the store can commit now: a one-row write goes through, and the writer's
    /// last batch did not fail within [`health::FAILURE_WINDOW`] with no commit since.
    pub async fn can_commit(&self) -> Result<(), StoreError> {
        let health = self.inner.health.clone();
        self.run(|db| async move { health::check(&db, &health).await })
            .await
    }

    /// Appends messages through the group-commit writer; resolves after the commit with an
    /// outcome for each post, in order: a post the store refuses fails alone. The outer
    /// error means none of them was taken (the queue is full, the writer is gone or late).
    pub async fn append(&self, posts: Vec<NewPost>) -> Result<Vec<Outcome>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .try_send(AppendJob { posts, reply })
            .map_err(|_| StoreError::Unavailable("the store's write queue is full".into()))?;
        match tokio::time::timeout(self.inner.call_timeout, answer).await {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(_)) => Err(StoreError::Unavailable("the store writer stopped".into())),
            Err(_) => Err(StoreError::Unavailable(
                "the commit did not finish in time".into(),
            )),
        }
    }

    /// Resolves once every append queued before it has been committed (or failed).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.append(Vec::new()).await.map(|_| ())
    }
}
