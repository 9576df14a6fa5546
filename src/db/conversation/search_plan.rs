//! How one `search` page is found, as plain decisions (docs/conversations.md, "Search"):
//! first the newest messages of the caller's rooms are checked directly, newest first,
//! which answers at once for any word that is common. When the window found some hits but
//! not enough, their share says how many more messages hold the rest: if few enough, the
//! walk goes on by time through that many (words common together, which the index would
//! answer slowly: it reads every message holding each word). Only what is rare among them
//! goes to the text index, for the older messages. A query of only short words, which no
//! trigram index serves, checks a bounded number of messages per page and says where it
//! stopped. [`SearchRequest`] is what a page is asked for.

use crate::conversation::{SearchCursor, SearchQuery};
use crate::model::{RoomId, UserId};

/// A `search` as the store runs it (the protocol layer has checked the query's text).
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub user: UserId,
    pub query: SearchQuery,
    /// Only this room (the user must be a member).
    pub room: Option<RoomId>,
    /// Only messages before this `seq` (with `room` only).
    pub before_seq: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<SearchCursor>,
    /// 1 to 50.
    pub limit: i64,
}

/// How much one `search` page may look at. [`SearchLimits::default`] is what the server
/// uses; tests make them small to take every path on a small store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchLimits {
    /// The newest messages of the caller's rooms checked directly before the index is
    /// asked (a query with a word of 3 code points or more).
    pub window: i64,
    /// The most messages a query of only short words checks for one page.
    pub short_budget: i64,
    /// The most messages the walk goes on through after the window (see [`Then::WalkOn`]).
    pub walk_on: i64,
}

impl Default for SearchLimits {
    /// Measured in BENCHMARKS.md, rounds 9 and 11: a window of 4,096 costs a few
    /// milliseconds and leaves the index only words found in fewer than 1 message in 200,
    /// whose matches are few to sort; 8,192 checks of short words cost about 20 ms; the
    /// index answers two words common together in up to 500 ms, the walk on through 32,768
    /// messages in less than a tenth of that.
    fn default() -> SearchLimits {
        SearchLimits {
            window: 4096,
            short_budget: 8192,
            walk_on: 32768,
        }
    }
}

/// How the first step reads the caller's messages newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// All the messages of the caller's rooms, sorted: they are no more than the window.
    ByRoom,
    /// The store's messages by time (`messages_by_age`), keeping the caller's, until the
    /// window is full.
    ByTime,
}

/// The first step of one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Messages the first step checks at most.
    pub window: i64,
    pub walk: Walk,
    /// The query has a word an index serves: what the window leaves goes to the index.
    pub indexed: bool,
    /// [`SearchLimits::walk_on`].
    pub walk_on: i64,
}

/// What follows the first step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// The page is complete: it has one more hit than the limit, or every message of the
    /// scope was checked.
    Done,
    /// Walk on by time through at most `rows` more messages older than `before` (the
    /// window's last message), then ask [`Plan::after_walk_on`].
    WalkOn { before: SearchCursor, rows: i64 },
    /// Ask the index for `want` more hits older than `before` (the last message checked).
    Index { before: SearchCursor, want: i64 },
    /// A query of only short words used its budget: the page ends here, possibly short,
    /// and the next one starts after `next`.
    Stop { next: SearchCursor },
}

impl Plan {
    /// `scope`: how many messages the caller's rooms (or `room`) hold at most (the sum of
    /// their `last_seq`).
    pub fn new(query: &SearchQuery, scope: i64, limits: SearchLimits) -> Plan {
        let indexed = query.indexed().next().is_some();
        let window = if indexed {
            limits.window
        } else {
            limits.short_budget
        }
        .max(1);
        let walk = if scope <= window {
            Walk::ByRoom
        } else {
            Walk::ByTime
        };
        Plan {
            window,
            walk,
            indexed,
            walk_on: limits.walk_on,
        }
    }

    /// After the first step found `hits` (at most `limit + 1`): `full_window_end` is the
    /// last message the window checked when it checked `window` of them (`None` when the
    /// scope ended first).
    pub fn then(&self, hits: usize, limit: i64, full_window_end: Option<SearchCursor>) -> Then {
        let wanted = limit + 1 - hits as i64;
        match full_window_end {
            _ if wanted <= 0 => Then::Done,
            None => Then::Done,
            Some(before) if self.indexed => match self.rows_for(wanted, hits as i64) {
                Some(rows) if rows <= self.walk_on => Then::WalkOn { before, rows },
                _ => Then::Index {
                    before,
                    want: wanted,
                },
            },
            Some(next) => Then::Stop { next },
        }
    }

    /// How many messages hold `wanted` more hits all but surely, from the window's `hits`
    /// in `window` messages; `None` with no hit to tell. Hits come like a Poisson count, so
    /// the share is taken a standard deviation under what the window saw, and enough rows
    /// to expect two standard deviations over `wanted`: a walk on that just misses the last
    /// hit would leave it to the index, the slow way (BENCHMARKS.md, round 11).
    fn rows_for(&self, wanted: i64, hits: i64) -> Option<i64> {
        if hits <= 0 {
            return None;
        }
        let (wanted, hits) = (wanted as f64, hits as f64);
        let share = (hits - hits.sqrt()).max(1.0) / self.window as f64;
        let expected = wanted + 2.0 * wanted.sqrt() + 2.0;
        Some((expected / share).ceil() as i64)
    }

    /// After the walk on: the page has `hits` (at most `limit + 1` in all); `full_walk_end`
    /// is the last message the walk checked when it checked all it was asked to (`None`
    /// when the scope ended first).
    pub fn after_walk_on(
        &self,
        hits: usize,
        limit: i64,
        full_walk_end: Option<SearchCursor>,
    ) -> Then {
        let wanted = limit + 1 - hits as i64;
        match full_walk_end {
            Some(before) if wanted > 0 => Then::Index {
                before,
                want: wanted,
            },
            _ => Then::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SearchLimits = SearchLimits {
        window: 100,
        short_budget: 1000,
        walk_on: 800,
    };

    fn query(text: &str) -> SearchQuery {
        SearchQuery::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn at(seq: i64) -> SearchCursor {
        SearchCursor {
            created_ms: 5,
            room_id: 2,
            seq,
        }
    }

    #[test]
    fn a_small_scope_is_read_whole_and_a_large_one_by_time() {
        let plan = Plan::new(&query("triangle"), 100, LIMITS);
        assert_eq!(
            (plan.walk, plan.window, plan.indexed),
            (Walk::ByRoom, 100, true)
        );
        assert_eq!(
            Plan::new(&query("triangle"), 101, LIMITS).walk,
            Walk::ByTime
        );
        let short = Plan::new(&query("넓이"), 101, LIMITS);
        assert_eq!(
            (short.walk, short.window, short.indexed),
            (Walk::ByRoom, 1000, false),
            "short words get the larger budget"
        );
        assert_eq!(Plan::new(&query("넓이 x"), 1001, LIMITS).walk, Walk::ByTime);
    }

    #[test]
    fn a_full_page_or_an_exhausted_scope_ends_the_search() {
        let plan = Plan::new(&query("triangle"), 5000, LIMITS);
        assert_eq!(plan.then(21, 20, Some(at(3))), Then::Done);
        assert_eq!(plan.then(4, 20, None), Then::Done);
        let short = Plan::new(&query("넓이"), 5000, LIMITS);
        assert_eq!(short.then(21, 20, Some(at(3))), Then::Done);
        assert_eq!(short.then(0, 20, None), Then::Done);
    }

    #[test]
    fn what_the_window_leaves_goes_to_the_index_or_to_the_next_page() {
        let plan = Plan::new(&query("triangle 넓이"), 5000, LIMITS);
        assert_eq!(
            plan.then(0, 20, Some(at(3))),
            Then::Index {
                before: at(3),
                want: 21
            },
            "no hit: nothing says where the rest is"
        );
        assert_eq!(
            plan.then(2, 20, Some(at(3))),
            Then::Index {
                before: at(3),
                want: 19
            },
            "2 in 100: 19 more would take ~3,000 messages, more than the walk on may check"
        );
        let short = Plan::new(&query("넓이"), 5000, LIMITS);
        assert_eq!(short.then(4, 20, Some(at(3))), Then::Stop { next: at(3) });
    }

    #[test]
    fn hits_common_enough_in_the_window_walk_on_then_go_to_the_index() {
        let plan = Plan::new(&query("triangle 넓이"), 5000, LIMITS);
        // 10 in 100 (taken as 6.8), 11 more (expected 19.6): 288 rows.
        assert_eq!(
            plan.then(10, 20, Some(at(3))),
            Then::WalkOn {
                before: at(3),
                rows: 288
            }
        );
        assert_eq!(
            plan.then(20, 20, Some(at(3))),
            Then::WalkOn {
                before: at(3),
                rows: 33
            },
            "one more tells whether there is a next page"
        );
        assert_eq!(plan.after_walk_on(21, 20, Some(at(1))), Then::Done);
        assert_eq!(plan.after_walk_on(9, 20, None), Then::Done, "scope ended");
        assert_eq!(
            plan.after_walk_on(9, 20, Some(at(1))),
            Then::Index {
                before: at(1),
                want: 12
            }
        );
    }

    #[test]
    fn the_walk_on_never_exceeds_its_limit() {
        let plan = Plan::new(&query("triangle"), 1_000_000, LIMITS);
        for hits in 0..=20usize {
            for limit in 1..=50i64 {
                match plan.then(hits, limit, Some(at(3))) {
                    Then::WalkOn { rows, .. } => {
                        assert!((1..=LIMITS.walk_on).contains(&rows), "{hits} {limit}");
                        let wanted = limit + 1 - hits as i64;
                        assert!(
                            rows * hits as i64 >= wanted * LIMITS.window,
                            "{hits} {limit}"
                        );
                    }
                    Then::Index { want, .. } => assert_eq!(want, limit + 1 - hits as i64),
                    Then::Done => assert!(hits as i64 > limit),
                    Then::Stop { .. } => panic!("an indexed query never stops short"),
                }
            }
        }
    }

    #[test]
    fn short_words_stop_at_their_budget() {
        let short = Plan::new(&query("넓이"), 5000, LIMITS);
        assert_eq!(short.then(4, 20, Some(at(3))), Then::Stop { next: at(3) });
        assert_eq!(short.then(0, 20, Some(at(3))), Then::Stop { next: at(3) });
    }
}
