//! Where each room's `seq` stands: the writer reads it from the room rows inside its batch
//! transaction, never from memory, so any number of nodes appending to one room share one
//! gapless order. On PostgreSQL the rows are locked (`FOR NO KEY UPDATE`, in ascending room
//! id order, so two nodes' batches cannot deadlock) until the batch commits: seq N+1 cannot
//! commit before seq N, and a reader of `seq > x` never sees a hole that fills in later.
//! SQLite has a single writer connection, which serializes batches by itself.

use std::collections::HashMap;
use std::future::Future;

use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::schema::rooms;

pub trait RoomSeqs {
    /// The last `seq` of each of `rooms` (ascending, no repeats), locked until commit.
    fn lock_rooms(
        &mut self,
        rooms: &[i64],
    ) -> impl Future<Output = QueryResult<Vec<(i64, i64)>>> + Send;
}

impl RoomSeqs for PgConn {
    async fn lock_rooms(&mut self, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
        rooms::table
            .filter(rooms::id.eq_any(ids))
            .order(rooms::id.asc())
            .select((rooms::id, rooms::last_seq))
            .for_no_key_update()
            .load(self)
            .await
    }
}

impl RoomSeqs for SqliteConn {
    async fn lock_rooms(&mut self, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
        rooms::table
            .filter(rooms::id.eq_any(ids))
            .order(rooms::id.asc())
            .select((rooms::id, rooms::last_seq))
            .load(self)
            .await
    }
}

/// One statement that moves each room's `last_seq` to where the batch left it. The values
/// are integers, written into the SQL; both backends take `WITH … UPDATE … FROM`.
pub fn advance_sql(last_seqs: &HashMap<i64, i64>) -> Option<String> {
    if last_seqs.is_empty() {
        return None;
    }
    let mut values: Vec<String> = last_seqs
        .iter()
        .map(|(room, seq)| format!("({room}, {seq})"))
        .collect();
    values.sort();
    Some(format!(
        "WITH batch (id, last_seq) AS (VALUES {}) \
         UPDATE rooms SET last_seq = batch.last_seq FROM batch \
         WHERE rooms.id = batch.id AND rooms.last_seq < batch.last_seq",
        values.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_moves_every_room_forward() {
        assert_eq!(advance_sql(&HashMap::new()), None);
        let sql = advance_sql(&HashMap::from([(3, 9), (1, 4)])).unwrap_or_default();
        assert!(sql.contains("VALUES (1, 4), (3, 9)"), "{sql}");
        assert!(sql.contains("rooms.last_seq < batch.last_seq"), "{sql}");
    }
}
