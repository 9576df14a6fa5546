//! Multi-row inserts. PostgreSQL takes one statement with many rows (one round trip). On
//! SQLite a statement is a call in place (`db/sqlite.rs`) and a multi-row INSERT is prepared
//! anew for every number of rows, so the messages of a batch go in one by one through one
//! cached single-row INSERT; members (a room's creation, not the hot path) in one statement.

use std::future::Future;

use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::backend::{PgConn, SqliteConn};
use super::models::{MemberRow, MessageRow};
use super::schema::{members, messages};

pub trait BulkInsert {
    fn insert_messages(
        &mut self,
        rows: Vec<MessageRow>,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
    fn insert_members(
        &mut self,
        rows: Vec<MemberRow>,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
}

/// Rows a statement: well under PostgreSQL's 65,535 bound parameters.
const PG_CHUNK: usize = 1000;

impl BulkInsert for PgConn {
    async fn insert_messages(&mut self, rows: Vec<MessageRow>) -> QueryResult<usize> {
        let mut inserted = 0;
        for chunk in rows.chunks(PG_CHUNK) {
            inserted += diesel::insert_into(messages::table)
                .values(chunk)
                .execute(self)
                .await?;
        }
        Ok(inserted)
    }

    async fn insert_members(&mut self, rows: Vec<MemberRow>) -> QueryResult<usize> {
        let mut inserted = 0;
        for chunk in rows.chunks(PG_CHUNK) {
            inserted += diesel::insert_into(members::table)
                .values(chunk)
                .execute(self)
                .await?;
        }
        Ok(inserted)
    }
}

impl BulkInsert for SqliteConn {
    fn insert_messages(
        &mut self,
        rows: Vec<MessageRow>,
    ) -> impl Future<Output = QueryResult<usize>> + Send {
        self.spawn_blocking(move |conn| {
            let mut inserted = 0;
            for row in &rows {
                inserted += diesel::RunQueryDsl::execute(
                    diesel::insert_into(messages::table).values(row),
                    conn,
                )?;
            }
            Ok(inserted)
        })
    }

    fn insert_members(
        &mut self,
        rows: Vec<MemberRow>,
    ) -> impl Future<Output = QueryResult<usize>> + Send {
        self.spawn_blocking(move |conn| {
            diesel::RunQueryDsl::execute(diesel::insert_into(members::table).values(&rows), conn)
        })
    }
}
