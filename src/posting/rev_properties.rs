//! Property tests of [`RevOrder`](super::rev_order::RevOrder), next to the seq ones
//! (`properties.rs`): random interleavings of changes committed to a room (by this node or
//! another), their publishes arriving late, twice, out of order or never, checks of the
//! room row, and `changes` reads (whole, short pages, failed), against a model of the store:
//! each message's latest rev, from which `changes` answers as the store does (each message
//! once, at its latest state, by rev ascending).
//!
//! After every step: what was delivered goes strictly up in rev, and each delivered change
//! is a state the store really had. At the end, with every publish arrived or lost and the
//! gaps read, every message's latest state was delivered (nothing missed), unless no one
//! was listening.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::order::Fetch;
use super::rev_order::{RevOrder, Revised};

const MESSAGES: u8 = 4;
const HOLD: usize = 3;

/// A change: the message and the rev it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Changed {
    message: u8,
    rev: i64,
}

impl Revised for Changed {
    fn rev(&self) -> i64 {
        self.rev
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// A change to `message` commits; its publish is on its way.
    Commit { message: u8 },
    /// Publishes on their way arrive in the order of `picks`; with `again`, they may come
    /// once more later.
    Arrive { picks: Vec<u8>, again: bool },
    /// A publish on its way is lost.
    Lose { pick: u8 },
    /// The periodic check of the room row's `last_rev`.
    CheckRow,
    /// The room asks what to read.
    Gap,
    /// The read on its way comes back with at most `page` messages, or fails.
    Read { page: u8, fail: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..MESSAGES).prop_map(|message| Step::Commit { message }),
        3 => (prop::collection::vec(any::<u8>(), 1..4), any::<bool>())
            .prop_map(|(picks, again)| Step::Arrive { picks, again }),
        1 => any::<u8>().prop_map(|pick| Step::Lose { pick }),
        1 => Just(Step::CheckRow),
        2 => Just(Step::Gap),
        2 => (1u8..4, prop::bool::weighted(0.2)).prop_map(|(page, fail)| Step::Read { page, fail }),
    ]
}

/// The store: every change ever made, and each message's latest rev.
#[derive(Default)]
struct Store {
    log: Vec<Changed>,
    latest: HashMap<u8, i64>,
}

impl Store {
    fn last_rev(&self) -> i64 {
        self.log.len() as i64
    }

    fn commit(&mut self, message: u8) -> Changed {
        let change = Changed {
            message,
            rev: self.last_rev() + 1,
        };
        self.log.push(change);
        self.latest.insert(message, change.rev);
        change
    }

    /// `changes(after, limit)` as the store answers it.
    fn changes(&self, after: i64, limit: usize) -> (Vec<Changed>, bool, i64) {
        let mut changed: Vec<Changed> = self
            .latest
            .iter()
            .filter(|(_, rev)| **rev > after)
            .map(|(message, rev)| Changed {
                message: *message,
                rev: *rev,
            })
            .collect();
        changed.sort_by_key(|change| change.rev);
        let has_more = changed.len() > limit;
        changed.truncate(limit);
        (changed, has_more, self.last_rev())
    }
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut store = Store::default();
    let mut order: RevOrder<Changed> = RevOrder::new(0, HOLD);
    let mut on_the_way: Vec<Changed> = Vec::new();
    let mut reading: Option<Fetch> = None;
    let mut delivered: Vec<Changed> = Vec::new();
    let check = |out: Vec<Changed>, delivered: &mut Vec<Changed>, store: &Store| {
        for change in out {
            if let Some(last) = delivered.last() {
                prop_assert!(
                    change.rev > last.rev,
                    "rev order: {change:?} after {last:?}"
                );
            }
            prop_assert_eq!(store.log.get(change.rev as usize - 1), Some(&change));
            delivered.push(change);
        }
        Ok(())
    };
    for step in steps {
        let out = match step {
            Step::Commit { message } => {
                on_the_way.push(store.commit(message));
                Vec::new()
            }
            Step::Arrive { picks, again } => {
                let mut arriving = Vec::new();
                for pick in picks {
                    if on_the_way.is_empty() {
                        break;
                    }
                    let at = pick as usize % on_the_way.len();
                    let change = if again {
                        on_the_way[at]
                    } else {
                        on_the_way.remove(at)
                    };
                    arriving.push(change);
                }
                order.offer(arriving)
            }
            Step::Lose { pick } => {
                if !on_the_way.is_empty() {
                    let at = pick as usize % on_the_way.len();
                    on_the_way.remove(at);
                }
                Vec::new()
            }
            Step::CheckRow => {
                order.committed_upto(store.last_rev());
                Vec::new()
            }
            Step::Gap => {
                if reading.is_none() {
                    reading = order.fetch();
                }
                Vec::new()
            }
            Step::Read { page, fail } => match reading.take() {
                None => Vec::new(),
                Some(_) if fail => {
                    order.fetch_failed();
                    Vec::new()
                }
                Some(fetch) => {
                    let (page, has_more, last_rev) = store.changes(fetch.after, page as usize);
                    order.fetched(page, has_more, last_rev)
                }
            },
        };
        check(out, &mut delivered, &store)?;
    }
    // Settle: every publish still on its way arrives, then the room row is checked and the
    // gaps are read until none is left.
    let out = order.offer(std::mem::take(&mut on_the_way));
    check(out, &mut delivered, &store)?;
    if let Some(_reading) = reading.take() {
        order.fetch_failed();
    }
    order.committed_upto(store.last_rev());
    let mut reads = 0;
    while let Some(fetch) = order.fetch() {
        let (page, has_more, last_rev) = store.changes(fetch.after, 2);
        let out = order.fetched(page, has_more, last_rev);
        check(out, &mut delivered, &store)?;
        reads += 1;
        prop_assert!(reads <= 1000, "reads end");
    }
    prop_assert_eq!(order.delivered(), store.last_rev());
    for (message, latest) in &store.latest {
        let seen = delivered
            .iter()
            .filter(|change| change.message == *message)
            .map(|change| change.rev)
            .max();
        prop_assert_eq!(
            seen,
            Some(*latest),
            "message {} missed its latest state",
            message
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(512))]

    #[test]
    fn every_latest_state_is_delivered_once_in_rev_order(
        steps in prop::collection::vec(step(), 0..60)
    ) {
        run(steps)?;
    }
}
