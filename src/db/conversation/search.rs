//! `search`: messages whose body contains every word of the query, in the caller's rooms,
//! newest first, never a deleted one. Each backend answers from its own text index
//! (docs/conversations.md): SQLite from the FTS5 trigram table `message_search` (kept in
//! step by triggers), PostgreSQL from the pg_trgm GIN index on `lower(body)`. Words of one
//! or two code points, which no trigram index serves, are checked on what the index found
//! (SQLite with `palaver_fold`, the server's own folding, registered on every connection).

use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryResult;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::ConversationError;
use super::load::ConversationReads;
use super::lookups::Snapshot;
use super::{FullMessage, MAX_SEARCH_PAGE};
use crate::conversation::{fold, SearchCursor, SearchQuery};
use crate::db::backend::{PgConn, SqliteConn};
use crate::db::schema::members;
use crate::db::store::Store;
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

/// A `search` as the store runs it (the protocol layer has checked the query's text).
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub user: i64,
    pub query: SearchQuery,
    /// Only this room (the user must be a member).
    pub room: Option<i64>,
    /// Only messages before this `seq` (with `room` only).
    pub before_seq: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<SearchCursor>,
    /// 1 to 50.
    pub limit: i64,
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

/// A value bound to a placeholder of the search statement.
#[derive(Clone, Debug)]
enum Bind {
    Int(i64),
    Text(String),
}

/// The search statement of one backend and its values, in placeholder order.
struct Statement {
    sql: String,
    binds: Vec<Bind>,
}

/// Gathers a statement's values and writes their placeholders, in text order (SQLite's
/// `?` are positional).
struct Binder {
    binds: Vec<Bind>,
    numbered: bool,
}

impl Binder {
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        if self.numbered {
            format!("${}", self.binds.len())
        } else {
            "?".into()
        }
    }
}

/// The parts both backends share: membership, the room and `before_seq`, the cursor, the
/// senders the user blocks, the order and the limit (`limit + 1` rows: one more says there
/// is a next page). `words` gives the backend's `FROM` and its conditions for the words.
fn statement(
    request: &SearchRequest,
    numbered: bool,
    words: impl FnOnce(&mut Binder) -> (&'static str, Vec<String>),
) -> Statement {
    let mut binder = Binder {
        binds: Vec::new(),
        numbered,
    };
    let user = binder.bind(Bind::Int(request.user));
    let (from, mut conditions) = words(&mut binder);
    if let Some(room) = request.room {
        let room = binder.bind(Bind::Int(room));
        conditions.push(format!("m.room_id = {room}"));
    }
    if let Some(before) = request.before_seq {
        let before = binder.bind(Bind::Int(before));
        conditions.push(format!("m.seq < {before}"));
    }
    if let Some(after) = request.after {
        let created = binder.bind(Bind::Int(after.created_ms));
        let room = binder.bind(Bind::Int(after.room_id));
        let seq = binder.bind(Bind::Int(after.seq));
        conditions.push(format!(
            "(m.created_ms, m.room_id, m.seq) < ({created}, {room}, {seq})"
        ));
    }
    conditions.push("NOT m.deleted".into());
    // Section 13: never the messages of someone the user blocks.
    let blocker = binder.bind(Bind::Int(request.user));
    conditions.push(format!(
        "NOT EXISTS (SELECT 1 FROM blocks k WHERE k.blocker_id = {blocker} \
         AND k.blocked_id = m.sender_id)"
    ));
    let limit = binder.bind(Bind::Int(request.limit + 1));
    Statement {
        sql: format!(
            "SELECT m.room_id AS room_id, m.seq AS seq, m.created_ms AS created_ms {from} \
             JOIN members b ON b.room_id = m.room_id AND b.user_id = {user} \
             WHERE {} ORDER BY m.created_ms DESC, m.room_id DESC, m.seq DESC LIMIT {limit}",
            conditions.join(" AND ")
        ),
        binds: binder.binds,
    }
}

/// SQLite: the FTS5 table gives the messages holding every long word (its rowid is
/// `room_id * 2^32 + seq`); short words are checked on those with `instr`.
fn sqlite_statement(request: &SearchRequest) -> Statement {
    statement(request, false, |binder| {
        let mut conditions = Vec::new();
        let from = match request.query.fts5_match() {
            Some(expression) => {
                let expression = binder.bind(Bind::Text(expression));
                conditions.push(format!("message_search MATCH {expression}"));
                "FROM message_search JOIN messages m \
                 ON m.room_id = (message_search.rowid >> 32) \
                 AND m.seq = (message_search.rowid & 4294967295)"
            }
            None => "FROM messages m",
        };
        for word in request.query.short() {
            let word = binder.bind(Bind::Text(word.to_string()));
            conditions.push(format!("instr(palaver_fold(m.body), {word}) > 0"));
        }
        (from, conditions)
    })
}

/// PostgreSQL: `lower(body) LIKE '%word%'` for every word; the GIN index serves the long
/// ones, the short ones are checked on what it found.
fn postgres_statement(request: &SearchRequest) -> Statement {
    statement(request, true, |binder| {
        let conditions = request
            .query
            .like_patterns()
            .into_iter()
            .map(|pattern| {
                let pattern = binder.bind(Bind::Text(pattern));
                format!("lower(m.body) LIKE lower({pattern})")
            })
            .collect();
        ("FROM messages m", conditions)
    })
}

/// Runs the backend's search statement.
trait SearchHits {
    fn hits(
        &mut self,
        request: &SearchRequest,
    ) -> impl Future<Output = QueryResult<Vec<Hit>>> + Send;
}

impl SearchHits for PgConn {
    async fn hits(&mut self, request: &SearchRequest) -> QueryResult<Vec<Hit>> {
        let statement = postgres_statement(request);
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

impl SearchHits for SqliteConn {
    fn hits(
        &mut self,
        request: &SearchRequest,
    ) -> impl Future<Output = QueryResult<Vec<Hit>>> + Send {
        let statement = sqlite_statement(request);
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

impl Store {
    /// `search`. `NotMember` for a `room` the user is not a member of; `before_seq`
    /// without `room`, or a `limit` outside 1 to 50, is `OutOfRange`.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchPage, ConversationError> {
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
                    let mut hits = conn.hits(&request).await?;
                    let more = hits.len() as i64 > request.limit;
                    hits.truncate(request.limit as usize);
                    let next = hits.last().filter(|_| more).map(|hit| SearchCursor {
                        created_ms: hit.created_ms,
                        room_id: hit.room_id,
                        seq: hit.seq,
                    });
                    let keys = hits.iter().map(|hit| (hit.room_id, hit.seq)).collect();
                    let messages = conn.full_messages(keys).await?;
                    Ok(SearchPage { messages, next })
                })
                .await
            }))
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, room: Option<i64>, after: bool) -> SearchRequest {
        SearchRequest {
            user: 7,
            query: SearchQuery::parse(query).unwrap_or_else(|e| panic!("{e}")),
            room,
            before_seq: room.map(|_| 50),
            after: after.then_some(SearchCursor {
                created_ms: 9,
                room_id: 3,
                seq: 4,
            }),
            limit: 20,
        }
    }

    #[test]
    fn sqlite_asks_the_index_for_long_words_and_checks_short_ones() {
        let statement = sqlite_statement(&request("넓이 triangle", Some(3), true));
        assert!(
            statement.sql.contains("message_search MATCH ?"),
            "{}",
            statement.sql
        );
        assert!(statement.sql.contains("instr(palaver_fold(m.body), ?) > 0"));
        assert!(statement
            .sql
            .contains("(m.created_ms, m.room_id, m.seq) < (?, ?, ?)"));
        assert_eq!(statement.sql.matches('?').count(), statement.binds.len());
        assert!(
            matches!(&statement.binds[0], Bind::Int(7)),
            "the user, in the join"
        );
        assert!(matches!(&statement.binds[1], Bind::Text(text) if text == "\"triangle\""));
        assert!(
            matches!(statement.binds.last(), Some(Bind::Int(21))),
            "one more row"
        );
    }

    #[test]
    fn sqlite_without_long_words_reads_the_rooms_of_the_user() {
        let statement = sqlite_statement(&request("넓이", None, false));
        assert!(!statement.sql.contains("MATCH"), "{}", statement.sql);
        assert!(statement.sql.starts_with("SELECT m.room_id AS room_id"));
        assert!(statement.sql.contains("FROM messages m JOIN members b"));
    }

    #[test]
    fn postgres_numbers_its_placeholders_in_bind_order() {
        let statement = postgres_statement(&request("넓이 triangle", Some(3), true));
        for n in 1..=statement.binds.len() {
            assert!(
                statement.sql.contains(&format!("${n}")),
                "${n}: {}",
                statement.sql
            );
        }
        assert!(!statement
            .sql
            .contains(&format!("${}", statement.binds.len() + 1)));
        assert!(statement.sql.contains("b.user_id = $1"));
        assert!(statement.sql.contains("lower(m.body) LIKE lower($2)"));
    }
}
