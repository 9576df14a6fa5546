//! `search`: messages whose body contains every word of the query, in the caller's rooms,
//! newest first, never a deleted one (docs/conversations.md, "Search"). A page is found in
//! at most three steps ([`super::search_plan`]): the newest messages of the caller's rooms
//! are checked directly (this answers common words at once), the walk goes on by time when
//! the hits found say the rest is near, then, for what that leaves, the backend's own text
//! index: SQLite's FTS5 trigram table `message_search` (kept in step by triggers and the
//! indexer, `search_index.rs`), PostgreSQL's pg_trgm GIN index on `lower(body)`. Words are checked
//! with `palaver_fold`, the server's own folding, on SQLite (registered on every
//! connection) and with `lower()` on PostgreSQL.

use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryResult;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::ConversationError;
use super::load::ConversationReads;
use super::lookups::Snapshot;
use super::search_plan::SearchRequest;
use super::search_plan::{Plan, SearchLimits, Then};
use super::search_sql::{self, Bind, Dialect, Statement, Stretch};
use super::{FullMessage, MAX_SEARCH_PAGE};
use crate::conversation::{fold, SearchCursor};
use crate::db::backend::{PgConn, SqliteConn};
use crate::db::schema::members;
use crate::db::store::Store;
use crate::model::RoomId;
use crate::with_conn;
diesel::define_sql_function! {
    /// The server's folding of text for search ([`crate::conversation::fold`]), for SQLite.
    fn palaver_fold(text: Text) -> Text;
}

/// Registers the functions search uses on a new SQLite connection.
pub(crate) fn register_sqlite_functions(
    conn: &mut diesel::sqlite::SqliteConnection,
) -> QueryResult<()> {
    palaver_fold_utils::register_impl(conn, |text: String| fold(&text))
}

/// A page of results, newest first; `next` is `None` on the last page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPage {
    pub messages: Vec<FullMessage>,
    pub next: Option<SearchCursor>,
}

#[derive(QueryableByName, Clone, Copy, Debug)]
struct Hit {
    #[diesel(sql_type = BigInt)]
    room_id: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    created_ms: i64,
}

impl Hit {
    fn cursor(&self) -> SearchCursor {
        SearchCursor {
            created_ms: self.created_ms,
            room_id: self.room_id,
            seq: self.seq,
        }
    }
}

#[derive(QueryableByName, Clone, Copy, Debug)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs search statements on one backend.
trait SearchStatements {
    const DIALECT: Dialect;

    fn rows<T>(&mut self, statement: Statement) -> impl Future<Output = QueryResult<Vec<T>>> + Send
    where
        T: QueryableByName<diesel::pg::Pg>
            + QueryableByName<diesel::sqlite::Sqlite>
            + Send
            + 'static;
}

impl SearchStatements for PgConn {
    const DIALECT: Dialect = Dialect::Postgres;

    async fn rows<T>(&mut self, statement: Statement) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<diesel::pg::Pg>
            + QueryableByName<diesel::sqlite::Sqlite>
            + Send
            + 'static,
    {
        let mut query = diesel::sql_query(statement.sql).into_boxed::<diesel::pg::Pg>();
        for bind in statement.binds {
            query = match bind {
                Bind::Int(value) => query.bind::<BigInt, _>(value),
                Bind::Text(value) => query.bind::<Text, _>(value),
            };
        }
        query.load(self).await
    }
}

impl SearchStatements for SqliteConn {
    const DIALECT: Dialect = Dialect::Sqlite;

    fn rows<T>(&mut self, statement: Statement) -> impl Future<Output = QueryResult<Vec<T>>> + Send
    where
        T: QueryableByName<diesel::pg::Pg>
            + QueryableByName<diesel::sqlite::Sqlite>
            + Send
            + 'static,
    {
        self.spawn_blocking(move |conn| {
            let mut query = diesel::sql_query(statement.sql).into_boxed::<diesel::sqlite::Sqlite>();
            for bind in statement.binds {
                query = match bind {
                    Bind::Int(value) => query.bind::<BigInt, _>(value),
                    Bind::Text(value) => query.bind::<Text, _>(value),
                };
            }
            diesel::RunQueryDsl::load(query, conn)
        })
    }
}

/// The hits of one page and the `next` it ends with, by the steps of [`Plan`].
async fn page_keys<C: SearchStatements>(
    conn: &mut C,
    request: &SearchRequest,
    limits: SearchLimits,
) -> QueryResult<(Vec<Hit>, Option<SearchCursor>)> {
    let dialect = C::DIALECT;
    let scope = conn
        .rows::<Count>(search_sql::scope_size(dialect, request))
        .await?
        .into_iter()
        .next()
        .map_or(0, |count: Count| count.n);
    let scope = match request.before_seq {
        Some(before) => scope.min(before.saturating_sub(1)),
        None => scope,
    };
    let plan = Plan::new(&request.query, scope, limits);
    let mut hits = Vec::new();
    let window = Stretch::window(request, &plan);
    let full_window_end = check_stretch(conn, request, &window, &mut hits).await?;
    let mut then = plan.then(hits.len(), request.limit, full_window_end);
    if let Then::WalkOn { before, rows } = then {
        let walk = Stretch::walk_on(before, rows);
        let full_walk_end = check_stretch(conn, request, &walk, &mut hits).await?;
        then = plan.after_walk_on(hits.len(), request.limit, full_walk_end);
    }
    let mut stopped = None;
    match then {
        Then::Done | Then::WalkOn { .. } => {}
        Then::Index { before, want } => {
            let older: Vec<Hit> = conn
                .rows(search_sql::index_hits(dialect, request, before, want))
                .await?;
            hits.extend(older);
        }
        Then::Stop { next } => stopped = Some(next),
    }
    let more = hits.len() as i64 > request.limit;
    hits.truncate(request.limit as usize);
    let next = match hits.last() {
        Some(last) if more => Some(last.cursor()),
        _ => stopped,
    };
    Ok((hits, next))
}

/// Checks `stretch`, adding its hits to `hits` (up to `limit + 1` in all); answers the
/// stretch's last message when it was checked whole and the page is not yet full.
async fn check_stretch<C: SearchStatements>(
    conn: &mut C,
    request: &SearchRequest,
    stretch: &Stretch,
    hits: &mut Vec<Hit>,
) -> QueryResult<Option<SearchCursor>> {
    let dialect = C::DIALECT;
    let found: Vec<Hit> = conn
        .rows(search_sql::window_hits(dialect, request, stretch))
        .await?;
    hits.extend(found);
    if hits.len() as i64 > request.limit {
        return Ok(None);
    }
    Ok(conn
        .rows::<Hit>(search_sql::window_end(dialect, request, stretch))
        .await?
        .into_iter()
        .next()
        .map(|hit| hit.cursor()))
}

impl Store {
    /// `search`. `NotMember` for a `room` the user is not a member of; `before_seq`
    /// without `room`, or a `limit` outside 1 to 50, is `OutOfRange`.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchPage, ConversationError> {
        self.search_within(request, SearchLimits::default()).await
    }

    /// `search` with other [`SearchLimits`] than the server's (tests use small ones to
    /// take every step on a small store). The answers are the same, except that a query
    /// of only short words may end a page early (with a `next`) at another point.
    pub async fn search_within(
        &self,
        request: SearchRequest,
        limits: SearchLimits,
    ) -> Result<SearchPage, ConversationError> {
        if !(1..=MAX_SEARCH_PAGE).contains(&request.limit) {
            return Err(ConversationError::OutOfRange(format!(
                "limit must be 1 to {MAX_SEARCH_PAGE}"
            )));
        }
        if request.before_seq.is_some() && request.room.is_none() {
            return Err(ConversationError::OutOfRange(
                "before_seq needs room".into(),
            ));
        }
        self.run(move |db| async move {
            Ok(with_conn!(&*db, conn => {
                conn.transaction::<SearchPage, ConversationError, _>(async move |conn| {
                    conn.snapshot().await?;
                    if let Some(room) = request.room {
                        let member: bool = diesel::select(diesel::dsl::exists(
                            members::table.find((room, request.user)),
                        ))
                        .get_result(conn)
                        .await?;
                        if !member {
                            return Err(ConversationError::NotMember);
                        }
                    }
                    let (hits, next) = page_keys(conn, &request, limits).await?;
                    let keys = hits.iter().map(|hit| (RoomId(hit.room_id), hit.seq)).collect();
                    let messages = conn.full_messages(keys).await?;
                    Ok(SearchPage { messages, next })
                })
                .await
            }))
        })
        .await?
    }
}
