//! SQLite's search index off the commit path (docs/conversations.md, "Search"). The group
//! commit's trigger only records a new or edited message's key in `message_search_pending`
//! (a plain table); [`SearchIndexer`] moves pending keys into the FTS5 table
//! `message_search` in batches, a few times a second, each batch one transaction on the
//! writer thread. FTS5 writes a new segment per transaction, so one segment for hundreds of
//! messages costs the writer far less than one per commit (BENCHMARKS.md, round 10). Until
//! a key is indexed, search checks its message directly (`search_sql.rs`). On PostgreSQL
//! the GIN index is PostgreSQL's to keep (with its own pending list), and there is nothing
//! to do here.

use std::time::Duration;

use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::db::backend::Backend;
use crate::db::error::StoreError;
use crate::db::store::Store;

/// Most keys indexed in one transaction: at most a few milliseconds of the writer thread,
/// so a batch never holds up the group commit noticeably.
pub const INDEX_BATCH: i64 = 2_000;

/// How often [`SearchIndexer`] looks for pending keys. A message is found by search at once
/// either way; this bounds the pending table, which search reads whole.
pub const INDEX_EVERY: Duration = Duration::from_millis(250);

/// The pending keys of a batch: the smallest `INDEX_BATCH`, bound once.
const BATCH_KEYS: &str = "SELECT key FROM message_search_pending ORDER BY key LIMIT ?";

impl Store {
    /// Indexes up to [`INDEX_BATCH`] pending messages in one transaction; returns how many
    /// keys it took off the pending table (0 on PostgreSQL).
    pub async fn index_pending_search(&self) -> Result<usize, StoreError> {
        self.run(move |db| async move {
            let Backend::Sqlite { write, .. } = &*db else {
                return Ok(0);
            };
            crate::db::sqlite::flatten(
                write
                    .call(move |conn| {
                        crate::db::sqlite::block_on(async move {
                            conn.transaction::<usize, StoreError, _>(async move |conn| {
                                diesel::sql_query(format!(
                                    "INSERT INTO message_search (rowid, body) \
                                     SELECT p.key, m.body FROM ({BATCH_KEYS}) p \
                                     JOIN messages m ON m.room_id = (p.key >> 32) \
                                     AND m.seq = (p.key & 4294967295)"
                                ))
                                .bind::<diesel::sql_types::BigInt, _>(INDEX_BATCH)
                                .execute(conn)
                                .await?;
                                let taken = diesel::sql_query(format!(
                                    "DELETE FROM message_search_pending WHERE key IN ({BATCH_KEYS})"
                                ))
                                .bind::<diesel::sql_types::BigInt, _>(INDEX_BATCH)
                                .execute(conn)
                                .await?;
                                Ok(taken)
                            })
                            .await
                        })
                    })
                    .await,
            )
        })
        .await
    }
}

/// Runs [`Store::index_pending_search`] every [`INDEX_EVERY`] (at once again while batches
/// come back full) until the process stops. A failed batch is tried again at the next tick:
/// its keys stay pending, and search keeps finding their messages. The first failure is
/// logged with its cause and the recovery once, not every tick (a full disk fails every
/// batch until space is freed).
pub struct SearchIndexer {
    store: Store,
}

impl SearchIndexer {
    pub fn new(store: Store) -> SearchIndexer {
        SearchIndexer { store }
    }

    pub async fn run(self) {
        let mut failing = false;
        loop {
            match self.store.index_pending_search().await {
                Ok(taken) => {
                    if failing {
                        failing = false;
                        log::info!("search index: batches commit again");
                    }
                    if taken as i64 >= INDEX_BATCH {
                        continue;
                    }
                }
                Err(err) => {
                    if !failing {
                        failing = true;
                        log::warn!(
                            "search index: a batch failed, tried again every {} ms \
                             (pending messages are still found): {err}",
                            INDEX_EVERY.as_millis()
                        );
                    }
                }
            }
            tokio::time::sleep(INDEX_EVERY).await;
        }
    }
}
