//! Delivery of a room's changes (`message_updated`, section 11) in `rev` order on one node,
//! whatever way they arrive: this node's own commits (which may settle out of order), other
//! nodes' publishes over Redis (late, twice, or never), and reads of `changes` from the store.
//! The rules are those of [`super::order`] for `seq`, with one difference in how a store
//! read fills a gap: `changes` answers each message once, at its latest state, so a rev
//! whose message changed again later is not in the read at all. A read therefore covers
//! every rev up to the last one it answers (or up to the room's `last_rev`, when it is the
//! last page): each rev in that range is either in it or superseded by a later rev of the
//! same message that is.
//!
//! Pure logic, no I/O: the room feeds it what arrived and does what it asks.

use std::collections::BTreeMap;

use super::order::Fetch;

/// Something with a room `rev`.
pub trait Revised {
    fn rev(&self) -> i64;
}

impl Revised for crate::db::conversation::FullMessage {
    fn rev(&self) -> i64 {
        self.rev
    }
}

#[derive(Debug)]
pub struct RevOrder<M> {
    delivered: i64,
    /// The highest rev known to be committed (from a change, the room row or a read).
    known: i64,
    held: BTreeMap<i64, M>,
    hold_limit: usize,
    /// A store read on its way; a second one is not asked for meanwhile.
    fetching: bool,
}

impl<M: Revised> RevOrder<M> {
    /// Starts with every rev up to `delivered` taken as delivered.
    pub fn new(delivered: i64, hold_limit: usize) -> RevOrder<M> {
        RevOrder {
            delivered,
            known: delivered,
            held: BTreeMap::new(),
            hold_limit: hold_limit.max(1),
            fetching: false,
        }
    }

    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    pub fn known(&self) -> i64 {
        self.known
    }

    /// Changes in any order; returns those now deliverable, in rev order.
    pub fn offer(&mut self, changes: impl IntoIterator<Item = M>) -> Vec<M> {
        for change in changes {
            let rev = change.rev();
            self.known = self.known.max(rev);
            if rev <= self.delivered {
                continue;
            }
            if self.held.len() >= self.hold_limit && !self.held.contains_key(&rev) {
                // Too far behind to hold more: the store read brings the latest of it.
                self.held.clear();
                continue;
            }
            self.held.insert(rev, change);
        }
        self.drain()
    }

    /// The room row says revs up to `last` are committed.
    pub fn committed_upto(&mut self, last: i64) {
        self.known = self.known.max(last);
    }

    /// The `changes` read to start now, if any: after what was delivered, up to what is
    /// known committed, unless a read is on its way.
    pub fn fetch(&mut self) -> Option<Fetch> {
        if self.fetching || self.known <= self.delivered {
            return None;
        }
        self.fetching = true;
        Some(Fetch {
            after: self.delivered,
            upto: self.known,
        })
    }

    /// A `changes` page after the fetch's `after` came back: each message once at its
    /// latest state, by rev ascending; `has_more` and `last_rev` as the store answered.
    /// Returns what to deliver now, in rev order.
    pub fn fetched(&mut self, page: Vec<M>, has_more: bool, last_rev: i64) -> Vec<M> {
        self.fetching = false;
        self.known = self.known.max(last_rev);
        let covered = match (has_more, page.last()) {
            (true, Some(last)) => last.rev(),
            _ => last_rev,
        };
        let mut ready: Vec<M> = page
            .into_iter()
            .filter(|change| change.rev() > self.delivered)
            .collect();
        self.delivered = self.delivered.max(covered);
        if let Some(last) = ready.last() {
            self.delivered = self.delivered.max(last.rev());
        }
        let delivered = self.delivered;
        self.held.retain(|rev, _| *rev > delivered);
        ready.extend(self.drain());
        ready
    }

    /// Takes every rev up to `rev` as delivered without delivering it (no connection is
    /// joined, or they were closed to resume by themselves).
    pub fn skip_to(&mut self, rev: i64) {
        self.fetching = false;
        self.delivered = self.delivered.max(rev);
        self.known = self.known.max(rev);
        let delivered = self.delivered;
        self.held.retain(|held, _| *held > delivered);
    }

    /// A store read failed: the next [`fetch`](Self::fetch) asks again.
    pub fn fetch_failed(&mut self) {
        self.fetching = false;
    }

    fn drain(&mut self) -> Vec<M> {
        let mut ready = Vec::new();
        while let Some(entry) = self.held.first_entry() {
            let rev = *entry.key();
            if rev <= self.delivered {
                entry.remove();
            } else if rev == self.delivered + 1 {
                self.delivered = rev;
                ready.push(entry.remove());
            } else {
                break;
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change: (message, rev).
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct C(i64, i64);

    impl Revised for C {
        fn rev(&self) -> i64 {
            self.1
        }
    }

    fn revs(changes: Vec<C>) -> Vec<i64> {
        changes.into_iter().map(|c| c.1).collect()
    }

    #[test]
    fn delivers_the_next_rev_and_holds_a_later_one() {
        let mut order = RevOrder::new(2, 8);
        assert_eq!(revs(order.offer([C(1, 4)])), Vec::<i64>::new());
        assert_eq!(revs(order.offer([C(2, 3)])), [3, 4]);
        assert_eq!(revs(order.offer([C(2, 3)])), Vec::<i64>::new(), "once");
        assert_eq!(order.fetch(), None);
    }

    #[test]
    fn a_read_covers_revs_superseded_by_later_changes_of_the_same_message() {
        let mut order = RevOrder::new(0, 8);
        // Rev 1 (message 7) was lost; rev 3 (message 9) arrived.
        assert!(order.offer([C(9, 3)]).is_empty());
        assert_eq!(order.fetch(), Some(Fetch { after: 0, upto: 3 }));
        // Message 7 changed again at rev 2: `changes` answers it once, at rev 2, and 9 at 3.
        assert_eq!(
            revs(order.fetched(vec![C(7, 2), C(9, 3)], false, 3)),
            [2, 3]
        );
        assert_eq!(order.delivered(), 3);
        // The late publish of rev 1 is dropped.
        assert!(order.offer([C(7, 1)]).is_empty());
    }

    #[test]
    fn a_page_with_more_covers_up_to_its_last_rev_and_asks_for_the_rest() {
        let mut order = RevOrder::new(0, 8);
        order.committed_upto(6);
        assert_eq!(order.fetch(), Some(Fetch { after: 0, upto: 6 }));
        assert_eq!(revs(order.fetched(vec![C(1, 2), C(2, 3)], true, 6)), [2, 3]);
        assert_eq!(order.fetch(), Some(Fetch { after: 3, upto: 6 }));
        assert_eq!(revs(order.fetched(vec![C(3, 6)], false, 6)), [6]);
        assert_eq!(order.fetch(), None);
    }

    #[test]
    fn an_empty_last_page_covers_up_to_the_rooms_last_rev() {
        let mut order: RevOrder<C> = RevOrder::new(0, 8);
        order.committed_upto(2);
        assert!(order.fetch().is_some());
        assert!(order.fetched(Vec::new(), false, 2).is_empty());
        assert_eq!(order.delivered(), 2);
    }
}
