//! A `search` query: 2 to 200 code points, split at whitespace into words, each folded to
//! lower case. A message matches when its folded body contains every word (a substring
//! match, so any script works, Korean included). Words of 3 code points or more can be
//! served by the stores' trigram indexes; shorter ones are checked on the messages read
//! (`db/conversation/search_plan.rs` says which steps a page takes).
//! Also the `next` cursor of a result page.

use std::fmt;
use std::str::FromStr;

use super::fold;

/// Fewest and most code points of a query.
pub const MIN_QUERY_CODE_POINTS: usize = 2;
pub const MAX_QUERY_CODE_POINTS: usize = 200;
/// Shortest word a trigram index can serve.
pub const INDEXED_WORD: usize = 3;

/// Why a query is refused (`bad_request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("query is shorter than {MIN_QUERY_CODE_POINTS} code points")]
    TooShort,
    #[error("query is longer than {MAX_QUERY_CODE_POINTS} code points")]
    TooLong,
    #[error("query has no words (only whitespace)")]
    NoWords,
}

/// A checked query: its distinct folded words, none contained in another (a word inside
/// another adds nothing), longest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    pub fn parse(text: &str) -> Result<SearchQuery, QueryError> {
        let count = text.chars().count();
        if count < MIN_QUERY_CODE_POINTS {
            return Err(QueryError::TooShort);
        }
        if count > MAX_QUERY_CODE_POINTS {
            return Err(QueryError::TooLong);
        }
        let mut words: Vec<String> = text.split_whitespace().map(fold).collect();
        if words.is_empty() {
            return Err(QueryError::NoWords);
        }
        words.sort_by(|a, b| {
            b.chars()
                .count()
                .cmp(&a.chars().count())
                .then_with(|| a.cmp(b))
        });
        words.dedup();
        let mut kept: Vec<String> = Vec::with_capacity(words.len());
        for word in words {
            if !kept.iter().any(|longer| longer.contains(word.as_str())) {
                kept.push(word);
            }
        }
        Ok(SearchQuery { words: kept })
    }

    /// Every word, folded, longest first.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The words a trigram index serves (3 code points or more).
    pub fn indexed(&self) -> impl Iterator<Item = &str> {
        self.words
            .iter()
            .filter(|word| word.chars().count() >= INDEXED_WORD)
            .map(String::as_str)
    }

    /// The words no trigram index serves (1 or 2 code points).
    pub fn short(&self) -> impl Iterator<Item = &str> {
        self.words
            .iter()
            .filter(|word| word.chars().count() < INDEXED_WORD)
            .map(String::as_str)
    }

    /// Whether `body` matches: its folded text contains every word. The definition the
    /// stores' queries implement (and the tests check them against).
    pub fn matches(&self, body: &str) -> bool {
        let folded = fold(body);
        self.words.iter().all(|word| folded.contains(word.as_str()))
    }

    /// SQLite FTS5's MATCH expression for the indexed words (`"abc" AND "def"`, each a
    /// phrase, `"` doubled), or `None` when every word is short.
    pub fn fts5_match(&self) -> Option<String> {
        let phrases: Vec<String> = self
            .indexed()
            .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
            .collect();
        (!phrases.is_empty()).then(|| phrases.join(" AND "))
    }

    /// A `LIKE` pattern for each word, `%word%`, with `\` escaping `\`, `%` and `_`.
    pub fn like_patterns(&self) -> Vec<String> {
        self.words.iter().map(|word| like_pattern(word)).collect()
    }
}

/// `%word%`, with `\`, `%` and `_` escaped by `\` (PostgreSQL's default `LIKE` escape).
pub fn like_pattern(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 2);
    pattern.push('%');
    for c in word.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Where a page of search results ended: results come newest first, ordered by
/// (`created_ms`, `room_id`, `seq`) descending; the next page starts after this one.
/// Written `created.room.seq` (the wire's `next`, opaque to clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SearchCursor {
    pub created_ms: i64,
    pub room_id: i64,
    pub seq: i64,
}

impl fmt::Display for SearchCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.created_ms, self.room_id, self.seq)
    }
}

/// A text that is not a cursor this server wrote (`bad_request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a search cursor (pass the `next` of the previous page as it was)")]
pub struct BadCursor;

impl FromStr for SearchCursor {
    type Err = BadCursor;

    fn from_str(text: &str) -> Result<SearchCursor, BadCursor> {
        let mut parts = text.split('.');
        let mut number = || -> Result<i64, BadCursor> {
            let part = parts.next().ok_or(BadCursor)?;
            // Digits only, no sign, no leading zero: one text per cursor.
            if part.is_empty()
                || !part.bytes().all(|b| b.is_ascii_digit())
                || (part.len() > 1 && part.starts_with('0'))
            {
                return Err(BadCursor);
            }
            part.parse().map_err(|_| BadCursor)
        };
        let cursor = SearchCursor {
            created_ms: number()?,
            room_id: number()?,
            seq: number()?,
        };
        match parts.next() {
            None => Ok(cursor),
            Some(_) => Err(BadCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str) -> Vec<String> {
        SearchQuery::parse(text)
            .map(|q| q.words)
            .unwrap_or_default()
    }

    #[test]
    fn a_query_is_2_to_200_code_points_with_a_word() {
        assert_eq!(SearchQuery::parse("x"), Err(QueryError::TooShort));
        assert_eq!(SearchQuery::parse(""), Err(QueryError::TooShort));
        assert_eq!(SearchQuery::parse("  "), Err(QueryError::NoWords));
        assert_eq!(SearchQuery::parse("\u{3000}\n\t"), Err(QueryError::NoWords));
        assert!(SearchQuery::parse("넓이").is_ok(), "2 code points, 6 bytes");
        assert!(SearchQuery::parse(&"가".repeat(200)).is_ok());
        assert_eq!(
            SearchQuery::parse(&"가".repeat(201)),
            Err(QueryError::TooLong)
        );
    }

    #[test]
    fn words_are_folded_distinct_and_not_inside_another() {
        assert_eq!(words("Triangle  AREA area"), vec!["triangle", "area"]);
        assert_eq!(words("삼각형의 넓이"), vec!["삼각형의", "넓이"]);
        assert_eq!(words("tri triangle ANGLE a"), vec!["triangle"]);
        assert_eq!(words("x=3 X"), vec!["x=3"]);
    }

    #[test]
    fn short_words_are_not_given_to_the_index() {
        let query = SearchQuery::parse("넓이 triangle ab").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(query.indexed().collect::<Vec<_>>(), vec!["triangle"]);
        assert_eq!(query.short().collect::<Vec<_>>(), vec!["ab", "넓이"]);
        assert_eq!(query.fts5_match().as_deref(), Some("\"triangle\""));
        let short = SearchQuery::parse("넓이").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(short.fts5_match(), None);
    }

    #[test]
    fn fts5_phrases_and_like_patterns_are_escaped() {
        let query = SearchQuery::parse("say\"hi 100%_\\").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            query.fts5_match().as_deref(),
            Some("\"100%_\\\" AND \"say\"\"hi\"")
        );
        assert_eq!(query.like_patterns(), vec!["%100\\%\\_\\\\%", "%say\"hi%"]);
    }

    #[test]
    fn matching_is_case_insensitive_substring_in_any_script() {
        let query = SearchQuery::parse("넓이").unwrap_or_else(|e| panic!("{e}"));
        assert!(query.matches("삼각형의 넓이는?"));
        assert!(!query.matches("삼각형"));
        let query = SearchQuery::parse("ÉTÉ x²").unwrap_or_else(|e| panic!("{e}"));
        assert!(query.matches("L'été, x² + 1"));
        assert!(!query.matches("L'été, x3"));
    }

    #[test]
    fn cursors_read_back_what_they_wrote_and_nothing_else() {
        let cursor = SearchCursor {
            created_ms: 1_765_000_000_123,
            room_id: 3,
            seq: 120,
        };
        assert_eq!(cursor.to_string(), "1765000000123.3.120");
        assert_eq!("1765000000123.3.120".parse(), Ok(cursor));
        for bad in [
            "", "1.2", "1.2.3.4", "-1.2.3", "01.2.3", "1.2.x", "1..3", "+1.2.3",
        ] {
            assert_eq!(bad.parse::<SearchCursor>(), Err(BadCursor), "{bad:?}");
        }
        assert_eq!(
            "99999999999999999999.1.1".parse::<SearchCursor>(),
            Err(BadCursor)
        );
    }

    fn text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just("넓이".to_string()),
            Just("삼각형의".to_string()),
            Just("Area".to_string()),
            Just("x²".to_string()),
            Just(" ".to_string()),
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(pieces, 0..12).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn a_parsed_query_matches_as_its_words_do(query in text(), body in text()) {
            if let Ok(parsed) = SearchQuery::parse(&query) {
                let every_word = query
                    .split_whitespace()
                    .all(|word| fold(&body).contains(&fold(word)));
                prop_assert_eq!(parsed.matches(&body), every_word);
                prop_assert!(parsed.words().iter().all(|word| !word.is_empty()));
                prop_assert_eq!(
                    parsed.indexed().count() + parsed.short().count(),
                    parsed.words().len()
                );
            }
        }

        #[test]
        fn a_cursor_survives_its_text(created in 0i64.., room in 0i64.., seq in 0i64..) {
            let cursor = SearchCursor { created_ms: created, room_id: room, seq };
            prop_assert_eq!(cursor.to_string().parse::<SearchCursor>(), Ok(cursor));
        }
    }
}
