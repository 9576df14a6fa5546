//! Property tests of the posting pipeline: random interleavings of pushes (`client_msg_id`s
//! repeated, posts the store refuses, pushes over the queue bound), settles (committed, or
//! failed whole), other nodes' commits whose publishes arrive late, twice, out of order or
//! never, checks of the room row, gap reads (whole, a short page, failed) with and without
//! joined connections, on new and restarted rooms, against a model of the store: a log of
//! committed messages and the first seq of each `client_msg_id`.
//!
//! After every step: the pipeline has delivered exactly what the model has (nothing twice,
//! no seq skipped unless the pipeline was told no one listens), every delivered message is
//! the committed one, and it is idle exactly when the model has nothing queued or in flight.
//! At the end, with everything settled and read, every post was answered once, in the order
//! it came, and every committed seq was delivered or skipped once.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;
use crate::db::models::{MessageRow, UserKind, UserRow};
use crate::error::ErrorCode;
use crate::model::{RoomId, UserId};

const ROOM: RoomId = RoomId(7);
/// Posts that may wait behind the batch in flight.
const QUEUE_LIMIT: usize = 4;
/// This node's users post; another node's messages come from `OTHER`.
const OURS: UserId = UserId(1);
const OTHER: UserId = UserId(2);

#[derive(Clone, Debug)]
enum Step {
    /// A post from this node: one of three `client_msg_id`s or none; `bad` names a file
    /// the sender did not upload (the store refuses that post alone).
    Push {
        client_msg_id: Option<u8>,
        bad: bool,
    },
    /// The store answers the batch in flight: every outcome, or one error for all of it.
    Settle { fail: bool },
    /// Another node commits `count` messages; their publishes are on their way.
    Elsewhere { count: u8 },
    /// Publishes on their way reach this node, in the order of `picks`; with `again` they
    /// may come once more later.
    Arrive { picks: Vec<u8>, again: bool },
    /// A publish on its way is lost (Redis dropped it).
    Lose { pick: u8 },
    /// The periodic check of the room row: the last committed seq.
    CheckRow,
    /// The room asks what to read; `listening`: whether any connection has joined.
    Gap { listening: bool },
    /// The read on its way comes back with at most `page` messages, or fails.
    Read { page: u8, fail: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (prop::option::of(0u8..3), prop::bool::weighted(0.15))
            .prop_map(|(client_msg_id, bad)| Step::Push { client_msg_id, bad }),
        3 => prop::bool::weighted(0.2).prop_map(|fail| Step::Settle { fail }),
        2 => (1u8..4).prop_map(|count| Step::Elsewhere { count }),
        2 => (prop::collection::vec(any::<u8>(), 1..4), any::<bool>())
            .prop_map(|(picks, again)| Step::Arrive { picks, again }),
        1 => any::<u8>().prop_map(|pick| Step::Lose { pick }),
        1 => Just(Step::CheckRow),
        2 => prop::bool::weighted(0.85).prop_map(|listening| Step::Gap { listening }),
        2 => (1u8..5, prop::bool::weighted(0.2)).prop_map(|(page, fail)| Step::Read { page, fail }),
    ]
}

fn user(id: UserId) -> UserRow {
    UserRow {
        id,
        name: format!("u{}", id.0),
        kind: UserKind::User,
        handle: None,
        created_ms: 0,
    }
}

fn message(seq: i64, sender: UserId, body: String, client_msg_id: Option<String>) -> StoredMessage {
    StoredMessage {
        reply_to: None,
        mentions: Vec::new(),
        row: MessageRow {
            room_id: ROOM,
            seq,
            sender_id: sender,
            body,
            template: None,
            client_msg_id,
            action: None,
            created_ms: seq,
        },
        sender: user(sender),
        files: Vec::new(),
    }
}

/// A post as the model knows it; its waiter is its index in `World::posts`.
struct Posted {
    client_msg_id: Option<String>,
    bad: bool,
    answer: Option<Result<i64, ErrorCode>>,
}

struct World {
    pipeline: Pipeline<usize>,
    /// The room's committed messages: `log[i]` has seq `i + 1`.
    log: Vec<StoredMessage>,
    /// The seq of the first message with each of this node's `client_msg_id`s.
    first: HashMap<String, i64>,
    posts: Vec<Posted>,
    /// Waiters of posts queued behind the batch in flight, and of the batch in flight.
    queued: Vec<usize>,
    in_flight: Option<Vec<usize>>,
    /// Publishes on their way to this node.
    publishes: Vec<StoredMessage>,
    /// The gap read on its way: after, count.
    read: Option<(i64, i64)>,
    /// The highest seq the pipeline was shown committed (a message, the room row, a read):
    /// what it must read up to, or skip to.
    known: i64,
    /// The last seq delivered or skipped: the next delivery must be the one after it.
    upto: i64,
    /// Waiters in the order their posts were answered by settles.
    settled_order: Vec<usize>,
}

impl World {
    fn new(last_seq: i64, inherited: Option<i64>) -> World {
        let mut pipeline = Pipeline::new(QUEUE_LIMIT, inherited);
        pipeline.loaded(last_seq);
        let log: Vec<StoredMessage> = (1..=last_seq)
            .map(|seq| message(seq, OTHER, format!("before {seq}"), None))
            .collect();
        // A new room has delivered what is stored; a restarted one what its predecessor did.
        let upto = inherited.map_or(last_seq, |seq| seq.min(last_seq));
        assert_eq!(pipeline.delivered_seq(), upto);
        World {
            pipeline,
            log,
            first: HashMap::new(),
            posts: Vec::new(),
            queued: Vec::new(),
            in_flight: None,
            publishes: Vec::new(),
            read: None,
            known: last_seq,
            upto,
            settled_order: Vec::new(),
        }
    }

    fn last_seq(&self) -> i64 {
        self.log.len() as i64
    }

    fn run(&mut self, step: &Step) {
        match step {
            Step::Push { client_msg_id, bad } => {
                self.push(client_msg_id.map(|n| format!("c-{n}")), *bad)
            }
            Step::Settle { fail } => self.settle(*fail),
            Step::Elsewhere { count } => {
                for _ in 0..*count {
                    let seq = self.last_seq() + 1;
                    let committed = message(seq, OTHER, format!("elsewhere {seq}"), None);
                    self.log.push(committed.clone());
                    self.publishes.push(committed);
                }
            }
            Step::Arrive { picks, again } => {
                let mut arriving = Vec::new();
                for pick in picks {
                    if self.publishes.is_empty() {
                        break;
                    }
                    let index = usize::from(*pick) % self.publishes.len();
                    arriving.push(match again {
                        true => self.publishes[index].clone(),
                        false => self.publishes.remove(index),
                    });
                }
                self.saw(&arriving);
                let deliveries = self.pipeline.arrive(arriving);
                self.delivered(&deliveries);
            }
            Step::Lose { pick } => {
                if !self.publishes.is_empty() {
                    let index = usize::from(*pick) % self.publishes.len();
                    self.publishes.remove(index);
                }
            }
            Step::CheckRow => {
                self.known = self.last_seq();
                self.pipeline.committed_upto(self.last_seq());
            }
            Step::Gap { listening } => self.gap(*listening),
            Step::Read { page, fail } => self.read(i64::from(*page), *fail),
        }
        assert_eq!(self.pipeline.delivered_seq(), self.upto, "after {step:?}");
        let idle = self.queued.is_empty() && self.in_flight.is_none();
        assert_eq!(self.pipeline.is_idle(), idle, "after {step:?}");
    }

    fn push(&mut self, client_msg_id: Option<String>, bad: bool) {
        let waiter = self.posts.len();
        let post = NewPost {
            client_msg_id: client_msg_id.clone(),
            files: match bad {
                true => vec!["0".repeat(32)],
                false => Vec::new(),
            },
            ..NewPost::text(ROOM, user(OURS), format!("post {waiter}"))
        };
        self.posts.push(Posted {
            client_msg_id,
            bad,
            answer: None,
        });
        match self.pipeline.push(post, waiter) {
            Err(refused) => {
                assert_eq!(self.queued.len(), QUEUE_LIMIT, "refused below the bound");
                assert_eq!(refused.waiter, waiter);
                assert_eq!(refused.error.code, ErrorCode::Unavailable);
                self.answer(waiter, Err(ErrorCode::Unavailable));
            }
            Ok(batch) => {
                assert!(self.queued.len() < QUEUE_LIMIT, "taken over the bound");
                match (&self.in_flight, batch) {
                    (None, Some(batch)) => {
                        self.in_flight = Some(self.check_batch(&batch, vec![waiter]));
                    }
                    (Some(_), None) => self.queued.push(waiter),
                    (None, None) => panic!("nothing in flight, yet the post waits"),
                    (Some(_), Some(_)) => panic!("a second batch while one is in flight"),
                }
            }
        }
    }

    /// `batch` holds the posts of `waiters`, in their order; returns the waiters.
    fn check_batch(&self, batch: &Batch, waiters: Vec<usize>) -> Vec<usize> {
        assert!(batch.posts.len() <= QUEUE_LIMIT, "a batch over the bound");
        let bodies: Vec<&str> = batch.posts.iter().map(|post| post.body.as_str()).collect();
        let expected: Vec<String> = waiters.iter().map(|w| format!("post {w}")).collect();
        assert_eq!(
            bodies, expected,
            "the batch is not the posts in the order they came"
        );
        waiters
    }

    /// The store commits the batch in flight (or fails it), as the writer would.
    fn settle(&mut self, fail: bool) {
        let Some(waiters) = self.in_flight.take() else {
            return; // The room settles only a batch it handed to the store.
        };
        let mut expected = Vec::new();
        let mut new = Vec::new();
        let result = match fail {
            true => {
                expected = vec![Err(ErrorCode::Unavailable); waiters.len()];
                Err(StoreError::Unavailable("connection refused".into()))
            }
            false => Ok(waiters
                .iter()
                .map(|&waiter| {
                    let posted = &self.posts[waiter];
                    if posted.bad {
                        expected.push(Err(ErrorCode::NotFound));
                        return Err(StoreError::NotFound("file"));
                    }
                    if let Some(seq) = posted
                        .client_msg_id
                        .as_ref()
                        .and_then(|c| self.first.get(c))
                    {
                        expected.push(Ok(*seq));
                        return Ok(Appended::Duplicate(self.log[*seq as usize - 1].clone()));
                    }
                    let seq = self.log.len() as i64 + 1;
                    let stored = message(
                        seq,
                        OURS,
                        format!("post {waiter}"),
                        posted.client_msg_id.clone(),
                    );
                    if let Some(client_msg_id) = &posted.client_msg_id {
                        self.first.insert(client_msg_id.clone(), seq);
                    }
                    self.log.push(stored.clone());
                    new.push(stored.clone());
                    expected.push(Ok(seq));
                    Ok(Appended::New(stored))
                })
                .collect()),
        };
        self.saw(&new);
        let settled = self.pipeline.settle(result);
        let answered: Vec<usize> = settled.answers.iter().map(|(waiter, _)| *waiter).collect();
        assert_eq!(answered, waiters, "every post of the batch, in its order");
        for ((waiter, answer), expected) in settled.answers.iter().zip(expected) {
            let got = match answer {
                Ok(message) => {
                    assert_eq!(
                        message,
                        &self.log[message.row.seq as usize - 1],
                        "not the stored one"
                    );
                    Ok(message.row.seq)
                }
                Err(err) => Err(err.code),
            };
            assert_eq!(got, expected, "post {waiter}");
            self.settled_order.push(*waiter);
            self.answer(*waiter, got);
        }
        assert_eq!(
            settled.committed, new,
            "committed: the new messages, in seq order"
        );
        if fail {
            assert!(settled.deliveries.is_empty(), "a failed commit delivered");
        }
        // This node's commits are published too, and may come back.
        self.publishes.extend(new);
        self.delivered(&settled.deliveries);
        if let Some(batch) = &settled.next_batch {
            let queued = std::mem::take(&mut self.queued);
            self.in_flight = Some(self.check_batch(batch, queued));
        } else {
            assert!(self.queued.is_empty(), "posts queued, yet no batch started");
        }
    }

    /// What the pipeline was shown committed.
    fn saw(&mut self, messages: &[StoredMessage]) {
        let highest = messages.iter().map(|message| message.row.seq).max();
        self.known = self.known.max(highest.unwrap_or(0));
    }

    fn gap(&mut self, listening: bool) {
        let before = self.pipeline.delivered_seq();
        // A gap the pipeline was shown is read (one read at a time), up to the highest seq
        // it knows committed; with no one listening, skipped.
        let missing = self.read.is_none() && self.known > self.upto;
        match self.pipeline.gap(listening) {
            Some(Gap::Read { after, count }) => {
                assert!(listening, "a read for no one");
                assert!(missing, "a read with one on its way, or of nothing missing");
                assert_eq!(after + count, self.known, "a read short of what is known");
                assert_eq!(
                    after, self.upto,
                    "a read that does not start after the last delivered"
                );
                assert!((1..=MAX_REPLAY).contains(&count));
                assert!(
                    after + count <= self.last_seq(),
                    "a read past what is committed"
                );
                self.read = Some((after, count));
            }
            Some(Gap::TooFar { behind }) => {
                assert!(listening && behind > MAX_REPLAY);
                assert_eq!(self.pipeline.delivered_seq(), before + behind);
                self.skipped();
            }
            None if listening => {
                assert!(
                    !missing,
                    "a gap from {} to {} not read",
                    self.upto, self.known
                );
                assert_eq!(self.pipeline.delivered_seq(), before);
            }
            None => {
                self.skipped();
                if missing {
                    assert_eq!(self.upto, self.known, "skipped short of what is known");
                }
            }
        }
    }

    /// The pipeline skipped what no one would receive: never past what is committed.
    fn skipped(&mut self) {
        let now = self.pipeline.delivered_seq();
        assert!(
            now >= self.upto && now <= self.last_seq(),
            "skipped to {now}"
        );
        self.upto = now;
    }

    fn read(&mut self, page: i64, fail: bool) {
        let Some((after, count)) = self.read.take() else {
            return;
        };
        if fail {
            self.pipeline.fetch_failed();
            return;
        }
        let end = (after + count.min(page)).min(self.last_seq());
        let messages = self.log[after as usize..end as usize].to_vec();
        self.saw(&messages);
        let deliveries = self.pipeline.fetched(messages);
        self.delivered(&deliveries);
    }

    fn delivered(&mut self, deliveries: &[StoredMessage]) {
        for delivered in deliveries {
            let seq = delivered.row.seq;
            assert_eq!(seq, self.upto + 1, "delivered {seq} after {}", self.upto);
            assert!(seq <= self.last_seq(), "delivered {seq}, not committed");
            assert_eq!(
                delivered,
                &self.log[seq as usize - 1],
                "not the committed message"
            );
            self.upto = seq;
        }
    }

    fn answer(&mut self, waiter: usize, answer: Result<i64, ErrorCode>) {
        let posted = &mut self.posts[waiter];
        assert_eq!(posted.answer, None, "post {waiter} answered twice");
        posted.answer = Some(answer);
    }

    /// Everything settles and connections listen: every post is answered, every committed
    /// message delivered (or skipped, when no one listened), in a bounded number of rounds.
    fn finish(&mut self) {
        while self.in_flight.is_some() {
            self.settle(false);
        }
        assert!(self.pipeline.is_idle());
        for (waiter, posted) in self.posts.iter().enumerate() {
            assert!(posted.answer.is_some(), "post {waiter} never answered");
        }
        assert!(
            self.settled_order.windows(2).all(|pair| pair[0] < pair[1]),
            "answered out of order: {:?}",
            self.settled_order
        );
        // A client_msg_id is answered with the first message sent with it, every time.
        for (waiter, posted) in self.posts.iter().enumerate() {
            if let (Some(client_msg_id), Some(Ok(seq))) = (&posted.client_msg_id, posted.answer) {
                assert_eq!(Some(&seq), self.first.get(client_msg_id), "post {waiter}");
            }
        }
        let rounds = self.log.len() + 2;
        for _ in 0..rounds {
            if self.upto == self.last_seq() {
                break;
            }
            self.read(i64::MAX, false);
            self.known = self.last_seq();
            self.pipeline.committed_upto(self.last_seq());
            self.gap(true);
            self.read(i64::MAX, false);
        }
        assert_eq!(
            self.upto,
            self.last_seq(),
            "committed messages never delivered"
        );
        assert_eq!(self.pipeline.gap(true), None);
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 512,
        // Failures are kept as unit tests in tests.rs, not in files beside the source.
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn posts_are_answered_once_and_committed_messages_delivered_once_in_seq_order(
        last_seq in 0i64..4,
        inherited in prop::option::of(0i64..4),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut world = World::new(last_seq, inherited);
        for step in &steps {
            world.run(step);
        }
        world.finish();
    }
}
