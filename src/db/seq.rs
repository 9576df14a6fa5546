//! Where each room's `seq` stands, and each sender's read position: the writer reads a room's
//! `seq` from its row inside the batch transaction, never from memory, so any number of nodes
//! appending to one room share one gapless order, and moves it (and the senders' read
//! positions) forward in the same transaction. On PostgreSQL the rows are locked (`FOR NO KEY
//! UPDATE`, in ascending room id order, so two nodes' batches cannot deadlock) until the batch
//! commits: seq N+1 cannot commit before seq N, and a reader of `seq > x` never sees a hole
//! that fills in later. SQLite has a single writer connection, which serializes batches by
//! itself.
//!
//! PostgreSQL takes each step as one statement whatever the batch (one round trip each). On
//! SQLite a statement is a call in place (`db/sqlite.rs`), and a statement with a list of
//! values in it is prepared anew each time, so each step there is one cached single-row
//! statement run once per room or sender.

use std::collections::HashMap;
use std::future::Future;

use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::schema::{members, rooms};
use crate::model::{RoomId, UserId};

pub trait RoomSeqs {
    /// The last `seq` of each of `rooms` (ascending, no repeats) that exists, locked until
    /// commit.
    fn lock_rooms(
        &mut self,
        rooms: &[RoomId],
    ) -> impl Future<Output = QueryResult<Vec<(RoomId, i64)>>> + Send;
    /// Moves each room's `last_seq` forward (never back) to where the batch left it.
    fn advance_rooms(
        &mut self,
        last_seqs: &HashMap<RoomId, i64>,
    ) -> impl Future<Output = QueryResult<()>> + Send;
    /// A sender has read what they sent (so `unread` counts other people's messages): moves
    /// each (room, sender)'s read position forward (never back) to their last `seq` in it.
    fn advance_reads(
        &mut self,
        read_upto: &HashMap<(RoomId, UserId), i64>,
    ) -> impl Future<Output = QueryResult<()>> + Send;
}

impl RoomSeqs for PgConn {
    async fn lock_rooms(&mut self, ids: &[RoomId]) -> QueryResult<Vec<(RoomId, i64)>> {
        rooms::table
            .filter(rooms::id.eq_any(ids))
            .order(rooms::id.asc())
            .select((rooms::id, rooms::last_seq))
            .for_no_key_update()
            .load(self)
            .await
    }

    async fn advance_rooms(&mut self, last_seqs: &HashMap<RoomId, i64>) -> QueryResult<()> {
        if let Some(sql) = advance_sql(last_seqs) {
            diesel::sql_query(sql).execute(self).await?;
        }
        Ok(())
    }

    async fn advance_reads(
        &mut self,
        read_upto: &HashMap<(RoomId, UserId), i64>,
    ) -> QueryResult<()> {
        if let Some(sql) = read_positions_sql(read_upto) {
            diesel::sql_query(sql).execute(self).await?;
        }
        Ok(())
    }
}

impl RoomSeqs for SqliteConn {
    fn lock_rooms(
        &mut self,
        ids: &[RoomId],
    ) -> impl Future<Output = QueryResult<Vec<(RoomId, i64)>>> + Send {
        let ids = ids.to_vec();
        self.spawn_blocking(move |conn| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                let query = rooms::table.find(id).select((rooms::id, rooms::last_seq));
                let row = diesel::RunQueryDsl::first::<(RoomId, i64)>(query, conn).optional()?;
                found.extend(row);
            }
            Ok(found)
        })
    }

    fn advance_rooms(
        &mut self,
        last_seqs: &HashMap<RoomId, i64>,
    ) -> impl Future<Output = QueryResult<()>> + Send {
        let last_seqs: Vec<(RoomId, i64)> = last_seqs.iter().map(|(r, s)| (*r, *s)).collect();
        self.spawn_blocking(move |conn| {
            for (room, seq) in last_seqs {
                let update =
                    diesel::update(rooms::table.find(room).filter(rooms::last_seq.lt(seq)))
                        .set(rooms::last_seq.eq(seq));
                diesel::RunQueryDsl::execute(update, conn)?;
            }
            Ok(())
        })
    }

    fn advance_reads(
        &mut self,
        read_upto: &HashMap<(RoomId, UserId), i64>,
    ) -> impl Future<Output = QueryResult<()>> + Send {
        let read_upto: Vec<((RoomId, UserId), i64)> =
            read_upto.iter().map(|(k, s)| (*k, *s)).collect();
        self.spawn_blocking(move |conn| {
            for ((room, user), seq) in read_upto {
                let update = diesel::update(
                    members::table
                        .filter(members::room_id.eq(room))
                        .filter(members::user_id.eq(user))
                        .filter(members::read_seq.lt(seq)),
                )
                .set(members::read_seq.eq(seq));
                diesel::RunQueryDsl::execute(update, conn)?;
            }
            Ok(())
        })
    }
}

/// One statement that moves each room's `last_seq` to where the batch left it. The values
/// are integers, written into the SQL.
fn advance_sql(last_seqs: &HashMap<RoomId, i64>) -> Option<String> {
    if last_seqs.is_empty() {
        return None;
    }
    let mut values: Vec<String> = last_seqs
        .iter()
        .map(|(RoomId(room), seq)| format!("({room}, {seq})"))
        .collect();
    values.sort();
    Some(format!(
        "WITH batch (id, last_seq) AS (VALUES {}) \
         UPDATE rooms SET last_seq = batch.last_seq FROM batch \
         WHERE rooms.id = batch.id AND rooms.last_seq < batch.last_seq",
        values.join(", ")
    ))
}

/// One statement that moves every sender's read position forward. The values are integers,
/// written into the SQL.
fn read_positions_sql(read_upto: &HashMap<(RoomId, UserId), i64>) -> Option<String> {
    if read_upto.is_empty() {
        return None;
    }
    let values: Vec<String> = read_upto
        .iter()
        .map(|((RoomId(room), UserId(user)), seq)| format!("({room}, {user}, {seq})"))
        .collect();
    Some(format!(
        "WITH sent (room_id, user_id, seq) AS (VALUES {}) \
         UPDATE members SET read_seq = sent.seq FROM sent \
         WHERE members.room_id = sent.room_id AND members.user_id = sent.user_id \
         AND members.read_seq < sent.seq",
        values.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::SqliteConnection;
    use diesel_migrations::MigrationHarness;
    use futures_util::FutureExt;

    use super::*;

    /// A migrated SQLite file with rooms 5 (last seq 3, user 2 has read up to 2) and 7 (empty).
    fn sqlite() -> (tempfile::TempDir, SqliteConn) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db").display().to_string();
        let mut raw = SqliteConnection::establish(&path).expect("open");
        raw.run_pending_migrations(crate::db::backend::SQLITE_MIGRATIONS)
            .expect("migrate");
        raw.batch_execute(
            "INSERT INTO users (id, name, kind, created_ms) VALUES (2, 'a', 'person', 0); \
             INSERT INTO rooms (id, kind, name, public, created_ms, last_seq) \
               VALUES (5, 'group', 'g', 0, 0, 3), (7, 'group', 'h', 0, 0, 0); \
             INSERT INTO members (room_id, user_id, read_seq, joined_ms) VALUES (5, 2, 2, 0);",
        )
        .expect("rows");
        (dir, SqliteConn::new(raw))
    }

    fn read_seq(conn: &mut SqliteConn) -> Option<QueryResult<i64>> {
        conn.spawn_blocking(|conn| {
            let query = members::table
                .filter(members::room_id.eq(5))
                .select(members::read_seq);
            diesel::RunQueryDsl::first::<i64>(query, conn)
        })
        .now_or_never()
    }

    #[test]
    fn on_sqlite_rooms_and_read_positions_only_move_forward() {
        let (_dir, mut conn) = sqlite();
        let locked = conn
            .lock_rooms(&[RoomId(5), RoomId(6), RoomId(7)])
            .now_or_never();
        assert_eq!(
            locked,
            Some(Ok(vec![(RoomId(5), 3), (RoomId(7), 0)])),
            "room 6 is not there"
        );
        let moved = conn
            .advance_rooms(&HashMap::from([(RoomId(5), 2), (RoomId(7), 4)]))
            .now_or_never();
        assert_eq!(moved, Some(Ok(())));
        let locked = conn.lock_rooms(&[RoomId(5), RoomId(7)]).now_or_never();
        assert_eq!(
            locked,
            Some(Ok(vec![(RoomId(5), 3), (RoomId(7), 4)])),
            "5 not back, 7 forward"
        );
        let read = conn
            .advance_reads(&HashMap::from([((RoomId(5), UserId(2)), 1)]))
            .now_or_never();
        assert_eq!(read, Some(Ok(())));
        assert_eq!(read_seq(&mut conn), Some(Ok(2)), "never back");
        let read = conn
            .advance_reads(&HashMap::from([
                ((RoomId(5), UserId(2)), 6),
                ((RoomId(7), UserId(2)), 1),
            ]))
            .now_or_never();
        assert_eq!(read, Some(Ok(())));
        assert_eq!(read_seq(&mut conn), Some(Ok(6)));
    }

    #[test]
    fn one_statement_moves_every_room_forward() {
        assert_eq!(advance_sql(&HashMap::new()), None);
        let sql = advance_sql(&HashMap::from([(RoomId(3), 9), (RoomId(1), 4)])).unwrap_or_default();
        assert!(sql.contains("VALUES (1, 4), (3, 9)"), "{sql}");
        assert!(sql.contains("rooms.last_seq < batch.last_seq"), "{sql}");
    }

    #[test]
    fn one_statement_moves_every_read_position_forward() {
        assert_eq!(read_positions_sql(&HashMap::new()), None);
        let sql =
            read_positions_sql(&HashMap::from([((RoomId(3), UserId(7)), 9)])).unwrap_or_default();
        assert!(sql.contains("VALUES (3, 7, 9)"), "{sql}");
        assert!(sql.contains("members.read_seq < sent.seq"), "{sql}");
    }
}
