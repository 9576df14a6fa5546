//! The statements of `search`, for each backend (docs/conversations.md, "Search"): the
//! size of the caller's scope, the window (the newest messages of the scope, each checked
//! directly; the walk on after it is one more such stretch), where a full stretch ended,
//! and the index step for older messages (SQLite:
//! the FTS5 trigram table `message_search`; PostgreSQL: the pg_trgm GIN index on
//! `lower(body)`). Every statement orders by (`created_ms`, `room_id`, `seq`) descending.

use super::search_plan::{Plan, SearchRequest, Walk};
use crate::model::RoomId;

/// A stretch of the caller's messages, newest first: the window, or the walk on after it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stretch {
    pub walk: Walk,
    /// Only messages older than this.
    pub after: Option<SearchCursor>,
    /// Messages checked at most.
    pub size: i64,
}

impl Stretch {
    /// The first step of `plan`.
    pub fn window(request: &SearchRequest, plan: &Plan) -> Stretch {
        Stretch {
            walk: plan.walk,
            after: request.after,
            size: plan.window,
        }
    }

    /// `rows` more, older than `before` (always by time: the window did not hold the scope).
    pub fn walk_on(before: SearchCursor, rows: i64) -> Stretch {
        Stretch {
            walk: Walk::ByTime,
            after: Some(before),
            size: rows,
        }
    }
}
use crate::conversation::SearchCursor;

/// The SQL dialect a statement is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    /// `?` placeholders, bound in text order; words checked with `palaver_fold`.
    Sqlite,
    /// `$n` placeholders; words checked with `lower(body) LIKE`.
    Postgres,
}

/// A value bound to a placeholder.
#[derive(Clone, Debug)]
pub(super) enum Bind {
    Int(i64),
    Text(String),
}

/// One statement and its values, in placeholder order.
pub(super) struct Statement {
    pub sql: String,
    pub binds: Vec<Bind>,
}

const NEWEST_FIRST: &str = "ORDER BY m.created_ms DESC, m.room_id DESC, m.seq DESC";

/// Gathers a statement's values and writes their placeholders. Callers write the SQL in
/// text order, so SQLite's positional `?` get the right values.
struct Binder {
    dialect: Dialect,
    binds: Vec<Bind>,
}

impl Binder {
    fn new(dialect: Dialect) -> Binder {
        Binder {
            dialect,
            binds: Vec::new(),
        }
    }

    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        match self.dialect {
            Dialect::Sqlite => "?".into(),
            Dialect::Postgres => format!("${}", self.binds.len()),
        }
    }

    fn int(&mut self, value: i64) -> String {
        self.bind(Bind::Int(value))
    }

    fn text(&mut self, value: &str) -> String {
        self.bind(Bind::Text(value.to_string()))
    }

    fn done(self, sql: String) -> Statement {
        Statement {
            sql,
            binds: self.binds,
        }
    }

    /// The condition that `m`'s body holds every word of the query: the definition
    /// ([`crate::conversation::SearchQuery::matches`]) on SQLite, `lower() LIKE` on
    /// PostgreSQL (what its index serves).
    fn every_word(&mut self, request: &SearchRequest) -> String {
        let dialect = self.dialect;
        let conditions: Vec<String> = match dialect {
            Dialect::Sqlite => request
                .query
                .words()
                .iter()
                .map(|word| format!("instr(palaver_fold(m.body), {}) > 0", self.text(word)))
                .collect(),
            Dialect::Postgres => request
                .query
                .like_patterns()
                .iter()
                .map(|pattern| format!("lower(m.body) LIKE lower({})", self.text(pattern)))
                .collect(),
        };
        conditions.join(" AND ")
    }

    /// `room`, `before_seq`, older than `after`, never a deleted message, and never one of
    /// someone the caller blocks (section 13).
    fn scope(&mut self, request: &SearchRequest, after: Option<SearchCursor>) -> Vec<String> {
        let mut conditions = Vec::new();
        if let Some(RoomId(room)) = request.room {
            conditions.push(format!("m.room_id = {}", self.int(room)));
        }
        if let Some(before) = request.before_seq {
            conditions.push(format!("m.seq < {}", self.int(before)));
        }
        if let Some(after) = after {
            // The first half lets the planner use the index on `created_ms`.
            conditions.push(format!("m.created_ms <= {}", self.int(after.created_ms)));
            let created = self.int(after.created_ms);
            let room = self.int(after.room_id);
            let seq = self.int(after.seq);
            conditions.push(format!(
                "(m.created_ms, m.room_id, m.seq) < ({created}, {room}, {seq})"
            ));
        }
        conditions.push("NOT m.deleted".into());
        let blocker = self.int(request.user.0);
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM blocks k WHERE k.blocker_id = {blocker} \
             AND k.blocked_id = m.sender_id)"
        ));
        conditions
    }

    /// The caller's messages newest first, from `stretch`, with `columns` (already bound) in
    /// front of the key (no `LIMIT`: the caller adds it). SQLite is told the order of the join (by time:
    /// `messages_by_age` first, by name, as with an `OFFSET` it would rather sort the whole
    /// table; by room: the caller's memberships first); PostgreSQL's planner chooses from
    /// its statistics.
    fn window(&mut self, request: &SearchRequest, stretch: &Stretch, columns: &str) -> String {
        let from = match (self.dialect, stretch.walk) {
            (Dialect::Sqlite, Walk::ByTime) => {
                "FROM messages m INDEXED BY messages_by_age CROSS JOIN members b"
            }
            (Dialect::Sqlite, Walk::ByRoom) => "FROM members b CROSS JOIN messages m",
            (Dialect::Postgres, _) => "FROM messages m, members b",
        };
        let mut conditions = vec![
            "b.room_id = m.room_id".to_string(),
            format!("b.user_id = {}", self.int(request.user.0)),
        ];
        conditions.extend(self.scope(request, stretch.after));
        format!(
            "SELECT m.room_id AS room_id, m.seq AS seq, m.created_ms AS created_ms{columns} \
             {from} WHERE {} {NEWEST_FIRST}",
            conditions.join(" AND ")
        )
    }
}

/// How many messages the caller's rooms (or `room`) hold at most: the sum of their
/// `last_seq` (deleted messages included), as `n`.
pub(super) fn scope_size(dialect: Dialect, request: &SearchRequest) -> Statement {
    let mut binder = Binder::new(dialect);
    let sum = "CAST(COALESCE(SUM(r.last_seq), 0) AS BIGINT) AS n";
    let sql = match request.room {
        Some(RoomId(room)) => format!(
            "SELECT {sum} FROM rooms r WHERE r.id = {}",
            binder.int(room)
        ),
        None => format!(
            "SELECT {sum} FROM members b JOIN rooms r ON r.id = b.room_id WHERE b.user_id = {}",
            binder.int(request.user.0)
        ),
    };
    binder.done(sql)
}

/// The stretch's hits, newest first, at most `limit + 1`.
pub(super) fn window_hits(
    dialect: Dialect,
    request: &SearchRequest,
    stretch: &Stretch,
) -> Statement {
    let mut binder = Binder::new(dialect);
    let hit = format!(", ({}) AS hit", binder.every_word(request));
    let window = binder.window(request, stretch, &hit);
    let size = binder.int(stretch.size);
    let limit = binder.int(request.limit + 1);
    binder.done(format!(
        "SELECT w.room_id AS room_id, w.seq AS seq, w.created_ms AS created_ms \
         FROM ({window} LIMIT {size}) w WHERE w.hit \
         ORDER BY w.created_ms DESC, w.room_id DESC, w.seq DESC LIMIT {limit}"
    ))
}

/// The stretch's last message when the stretch is full (no row when the scope ended
/// first).
pub(super) fn window_end(
    dialect: Dialect,
    request: &SearchRequest,
    stretch: &Stretch,
) -> Statement {
    let mut binder = Binder::new(dialect);
    let window = binder.window(request, stretch, "");
    let offset = binder.int(stretch.size - 1);
    binder.done(format!("{window} LIMIT 1 OFFSET {offset}"))
}

/// The index step: up to `want` hits older than `before`, from the backend's text index.
pub(super) fn index_hits(
    dialect: Dialect,
    request: &SearchRequest,
    before: SearchCursor,
    want: i64,
) -> Statement {
    let mut binder = Binder::new(dialect);
    match dialect {
        // FTS5 gives the messages holding every long word (its rowid is the key
        // `room_id * 2^32 + seq`), and the messages not indexed yet
        // (`message_search_pending`, `search_index.rs`) are candidates too; each is then
        // checked against the definition, so both steps answer alike.
        Dialect::Sqlite => {
            let expression = request.query.fts5_match().unwrap_or_default();
            let matched = binder.text(&expression);
            let user = binder.int(request.user.0);
            let mut conditions = vec![binder.every_word(request)];
            conditions.extend(binder.scope(request, Some(before)));
            let limit = binder.int(want);
            binder.done(format!(
                "SELECT m.room_id AS room_id, m.seq AS seq, m.created_ms AS created_ms \
                 FROM (SELECT rowid AS key FROM message_search WHERE message_search MATCH {matched} \
                 UNION SELECT key FROM message_search_pending) c \
                 JOIN messages m ON m.room_id = (c.key >> 32) AND m.seq = (c.key & 4294967295) \
                 JOIN members b ON b.room_id = m.room_id AND b.user_id = {user} \
                 WHERE {} {NEWEST_FIRST} LIMIT {limit}",
                conditions.join(" AND ")
            ))
        }
        // The GIN index finds the rows (a bitmap scan); the CTE keeps the planner from
        // walking `messages_by_age` instead, which is the window's way and slow for a
        // rare word.
        Dialect::Postgres => {
            let mut conditions = vec![binder.every_word(request)];
            conditions.extend(binder.scope(request, Some(before)));
            let user = binder.int(request.user.0);
            let limit = binder.int(want);
            binder.done(format!(
                "WITH found AS MATERIALIZED (\
                 SELECT m.room_id, m.seq, m.created_ms FROM messages m WHERE {}) \
                 SELECT m.room_id AS room_id, m.seq AS seq, m.created_ms AS created_ms \
                 FROM found m JOIN members b ON b.room_id = m.room_id AND b.user_id = {user} \
                 {NEWEST_FIRST} LIMIT {limit}",
                conditions.join(" AND ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::search_plan::SearchLimits;
    use super::*;
    use crate::conversation::SearchQuery;
    use crate::model::UserId;

    fn request(query: &str, room: Option<i64>, after: bool) -> SearchRequest {
        SearchRequest {
            user: UserId(7),
            query: SearchQuery::parse(query).unwrap_or_else(|e| panic!("{e}")),
            room: room.map(RoomId),
            before_seq: room.map(|_| 50),
            after: after.then_some(SearchCursor {
                created_ms: 9,
                room_id: 3,
                seq: 4,
            }),
            limit: 20,
        }
    }

    fn plan(request: &SearchRequest, scope: i64) -> Stretch {
        Stretch::window(
            request,
            &Plan::new(&request.query, scope, SearchLimits::default()),
        )
    }

    fn placeholders_match(statement: &Statement, dialect: Dialect) {
        match dialect {
            Dialect::Sqlite => {
                assert_eq!(statement.sql.matches('?').count(), statement.binds.len())
            }
            Dialect::Postgres => {
                for n in 1..=statement.binds.len() {
                    assert!(
                        statement.sql.contains(&format!("${n}")),
                        "${n}: {}",
                        statement.sql
                    );
                }
                let over = format!("${}", statement.binds.len() + 1);
                assert!(!statement.sql.contains(&over), "{}", statement.sql);
            }
        }
    }

    #[test]
    fn every_statement_binds_one_value_per_placeholder() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            for request in [
                request("넓이 triangle", Some(3), true),
                request("넓이", None, false),
                request("triangle", None, true),
            ] {
                for scope in [10, 1_000_000] {
                    let plan = plan(&request, scope);
                    placeholders_match(&window_hits(dialect, &request, &plan), dialect);
                    placeholders_match(&window_end(dialect, &request, &plan), dialect);
                }
                let before = SearchCursor {
                    created_ms: 8,
                    room_id: 1,
                    seq: 1,
                };
                placeholders_match(&index_hits(dialect, &request, before, 5), dialect);
                placeholders_match(&scope_size(dialect, &request), dialect);
            }
        }
    }

    #[test]
    fn sqlite_binds_in_text_order() {
        let request = request("넓이 triangle", Some(3), true);
        let hits = window_hits(Dialect::Sqlite, &request, &plan(&request, 1_000_000));
        assert!(
            hits.sql
                .contains("FROM messages m INDEXED BY messages_by_age CROSS JOIN members b"),
            "{}",
            hits.sql
        );
        assert!(hits.sql.contains("instr(palaver_fold(m.body), ?) > 0"));
        assert!(matches!(&hits.binds[0], Bind::Text(word) if word == "triangle"));
        assert!(matches!(&hits.binds[1], Bind::Text(word) if word == "넓이"));
        assert!(matches!(&hits.binds[2], Bind::Int(7)), "the user");
        assert!(matches!(hits.binds[hits.binds.len() - 2], Bind::Int(4096)));
        assert!(
            matches!(hits.binds.last(), Some(Bind::Int(21))),
            "one more row"
        );

        let small = window_hits(Dialect::Sqlite, &request, &plan(&request, 10));
        assert!(small.sql.contains("FROM members b CROSS JOIN messages m"));

        let before = SearchCursor {
            created_ms: 8,
            room_id: 1,
            seq: 1,
        };
        let index = index_hits(Dialect::Sqlite, &request, before, 5);
        assert!(
            index.sql.contains("message_search MATCH ?"),
            "{}",
            index.sql
        );
        assert!(matches!(&index.binds[0], Bind::Text(text) if text == "\"triangle\""));
        assert!(
            matches!(&index.binds[1], Bind::Int(7)),
            "the user, in the join"
        );
        assert!(
            index
                .sql
                .contains("UNION SELECT key FROM message_search_pending"),
            "messages not indexed yet are candidates too: {}",
            index.sql
        );
        assert!(index
            .sql
            .contains("(m.created_ms, m.room_id, m.seq) < (?, ?, ?)"));
        assert!(matches!(index.binds.last(), Some(Bind::Int(5))));
    }

    #[test]
    fn the_walk_on_goes_by_time_from_where_the_window_ended() {
        let request = request("넓이 triangle", None, false);
        let before = SearchCursor {
            created_ms: 8,
            room_id: 1,
            seq: 1,
        };
        let walk = Stretch::walk_on(before, 9000);
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let hits = window_hits(dialect, &request, &walk);
            placeholders_match(&hits, dialect);
            let ints: Vec<i64> = (hits.binds.iter())
                .filter_map(|bind| match bind {
                    Bind::Int(value) => Some(*value),
                    Bind::Text(_) => None,
                })
                .collect();
            assert_eq!(ints, [7, 8, 8, 1, 1, 7, 9000, 21], "{}", hits.sql);
            let end = window_end(dialect, &request, &walk);
            assert!(matches!(end.binds.last(), Some(Bind::Int(8999))));
        }
        let sqlite = window_hits(Dialect::Sqlite, &request, &walk);
        assert!(sqlite.sql.contains("INDEXED BY messages_by_age"));
    }

    #[test]
    fn postgres_asks_its_index_behind_a_fence() {
        let request = request("넓이 triangle", None, false);
        let before = SearchCursor {
            created_ms: 8,
            room_id: 1,
            seq: 1,
        };
        let index = index_hits(Dialect::Postgres, &request, before, 5);
        assert!(
            index.sql.starts_with("WITH found AS MATERIALIZED"),
            "{}",
            index.sql
        );
        assert!(index.sql.contains("lower(m.body) LIKE lower($1)"));
        let end = window_end(Dialect::Postgres, &request, &plan(&request, 1_000_000));
        assert!(end.sql.ends_with("LIMIT 1 OFFSET $3"), "{}", end.sql);
        assert!(
            end.sql
                .contains("NOT EXISTS (SELECT 1 FROM blocks k WHERE k.blocker_id = $2"),
            "the caller's blocks are left out: {}",
            end.sql
        );
        assert!(matches!(end.binds[1], Bind::Int(7)));
        assert!(matches!(end.binds[2], Bind::Int(4095)));
    }
}
