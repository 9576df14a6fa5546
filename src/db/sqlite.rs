//! SQLite's connections: sync diesel, called in place. A [`SqliteConn`] is diesel-async's
//! wrapper over sync diesel's `SqliteConnection` with the [`Inline`] spawner, so the store
//! code written once for both backends (`with_conn!`, `write_conn!`) runs on it unchanged,
//! every call finishing at once on the calling thread, with sync diesel's prepared-statement
//! cache. A whole store call is one hop to another thread:
//!
//! - reads ([`SqliteReaders`]) run on a blocking thread of the store runtime, with a
//!   connection from an r2d2 pool ([`Manager`]);
//! - writes ([`SqliteWriter`]) run on one thread, `palaver-sqlite-writer`, which owns the
//!   single write connection: a group commit is one call there, BEGIN to COMMIT. SQLite lets
//!   one writer in at a time anyway, and with a single writing connection a transaction that
//!   reads and then writes cannot fail with `SQLITE_BUSY_SNAPSHOT` (another connection
//!   having written in between); readers never block it in WAL mode.
//!
//! Every connection keeps a statement's plan for as long as the statement (`stable_plans`):
//! diesel's cache of prepared statements then saves the parsing and planning every time.
//!
//! A call that panics fails alone: its caller gets [`SqliteUnavailable`], the panic is logged,
//! and the connection it ran on is dropped (SQLite rolls back a transaction it left open) and
//! replaced; the writer thread keeps serving.

use std::error::Error;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_async::sync_connection_wrapper::SpawnBlocking;
use diesel_async::{AsyncConnection, TransactionManager};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// How far SQLite makes sure a commit is on disk before it is acknowledged
/// (`--sqlite-synchronous`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SqliteSync {
    /// `synchronous=FULL`: every commit is fsynced before the client gets `ok`; an acked
    /// message survives a power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: WAL is fsynced at checkpoints only; an acked message survives
    /// a crash of the process (`kill -9`), but a power loss can take the last commits.
    /// Faster (BENCHMARKS.md has both figures).
    Normal,
}

impl std::str::FromStr for SqliteSync {
    type Err = String;

    fn from_str(text: &str) -> Result<SqliteSync, String> {
        match text.to_ascii_lowercase().as_str() {
            "full" => Ok(SqliteSync::Full),
            "normal" => Ok(SqliteSync::Normal),
            _ => Err(format!(
                "{text:?} is not a synchronous mode: use full (survives a power loss) or normal (faster)"
            )),
        }
    }
}

impl SqliteSync {
    pub(super) fn pragmas(self) -> &'static str {
        match self {
            SqliteSync::Full => {
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                 PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;"
            }
            SqliteSync::Normal => {
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                 PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;"
            }
        }
    }
}

/// Runs each blocking task of diesel-async's wrapper at once, on the calling thread: the
/// future it returns is ready. The thread it runs on is a blocking one already (see the
/// module's doc).
#[derive(Clone, Copy, Debug, Default)]
pub struct Inline;

impl SpawnBlocking for Inline {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        Box::pin(std::future::ready(Ok(task())))
    }

    fn get_runtime() -> Self {
        Inline
    }
}

pub type SqliteConn =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<SqliteConnection, Inline>;

/// Why a store call found no SQLite connection to run on, or did not finish on it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SqliteUnavailable(pub String);

/// Runs `body` (store code on a [`SqliteConn`], whose every step is ready at once) to its
/// end on this thread, which must not be a runtime's worker (a blocking thread or the writer
/// thread are right). Through the store runtime's handle, so a step that does wait (none
/// does today) still works.
pub fn block_on<T>(body: impl Future<Output = T>) -> T {
    tokio::runtime::Handle::current().block_on(body)
}

/// The answer of a call on a connection, or why there was none, as the body's own result.
pub fn flatten<T, E: From<SqliteUnavailable>>(
    outcome: Result<Result<T, E>, SqliteUnavailable>,
) -> Result<T, E> {
    outcome.unwrap_or_else(|err| Err(err.into()))
}

/// Opens sync diesel's connection to `path` with the pragmas of `sync` (also the migration's),
/// its plans kept with its statements ([`stable_plans`]).
pub fn open(path: &str, sync: SqliteSync) -> Result<SqliteConnection, SqliteUnavailable> {
    stable_plans::install()?;
    let mut conn = SqliteConnection::establish(path)
        .map_err(|err| SqliteUnavailable(format!("cannot open SQLite file {path}: {err}")))?;
    conn.batch_execute(sync.pragmas()).map_err(|err| {
        SqliteUnavailable(format!(
            "cannot set up the SQLite connection to {path}: {err}"
        ))
    })?;
    super::conversation::register_sqlite_functions(&mut conn).map_err(|err| {
        SqliteUnavailable(format!(
            "cannot register the search functions on the SQLite connection to {path}: {err}"
        ))
    })?;
    Ok(conn)
}

/// Opens a connection to `path` with the pragmas of `sync`.
pub fn connect(path: &str, sync: SqliteSync) -> Result<SqliteConn, SqliteUnavailable> {
    open(path, sync).map(SqliteConn::new)
}

/// Whether a connection may be used again: not when a transaction is still open on it (a
/// body that panicked half-way) or its transaction manager gave up (a failed rollback).
fn is_broken(conn: &mut SqliteConn) -> bool {
    <SqliteConn as AsyncConnection>::TransactionManager::is_broken_transaction_manager(conn)
}

/// A panic's message, for the log and the caller's error.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Makes and checks the read pool's connections.
#[derive(Debug)]
pub struct Manager {
    path: String,
    sync: SqliteSync,
}

impl r2d2::ManageConnection for Manager {
    type Connection = SqliteConn;
    type Error = SqliteUnavailable;

    fn connect(&self) -> Result<SqliteConn, SqliteUnavailable> {
        connect(&self.path, self.sync)
    }

    /// One `SELECT 1`. r2d2 calls it only on check-out with `test_on_check_out`, which the
    /// pool leaves off (see [`SqliteReaders::open`]).
    fn is_valid(&self, conn: &mut SqliteConn) -> Result<(), SqliteUnavailable> {
        let probe = conn.spawn_blocking(|conn| conn.batch_execute("SELECT 1"));
        match probe.now_or_never() {
            Some(Ok(())) => Ok(()),
            Some(Err(err)) => Err(SqliteUnavailable(format!(
                "the SQLite connection does not answer: {err}"
            ))),
            None => Err(SqliteUnavailable(
                "the SQLite connection did not answer at once".into(),
            )),
        }
    }

    /// On the way back into the pool: a connection returned by a panicking read, or with a
    /// transaction left open, is dropped (r2d2 opens a new one).
    fn has_broken(&self, conn: &mut SqliteConn) -> bool {
        std::thread::panicking() || is_broken(conn)
    }
}

/// How long a read waits for a connection that is being (re)opened.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The read connections: an r2d2 pool, and as many permits as connections, so that a read
/// waits for a connection on the runtime (where the store's time-out can cancel it) and not
/// on a blocking thread of its own.
pub struct SqliteReaders {
    pool: r2d2::Pool<Manager>,
    permits: Arc<Semaphore>,
}

impl SqliteReaders {
    /// Opens `size` connections (blocks until they are open). The pool has one thread of its
    /// own (`palaver-r2d2`), which replaces the connections it drops; no connection expires or
    /// idles out (a SQLite connection is a handle on a local file, and nothing but the
    /// process can break one), so none is tested on check-out either.
    pub fn open(
        path: &str,
        size: usize,
        sync: SqliteSync,
    ) -> Result<SqliteReaders, SqliteUnavailable> {
        let size = size.max(1);
        let manager = Manager {
            path: path.to_string(),
            sync,
        };
        let pool = r2d2::Pool::builder()
            .max_size(u32::try_from(size).unwrap_or(u32::MAX))
            .test_on_check_out(false)
            .max_lifetime(None)
            .idle_timeout(None)
            .connection_timeout(CONNECTION_TIMEOUT)
            .thread_pool(Arc::new(
                scheduled_thread_pool::ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("palaver-r2d2")
                    .build(),
            ))
            .build(manager)
            .map_err(|err| SqliteUnavailable(format!("cannot open the SQLite read pool: {err}")))?;
        Ok(SqliteReaders {
            pool,
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    /// Runs `body` on a blocking thread with a read connection.
    pub async fn call<R: Send + 'static>(
        &self,
        body: impl FnOnce(&mut SqliteConn) -> R + Send + 'static,
    ) -> Result<R, SqliteUnavailable> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SqliteUnavailable("the SQLite read pool is closed".into()))?;
        let pool = self.pool.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool
                .get()
                .map_err(|err| SqliteUnavailable(format!("no SQLite read connection: {err}")))?;
            Ok(body(&mut conn))
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(err) if err.is_panic() => Err(SqliteUnavailable(format!(
                "a SQLite read panicked: {}",
                panic_message(&*err.into_panic())
            ))),
            Err(_) => Err(SqliteUnavailable(
                "the SQLite read was cancelled: the store is shutting down".into(),
            )),
        }
    }
}

/// A call for the writer thread: gets the write connection, or why there is none.
type Job = Box<dyn FnOnce(Result<&mut SqliteConn, SqliteUnavailable>) + Send>;

/// Calls waiting for the writer thread. Its callers are the group-commit writer (one batch at
/// a time) and the store's other writes, each waiting for its answer; a full queue makes a
/// caller wait on the runtime, where its time-out applies.
const WRITE_QUEUE: usize = 64;

/// The thread that owns the write connection, and the queue of calls to it. The thread ends
/// when the queue closes: when this is dropped (with the store) and the calls queued before
/// are done.
pub struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

impl SqliteWriter {
    /// Opens the write connection and starts the thread (`palaver-sqlite-writer`) with the
    /// store runtime's `runtime` (for [`block_on`]). The thread needs no joining: it ends
    /// when this is dropped; its handle is for tests.
    pub fn start(
        path: &str,
        sync: SqliteSync,
        runtime: tokio::runtime::Handle,
    ) -> Result<(SqliteWriter, std::thread::JoinHandle<()>), SqliteUnavailable> {
        let conn = connect(path, sync)?;
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE);
        let path = path.to_string();
        let thread = std::thread::Builder::new()
            .name("palaver-sqlite-writer".into())
            .spawn(move || {
                let _runtime = runtime.enter();
                serve(queue, conn, &path, sync);
            })
            .map_err(|err| {
                SqliteUnavailable(format!("cannot start the SQLite writer thread: {err}"))
            })?;
        Ok((SqliteWriter { jobs }, thread))
    }

    /// Runs `body` on the writer thread with the write connection, after the calls queued
    /// before it.
    pub async fn call<R: Send + 'static>(
        &self,
        body: impl FnOnce(&mut SqliteConn) -> R + Send + 'static,
    ) -> Result<R, SqliteUnavailable> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(conn.map(body));
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| SqliteUnavailable("the SQLite writer thread has stopped".into()))?;
        answer.await.unwrap_or_else(|_| {
            Err(SqliteUnavailable(
                "the SQLite write panicked (the log says where); its transaction was rolled back"
                    .into(),
            ))
        })
    }
}

/// The writer thread: one call at a time, until the queue closes. A call that panics is
/// answered (its reply is dropped: [`SqliteWriter::call`] says so), logged, and its connection
/// replaced by a new one before the next call; while none can be opened, each call is
/// answered with why.
fn serve(mut queue: mpsc::Receiver<Job>, conn: SqliteConn, path: &str, sync: SqliteSync) {
    let mut slot = Some(conn);
    while let Some(job) = queue.blocking_recv() {
        if slot.is_none() {
            match connect(path, sync) {
                Ok(conn) => {
                    log::info!("the SQLite writer reopened its connection to {path}");
                    slot = Some(conn);
                }
                Err(err) => {
                    log::error!("the SQLite writer cannot reopen its connection: {err}");
                    job(Err(SqliteUnavailable(format!(
                        "the SQLite writer has no connection: {err}"
                    ))));
                    continue;
                }
            }
        }
        let Some(conn) = slot.as_mut() else {
            continue;
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(conn)))) {
            Ok(()) if !is_broken(conn) => {}
            Ok(()) => {
                log::error!(
                    "a SQLite write left its connection in a transaction or a failed state; \
                     the writer drops it and opens a new one"
                );
                slot = None;
            }
            Err(panic) => {
                log::error!(
                    "a SQLite write panicked: {}; the writer drops its connection (rolling \
                     back what it left open) and opens a new one",
                    panic_message(&*panic)
                );
                slot = None;
            }
        }
    }
}

mod stable_plans;

#[cfg(test)]
mod tests;
