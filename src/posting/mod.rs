//! A room's posting pipeline as a pure state machine, no actor and no I/O (the model is
//! `db/writer.rs`'s `plan`): posts queue while one batch is being committed, the next batch
//! starts when that one settles, every post is answered in the order it came, and only
//! committed messages are delivered, strictly in `seq` order, whichever way they arrive (this
//! node's commits, other nodes' publishes, reads of a gap from the store: [`Order`]).
//!
//! The room actor (`actors/room/posting.rs`) does what it is told: it hands a [`Batch`] to
//! the store, feeds the outcome to [`Pipeline::settle`], writes the answers, delivers the
//! messages and reads the [`Gap`] it is asked to read. `W` is whoever waits for a post's
//! answer (a connection, or a bot or the admin API waiting for the stored message).
//!
//! Changes to existing messages (section 11) are delivered by the same rules in `rev` order
//! ([`rev_order`]).

pub mod order;
#[cfg(test)]
mod properties;
pub mod rev_order;
#[cfg(test)]
mod rev_properties;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use self::order::Order;
use crate::db::models::StoredMessage;
use crate::db::{Appended, NewPost, Outcome, StoreError};
use crate::error::ProtoError;

/// Messages held while an earlier one is missing (read from the store meanwhile).
pub const HOLD_LIMIT: usize = 1024;

/// Most messages a room replays to its joined connections from the store at once; past
/// that they are closed with 4002 and resume with `join` + `after_seq` themselves.
pub const MAX_REPLAY: i64 = 1000;

/// Posts to commit together, in the order they were pushed.
#[derive(Debug)]
pub struct Batch {
    pub posts: Vec<NewPost>,
}

/// A post the pipeline did not take: its queue is full.
#[derive(Debug)]
pub struct Refused<W> {
    pub waiter: W,
    pub error: ProtoError,
}

/// What a settled batch asks the room to do, in this order.
#[derive(Debug)]
pub struct Settled<W> {
    /// Every post of the batch with its answer, in the order the posts came: the stored
    /// message (the first one for a repeated `client_msg_id`) or why it was not stored.
    pub answers: Vec<(W, Result<StoredMessage, ProtoError>)>,
    /// The messages this batch stored new (no duplicates), in seq order: for the other
    /// nodes and the room's bot.
    pub committed: Vec<StoredMessage>,
    /// The messages to deliver to the joined connections now, in seq order (held ones that
    /// now follow on included).
    pub deliveries: Vec<StoredMessage>,
    /// The next batch, if posts queued while this one was committed.
    pub next_batch: Option<Batch>,
}

/// A range of committed messages this node has not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// Read up to `count` messages after seq `after` from the store and hand them to
    /// [`Pipeline::fetched`] (or [`Pipeline::fetch_failed`]).
    Read { after: i64, count: i64 },
    /// `behind` messages are too many to replay: close the joined connections (4002) so
    /// that they resume by themselves; the pipeline has skipped them.
    TooFar { behind: i64 },
}

#[derive(Debug)]
pub struct Pipeline<W> {
    /// Posts waiting for the batch in flight to settle.
    queue: VecDeque<(NewPost, W)>,
    queue_limit: usize,
    /// Who waits for the batch being committed, in its order; `None` when none is.
    in_flight: Option<Vec<W>>,
    /// What has been delivered to the joined connections, and what arrived out of order.
    order: Order<StoredMessage>,
    /// Set on a room restarted after a crash: the last seq its predecessor delivered.
    inherited_seq: Option<i64>,
}

impl<W> Pipeline<W> {
    /// A pipeline that queues at most `queue_limit` posts behind the batch in flight.
    /// `inherited_seq` is the last seq a crashed predecessor delivered, if there was one.
    pub fn new(queue_limit: usize, inherited_seq: Option<i64>) -> Pipeline<W> {
        Pipeline {
            queue: VecDeque::new(),
            queue_limit,
            in_flight: None,
            order: Order::new(0, HOLD_LIMIT),
            inherited_seq,
        }
    }

    /// The room was read from the store with `last_seq` committed: a new room has delivered
    /// it all (no one has joined yet); a restarted one still delivers what its predecessor
    /// did not (see [`gap`](Self::gap)).
    pub fn loaded(&mut self, last_seq: i64) {
        let delivered = self.inherited_seq.take().unwrap_or(last_seq).min(last_seq);
        self.order = Order::new(delivered, HOLD_LIMIT);
        self.order.committed_upto(last_seq);
    }

    /// The last seq delivered to the joined connections.
    pub fn delivered_seq(&self) -> i64 {
        self.order.delivered()
    }

    /// No post is queued or being committed.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_none()
    }

    /// A post to store. Starts a batch of it when none is in flight (the room hands the
    /// batch to the store), queues it otherwise; refuses it when the queue is full.
    pub fn push(&mut self, post: NewPost, waiter: W) -> Result<Option<Batch>, Refused<W>> {
        if self.queue.len() >= self.queue_limit {
            return Err(Refused {
                waiter,
                error: ProtoError::unavailable(
                    "too many messages are waiting for the store in this room; retry",
                ),
            });
        }
        self.queue.push_back((post, waiter));
        Ok(self.start_batch())
    }

    /// The store's answer to the batch in flight: one outcome per post, or an error that
    /// failed the whole batch. A post the store refused fails alone.
    pub fn settle(&mut self, result: Result<Vec<Outcome>, StoreError>) -> Settled<W> {
        let Some(waiters) = self.in_flight.take() else {
            // Only the room's commit of a batch from `push` or `settle` comes here.
            log::error!("a store outcome came with no batch in flight; it answers no one");
            return Settled {
                answers: Vec::new(),
                committed: Vec::new(),
                deliveries: Vec::new(),
                next_batch: self.start_batch(),
            };
        };
        let mut outcomes = match result {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(err) => vec![Err(err); waiters.len()],
        }
        .into_iter();
        let mut answers = Vec::with_capacity(waiters.len());
        let mut committed = Vec::new();
        let mut duplicate_upto = 0;
        for waiter in waiters {
            let answer = match outcomes.next() {
                Some(Ok(Ok(Appended::New(message)))) => {
                    committed.push(message.clone());
                    Ok(message)
                }
                Some(Ok(Ok(Appended::Duplicate(message)))) => {
                    duplicate_upto = duplicate_upto.max(message.row.seq);
                    Ok(message)
                }
                Some(Ok(Err(err)) | Err(err)) => Err(ProtoError::from(err)),
                None => Err(ProtoError::internal(
                    "the store gave no outcome for this post",
                )),
            };
            answers.push((waiter, answer));
        }
        committed.sort_by_key(|message| message.row.seq);
        // A repeated client_msg_id may name a message this room never delivered: one stored
        // by a batch whose answer came too late (answered `unavailable`, committed anyway).
        // Its seq says so, and `gap` then reads it from the store.
        if duplicate_upto > 0 {
            self.order.committed_upto(duplicate_upto);
        }
        let deliveries = self.order.offer(committed.clone());
        Settled {
            answers,
            committed,
            deliveries,
            next_batch: self.start_batch(),
        }
    }

    /// Committed messages from another node (or this one), in any order: returns those to
    /// deliver now, in seq order. A gap they reveal is asked for by [`gap`](Self::gap).
    pub fn arrive(&mut self, messages: Vec<StoredMessage>) -> Vec<StoredMessage> {
        self.order.offer(messages)
    }

    /// The store (or another node) says seqs up to `last_seq` are committed.
    pub fn committed_upto(&mut self, last_seq: i64) {
        self.order.committed_upto(last_seq);
    }

    /// The store read the room should make now, if any. `listening` is whether any
    /// connection has joined: with none, what is missing is skipped (a connection that joins
    /// reads history itself).
    pub fn gap(&mut self, listening: bool) -> Option<Gap> {
        let fetch = self.order.fetch()?;
        let behind = fetch.upto - fetch.after;
        if !listening || behind > MAX_REPLAY {
            self.order.skip_to(fetch.upto);
            return listening.then_some(Gap::TooFar { behind });
        }
        Some(Gap::Read {
            after: fetch.after,
            count: behind,
        })
    }

    /// The read of a [`Gap::Read`] came back (ascending, possibly a short page): returns
    /// what to deliver now. The rest, if any, is the next [`gap`](Self::gap).
    pub fn fetched(&mut self, messages: Vec<StoredMessage>) -> Vec<StoredMessage> {
        self.order.fetched(messages)
    }

    /// The read of a [`Gap::Read`] failed: the next [`gap`](Self::gap) asks again.
    pub fn fetch_failed(&mut self) {
        self.order.fetch_failed();
    }

    fn start_batch(&mut self) -> Option<Batch> {
        if self.in_flight.is_some() || self.queue.is_empty() {
            return None;
        }
        let (posts, waiters) = self.queue.drain(..).unzip();
        self.in_flight = Some(waiters);
        Some(Batch { posts })
    }
}
