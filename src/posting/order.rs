//! Delivery in `seq` order for one room on one node, whatever way its messages arrive: the
//! node's own commits, other nodes' publishes over Redis (late, twice, or never), and reads
//! from the store. Pure logic, no I/O: the room feeds it what arrived and does what it asks
//! (deliver these, read that range from the store).
//!
//! It keeps `delivered`, the last seq handed to the room's connections. A message at
//! `delivered + 1` is delivered (with whatever held messages then follow on); a lower one
//! was delivered already and is dropped; a higher one is held (at most `hold_limit`) and
//! the gap is read from the store. Holding more than that drops what is held: the store
//! read covers it. Because PostgreSQL commits a room's seq N before N+1 (the room row lock),
//! once seq M is known committed every seq below it can be read from the store.

use std::collections::BTreeMap;

/// Something with a room seq.
pub trait Sequenced {
    fn seq(&self) -> i64;
}

impl Sequenced for crate::db::models::StoredMessage {
    fn seq(&self) -> i64 {
        self.row.seq
    }
}

/// A range the room should read from the store: seqs `after + 1 ..= upto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetch {
    pub after: i64,
    pub upto: i64,
}

#[derive(Debug)]
pub struct Order<M> {
    delivered: i64,
    /// The highest seq known to be committed (from a message, a check of the room row or
    /// a store read).
    known: i64,
    held: BTreeMap<i64, M>,
    hold_limit: usize,
    /// A store read on its way, up to this seq; a second one is not asked for meanwhile.
    fetching: Option<i64>,
}

impl<M: Sequenced> Order<M> {
    /// Starts with everything up to `delivered` already delivered.
    pub fn new(delivered: i64, hold_limit: usize) -> Order<M> {
        Order {
            delivered,
            known: delivered,
            held: BTreeMap::new(),
            hold_limit: hold_limit.max(1),
            fetching: None,
        }
    }

    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    /// Highest seq known to be committed in the room.
    pub fn known(&self) -> i64 {
        self.known
    }

    /// Messages in any order; returns those now deliverable, in seq order.
    pub fn offer(&mut self, messages: impl IntoIterator<Item = M>) -> Vec<M> {
        for message in messages {
            let seq = message.seq();
            self.known = self.known.max(seq);
            if seq <= self.delivered {
                continue;
            }
            if self.held.len() >= self.hold_limit && !self.held.contains_key(&seq) {
                // Too far behind to hold more: the store read brings all of it.
                self.held.clear();
                continue;
            }
            self.held.insert(seq, message);
        }
        self.drain()
    }

    /// The room row says seqs up to `last` are committed: on subscribe, a Redis reconnect
    /// or a dropped event (read the tail), and in the periodic check of an active room.
    pub fn committed_upto(&mut self, last: i64) {
        self.known = self.known.max(last);
    }

    /// The store read this room should start now, if any: the gap up to the highest seq
    /// known to be committed, unless a read is already on its way.
    pub fn fetch(&mut self) -> Option<Fetch> {
        if self.fetching.is_some() || self.known <= self.delivered {
            return None;
        }
        let upto = self.known;
        self.fetching = Some(upto);
        Some(Fetch {
            after: self.delivered,
            upto,
        })
    }

    /// A store read finished: `messages` are the room's messages after the read's `after`,
    /// ascending (possibly fewer than asked for: a page). Returns what is now deliverable.
    pub fn fetched(&mut self, messages: Vec<M>) -> Vec<M> {
        self.fetching = None;
        let mut ready = Vec::new();
        for message in messages {
            let seq = message.seq();
            self.known = self.known.max(seq);
            if seq == self.delivered + 1 {
                self.delivered = seq;
                self.held.remove(&seq);
                ready.push(message);
            } else if seq > self.delivered + 1 {
                // The store has a hole: cannot happen with the row lock; hold it and read again.
                self.held.insert(seq, message);
            }
        }
        ready.extend(self.drain());
        ready
    }

    /// Takes everything up to `seq` as delivered without delivering it (no connection is
    /// joined, or they were closed to resume by themselves).
    pub fn skip_to(&mut self, seq: i64) {
        self.fetching = None;
        self.delivered = self.delivered.max(seq);
        self.known = self.known.max(seq);
        let delivered = self.delivered;
        self.held.retain(|held, _| *held > delivered);
    }

    /// A store read failed: the next [`fetch`](Self::fetch) asks again.
    pub fn fetch_failed(&mut self) {
        self.fetching = None;
    }

    fn drain(&mut self) -> Vec<M> {
        let mut ready = Vec::new();
        while let Some(entry) = self.held.first_entry() {
            let seq = *entry.key();
            if seq <= self.delivered {
                entry.remove();
            } else if seq == self.delivered + 1 {
                self.delivered = seq;
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

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct M(i64);

    impl Sequenced for M {
        fn seq(&self) -> i64 {
            self.0
        }
    }

    fn seqs(messages: Vec<M>) -> Vec<i64> {
        messages.into_iter().map(|m| m.0).collect()
    }

    #[test]
    fn delivers_the_next_seq_and_drops_what_was_delivered() {
        let mut order = Order::new(4, 8);
        assert_eq!(seqs(order.offer([M(5)])), [5]);
        assert_eq!(seqs(order.offer([M(5), M(3)])), Vec::<i64>::new());
        assert_eq!(seqs(order.offer([M(6), M(7)])), [6, 7]);
        assert_eq!(order.delivered(), 7);
        assert_eq!(order.fetch(), None);
    }

    #[test]
    fn holds_a_higher_seq_and_asks_for_the_gap_once() {
        let mut order = Order::new(0, 8);
        assert_eq!(seqs(order.offer([M(3), M(4)])), Vec::<i64>::new());
        assert_eq!(order.fetch(), Some(Fetch { after: 0, upto: 4 }));
        assert_eq!(order.fetch(), None, "one read at a time");
        // The late publish of 1 arrives while the read is on its way.
        assert_eq!(seqs(order.offer([M(1)])), [1]);
        // The read returns 1..4: only 2 is new; then the held 3 and 4 follow.
        assert_eq!(seqs(order.fetched(vec![M(1), M(2), M(3), M(4)])), [2, 3, 4]);
        assert_eq!(order.delivered(), 4);
        assert_eq!(order.fetch(), None);
    }

    #[test]
    fn a_short_page_asks_for_the_rest() {
        let mut order = Order::new(0, 8);
        order.committed_upto(5);
        assert_eq!(order.fetch(), Some(Fetch { after: 0, upto: 5 }));
        assert_eq!(seqs(order.fetched(vec![M(1), M(2)])), [1, 2]);
        assert_eq!(order.fetch(), Some(Fetch { after: 2, upto: 5 }));
        assert_eq!(seqs(order.fetched(vec![M(3), M(4), M(5)])), [3, 4, 5]);
    }

    #[test]
    fn holding_is_bounded_and_the_store_covers_the_rest() {
        let mut order = Order::new(0, 3);
        assert!(order.offer((2..=10).map(M)).is_empty());
        assert!(order.held.len() <= 3);
        assert_eq!(order.fetch(), Some(Fetch { after: 0, upto: 10 }));
        let all: Vec<M> = (1..=10).map(M).collect();
        assert_eq!(seqs(order.fetched(all)), (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_read_is_asked_again() {
        let mut order: Order<M> = Order::new(0, 3);
        order.committed_upto(2);
        assert!(order.fetch().is_some());
        order.fetch_failed();
        assert_eq!(order.fetch(), Some(Fetch { after: 0, upto: 2 }));
    }

    #[test]
    fn a_check_of_the_room_row_finds_a_lost_last_message() {
        let mut order: Order<M> = Order::new(7, 3);
        order.committed_upto(7);
        assert_eq!(order.fetch(), None);
        order.committed_upto(8);
        assert_eq!(order.fetch(), Some(Fetch { after: 7, upto: 8 }));
    }
}
