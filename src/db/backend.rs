//! Opens the database a URL names, runs its migrations and hands out connections of either
//! backend: embedded SQLite (the default; its threads and pool are `db/sqlite.rs`'s) or
//! PostgreSQL (diesel-async's own connections in a deadpool).

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::AsyncPgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

use super::error::{chain, StoreError};
use super::sqlite::{SqliteReaders, SqliteWriter};

pub use super::sqlite::{SqliteConn, SqliteSync};
pub type PgConn = AsyncPgConnection;

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Where the data lives, parsed from `--database-url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://palaver.db".into());
            }
            Ok(DatabaseUrl::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else {
            Err(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            ))
        }
    }
}

/// The connections of one backend. Store code is written once and expanded for each
/// variant by [`with_conn!`](crate::with_conn) (reads) and [`write_conn!`](crate::write_conn)
/// (anything that writes).
///
/// SQLite has readers and a single writer connection on a thread of its own (`db/sqlite.rs`
/// says why); PostgreSQL, one pool for both.
pub enum Backend {
    Sqlite {
        read: SqliteReaders,
        write: SqliteWriter,
    },
    Postgres(Pool<PgConn>),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Runs `$body` with `$conn` bound to a connection of whichever backend is configured, for
/// reading, and is its value. The body is an async block: `?` and `return` in it leave the
/// body, not the function around it, on both backends. On SQLite the whole body runs on one
/// blocking thread of the store runtime, with a connection of the read pool, so it must be
/// `Send + 'static`: it owns what it uses.
#[macro_export]
macro_rules! with_conn {
    ($backend:expr, $conn:ident => $body:block) => {
        match $backend {
            $crate::db::backend::Backend::Sqlite { read, .. } => $crate::db::sqlite::flatten(
                read.call(move |$conn| $crate::db::sqlite::block_on(async move $body))
                    .await,
            ),
            $crate::db::backend::Backend::Postgres(pool) => $crate::pooled!(pool, $conn => $body),
        }
    };
}

/// Like [`with_conn!`](crate::with_conn), with a connection that may write. On SQLite the
/// whole body (a transaction, BEGIN to COMMIT) runs on the writer thread, after the writes
/// queued before it.
#[macro_export]
macro_rules! write_conn {
    ($backend:expr, $conn:ident => $body:block) => {
        match $backend {
            $crate::db::backend::Backend::Sqlite { write, .. } => $crate::db::sqlite::flatten(
                write
                    .call(move |$conn| $crate::db::sqlite::block_on(async move $body))
                    .await,
            ),
            $crate::db::backend::Backend::Postgres(pool) => $crate::pooled!(pool, $conn => $body),
        }
    };
}

/// The PostgreSQL arm of the two macros above: takes a connection from `$pool` for `$body`.
#[doc(hidden)]
#[macro_export]
macro_rules! pooled {
    ($pool:expr, $conn:ident => $body:block) => {
        async {
            let mut pooled = $pool.get().await?;
            let $conn = &mut *pooled;
            $body
        }
        .await
    };
}

/// Migrates the database and opens its connections. Runs on the store's own runtime: the
/// migration harness blocks, which actix's single-threaded runtime does not allow.
pub async fn open(
    url: &DatabaseUrl,
    pool_size: usize,
    sync: SqliteSync,
) -> Result<Backend, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let path = path.clone();
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                migrate_sqlite(&path, sync)?;
                let read = SqliteReaders::open(&path, pool_size, sync)?;
                // Not joined: the thread ends when the backend (its queue) is dropped.
                let (write, _thread) = SqliteWriter::start(&path, sync, runtime)?;
                Ok(Backend::Sqlite { read, write })
            })
            .await
            .map_err(|err| StoreError::Unavailable(err.to_string()))?
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = connect_postgres(url).await?;
            lock_migrations(&mut conn).await?;
            // The lock is the session's: it goes with the connection, closed by the harness.
            tokio::task::spawn_blocking(move || migrate_postgres(conn))
                .await
                .map_err(|err| StoreError::Unavailable(err.to_string()))??;
            // Every pooled connection is made the way the first one was, so that a failure
            // later (PostgreSQL restarting, say) also names the address and the cause.
            let mut config = ManagerConfig::<PgConn>::default();
            config.custom_setup = Box::new(|url| {
                let url = url.to_string();
                async move {
                    connect_postgres(&url).await.map_err(|err| match err {
                        StoreError::Unavailable(reason) => {
                            diesel::ConnectionError::BadConnection(reason)
                        }
                        other => diesel::ConnectionError::BadConnection(other.to_string()),
                    })
                }
                .boxed()
            });
            let manager = AsyncDieselConnectionManager::<PgConn>::new_with_config(url, config);
            let pool = Pool::builder(manager)
                .max_size(pool_size)
                .wait_timeout(Some(Duration::from_secs(5)))
                .create_timeout(Some(Duration::from_secs(5)))
                .runtime(deadpool::Runtime::Tokio1)
                .build()
                .map_err(|err| StoreError::Unavailable(err.to_string()))?;
            Ok(Backend::Postgres(pool))
        }
    }
}

fn migrate_sqlite(path: &str, sync: SqliteSync) -> Result<(), StoreError> {
    let mut conn = super::sqlite::open(path, sync)?;
    conn.run_pending_migrations(SQLITE_MIGRATIONS)
        .map_err(|err| StoreError::Unavailable(format!("migrating {path}: {err}")))?;
    Ok(())
}

/// The session-level advisory lock that nodes starting together on one PostgreSQL take
/// before migrating, so that one migrates and the others find it done ("palvmig").
const MIGRATION_LOCK: i64 = 0x0070_616c_766d_6967;
/// How long a starting node waits for another node's migration before giving up.
const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(600);

/// Takes [`MIGRATION_LOCK`] on `conn`, waiting at most [`MIGRATION_LOCK_WAIT`].
async fn lock_migrations(conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
    use diesel_async::RunQueryDsl;
    let wait_ms = MIGRATION_LOCK_WAIT.as_millis();
    let fail = |err: diesel::result::Error| {
        StoreError::Unavailable(format!(
            "waiting for another node's migration of PostgreSQL (at most {} s): {err}",
            MIGRATION_LOCK_WAIT.as_secs()
        ))
    };
    diesel::sql_query(format!("SET statement_timeout = {wait_ms}"))
        .execute(conn)
        .await
        .map_err(fail)?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(conn)
        .await
        .map_err(fail)?;
    diesel::sql_query("SET statement_timeout = 0")
        .execute(conn)
        .await
        .map_err(fail)?;
    Ok(())
}

fn migrate_postgres(conn: PgConn) -> Result<(), StoreError> {
    let handle = tokio::runtime::Handle::current();
    let _guard = handle.enter();
    let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
    harness
        .run_pending_migrations(POSTGRES_MIGRATIONS)
        .map_err(|err| StoreError::Unavailable(format!("migrating PostgreSQL: {err}")))?;
    Ok(())
}

/// The first connection to PostgreSQL, made with tokio-postgres itself so that a failure
/// names the address and the cause ("connection refused", "password authentication
/// failed", …) instead of diesel's bare "error connecting to server".
async fn connect_postgres(url: &str) -> Result<AsyncPgConnection, StoreError> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|err| StoreError::Unavailable(format!("bad PostgreSQL URL: {}", chain(&err))))?;
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(|err| {
        StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL at {}: {}",
            postgres_address(&config),
            chain(&err)
        ))
    })?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(|err| {
            StoreError::Unavailable(format!("cannot set up the PostgreSQL connection: {err}"))
        })
}

/// `host:port` (or the socket directory) of every host the URL names, for error messages.
fn postgres_address(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
            match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
