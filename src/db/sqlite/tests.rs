use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager as _};
use diesel::sql_types::{BigInt, Integer};
use diesel::{IntoSql, QueryableByName};
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use r2d2::ManageConnection;

use super::*;

fn temp_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.db").display().to_string();
    (dir, path)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut SqliteConn) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM t")
        .get_result::<Count>(conn)
        .await
        .map(|row| row.n)
        .unwrap_or(-1)
}

#[test]
fn inline_runs_the_task_at_once_on_the_calling_thread() {
    // No runtime here: nothing but the calling thread can run it.
    let caller = std::thread::current().id();
    let ran = Inline
        .spawn_blocking(move || std::thread::current().id())
        .now_or_never();
    assert!(matches!(ran, Some(Ok(id)) if id == caller), "{ran:?}");
}

#[test]
fn every_call_on_a_connection_is_ready_when_first_polled() {
    let (_dir, path) = temp_db();
    let mut conn = connect(&path, SqliteSync::Normal).expect("connect");
    let created = diesel::sql_query("CREATE TABLE t (x INTEGER)")
        .execute(&mut conn)
        .now_or_never();
    assert!(matches!(created, Some(Ok(0))), "{created:?}");
    let inserted = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::sql_query("INSERT INTO t VALUES (1), (2)")
                .execute(conn)
                .await
        })
        .now_or_never();
    assert!(matches!(inserted, Some(Ok(2))), "{inserted:?}");
    let one = diesel::select(1.into_sql::<Integer>())
        .get_result::<i32>(&mut conn)
        .now_or_never();
    assert!(matches!(one, Some(Ok(1))), "{one:?}");
}

#[test]
fn the_pool_keeps_a_connection_only_outside_a_transaction() {
    let (_dir, path) = temp_db();
    let manager = Manager {
        path: path.clone(),
        sync: SqliteSync::Full,
    };
    let mut conn = manager.connect().expect("connect");
    assert_eq!(manager.is_valid(&mut conn), Ok(()));
    assert!(!manager.has_broken(&mut conn));
    let begun = conn
        .spawn_blocking(AnsiTransactionManager::begin_transaction)
        .now_or_never();
    assert!(matches!(begun, Some(Ok(()))), "{begun:?}");
    assert!(manager.has_broken(&mut conn), "a transaction is left open");
    let bad = Manager {
        path: "/nonexistent-palaver-dir/t.db".to_string(),
        sync: SqliteSync::Full,
    };
    let refused = bad.connect().map(|_| ()).unwrap_err();
    assert!(refused.0.contains("cannot open SQLite file"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_write_that_panics_fails_alone_and_its_transaction_is_rolled_back() {
    let (_dir, path) = temp_db();
    let (writer, _thread) =
        SqliteWriter::start(&path, SqliteSync::Normal, tokio::runtime::Handle::current())
            .expect("writer");
    let created = writer
        .call(|conn| {
            block_on(async {
                diesel::sql_query("CREATE TABLE t (x INTEGER)")
                    .execute(conn)
                    .await
            })
        })
        .await;
    assert_eq!(created, Ok(Ok(0)));
    let thread_name = writer
        .call(|_| std::thread::current().name().map(str::to_string))
        .await;
    assert_eq!(thread_name, Ok(Some("palaver-sqlite-writer".to_string())));

    let panicked = writer
        .call(|conn| {
            block_on(async {
                conn.transaction::<(), diesel::result::Error, _>(async |conn| {
                    diesel::sql_query("INSERT INTO t VALUES (1)")
                        .execute(conn)
                        .await?;
                    panic!("a bug half-way through a transaction");
                })
                .await
            })
        })
        .await;
    let Err(SqliteUnavailable(reason)) = &panicked else {
        panic!("{panicked:?}");
    };
    assert!(reason.contains("panicked"), "{reason}");
    // The next call runs on a new connection: the insert was rolled back.
    assert_eq!(writer.call(|conn| block_on(count(conn))).await, Ok(0));

    // A call that leaves a transaction open (no panic) has its connection replaced too.
    let left_open = writer
        .call(|conn| {
            block_on(async {
                conn.spawn_blocking(AnsiTransactionManager::begin_transaction)
                    .await?;
                diesel::sql_query("INSERT INTO t VALUES (2)")
                    .execute(conn)
                    .await
            })
        })
        .await;
    assert_eq!(left_open, Ok(Ok(1)));
    assert_eq!(writer.call(|conn| block_on(count(conn))).await, Ok(0));
    let inserted = writer
        .call(|conn| {
            block_on(async {
                diesel::sql_query("INSERT INTO t VALUES (3)")
                    .execute(conn)
                    .await
            })
        })
        .await;
    assert_eq!(inserted, Ok(Ok(1)));
    assert_eq!(writer.call(|conn| block_on(count(conn))).await, Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_read_that_panics_fails_alone_and_the_pool_replaces_its_connection() {
    let (_dir, path) = temp_db();
    let mut setup = connect(&path, SqliteSync::Normal).expect("connect");
    let created = diesel::sql_query("CREATE TABLE t (x INTEGER)")
        .execute(&mut setup)
        .now_or_never();
    assert!(matches!(created, Some(Ok(0))), "{created:?}");
    let readers = SqliteReaders::open(&path, 1, SqliteSync::Normal).expect("readers");
    let panicked: Result<(), _> = readers.call(|_| panic!("a bug in a read")).await;
    let Err(SqliteUnavailable(reason)) = &panicked else {
        panic!("{panicked:?}");
    };
    assert!(
        reason.contains("a SQLite read panicked: a bug in a read"),
        "{reason}"
    );
    // One connection in the pool: the next read gets the one r2d2 opened instead.
    assert_eq!(readers.call(|conn| block_on(count(conn))).await, Ok(0));
    let thread = readers
        .call(|_| std::thread::current().name().map(str::to_string))
        .await;
    assert_ne!(thread, Ok(Some("palaver-sqlite-writer".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_writer_thread_ends_when_its_queue_is_dropped() {
    let (_dir, path) = temp_db();
    let (writer, thread) =
        SqliteWriter::start(&path, SqliteSync::Normal, tokio::runtime::Handle::current())
            .expect("writer");
    assert_eq!(writer.call(|_| 7).await, Ok(7));
    drop(writer);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !thread.is_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(thread.is_finished(), "the writer thread is still running");
    assert!(thread.join().is_ok());
}
