//! Multi-row inserts. PostgreSQL takes one statement with many rows; diesel's SQLite
//! support does the same work row by row on the blocking thread, which the async wrapper
//! does not expose, so each backend gets its own short implementation here.

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
            diesel::RunQueryDsl::execute(diesel::insert_into(messages::table).values(&rows), conn)
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
