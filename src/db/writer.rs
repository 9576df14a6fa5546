//! Group commit: the one task that appends messages. It owns `seq` assignment, so a room's
//! sequence has no gaps and no repeats however many rooms and connections send at once, and
//! it folds every request that is waiting into one transaction.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use tokio::sync::{mpsc, oneshot};

use super::backend::Backend;
use super::bulk::BulkInsert;
use super::error::StoreError;
use super::models::{MessageRow, StoredMessage, UserRow};
use super::schema::{members, messages};
use crate::write_conn;

/// A message to append. `seq` and the time are the writer's to give.
#[derive(Clone, Debug)]
pub struct NewPost {
    pub room_id: i64,
    pub sender: UserRow,
    pub body: String,
    pub template: Option<String>,
    pub client_msg_id: Option<String>,
    pub action: Option<String>,
}

/// What became of one post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with a fresh `seq`.
    New(StoredMessage),
    /// Its `client_msg_id` was used before: this is the first message sent with it.
    Duplicate(StoredMessage),
}

impl Appended {
    pub fn message(&self) -> &StoredMessage {
        match self {
            Appended::New(message) | Appended::Duplicate(message) => message,
        }
    }
}

pub(crate) struct AppendJob {
    pub posts: Vec<NewPost>,
    pub reply: oneshot::Sender<Result<Vec<Appended>, StoreError>>,
}

/// Largest number of messages folded into one transaction.
pub const MAX_BATCH: usize = 1024;

pub(crate) async fn run(backend: Arc<Backend>, mut jobs_rx: mpsc::Receiver<AppendJob>) {
    let mut last_seq: HashMap<i64, i64> = HashMap::new();
    while let Some(first) = jobs_rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].posts.len();
        while count < MAX_BATCH {
            match jobs_rx.try_recv() {
                Ok(job) => {
                    count += job.posts.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(jobs.len());
        let mut batch = Vec::with_capacity(jobs.len());
        for job in jobs {
            replies.push(job.reply);
            batch.push(job.posts);
        }
        let rooms: Vec<i64> = batch.iter().flatten().map(|post| post.room_id).collect();
        let known: HashMap<i64, i64> = rooms
            .iter()
            .filter_map(|room| last_seq.get(room).map(|seq| (*room, *seq)))
            .collect();
        let started = std::time::Instant::now();
        match commit(&backend, batch, known).await {
            Ok((outcomes, seqs)) => {
                let metrics = &crate::metrics::METRICS;
                metrics
                    .commit_latency
                    .observe(started.elapsed().as_secs_f64());
                metrics.commit_batch.observe(count as f64);
                let stored = outcomes
                    .iter()
                    .flatten()
                    .filter(|outcome| matches!(outcome, Appended::New(_)))
                    .count();
                metrics.messages_stored.inc_by(stored as u64);
                log::trace!("committed {count} posts in {:?}", started.elapsed());
                last_seq.extend(seqs);
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(err) => {
                let mut named: Vec<String> = rooms.iter().map(|room| format!("r_{room}")).collect();
                named.sort();
                named.dedup();
                named.truncate(10);
                log::warn!(
                    "append of {count} posts failed (rooms {}): {err}",
                    named.join(" ")
                );
                for room in rooms {
                    last_seq.remove(&room);
                }
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}

type CommitResult = (Vec<Vec<Appended>>, HashMap<i64, i64>);

async fn commit(
    backend: &Backend,
    batch: Vec<Vec<NewPost>>,
    known: HashMap<i64, i64>,
) -> Result<CommitResult, StoreError> {
    write_conn!(backend, conn => {
        conn.transaction::<CommitResult, StoreError, _>(async move |conn| {
            {
                let mut seqs = known;
                let now = crate::clock::now_ms();
                let mut rows: Vec<MessageRow> = Vec::new();
                let mut outcomes = Vec::with_capacity(batch.len());
                let mut by_client_id: HashMap<(i64, i64, String), StoredMessage> = HashMap::new();
                let mut read_upto: HashMap<(i64, i64), i64> = HashMap::new();
                for posts in batch {
                    let mut job_outcomes = Vec::with_capacity(posts.len());
                    for post in posts {
                        if let Some(client_id) = &post.client_msg_id {
                            let key = (post.room_id, post.sender.id, client_id.clone());
                            if let Some(first) = by_client_id.get(&key) {
                                job_outcomes.push(Appended::Duplicate(first.clone()));
                                continue;
                            }
                            let earlier = messages::table
                                .filter(messages::room_id.eq(post.room_id))
                                .filter(messages::sender_id.eq(post.sender.id))
                                .filter(messages::client_msg_id.eq(client_id))
                                .select(MessageRow::as_select())
                                .first(conn)
                                .await
                                .optional()?;
                            if let Some(row) = earlier {
                                job_outcomes.push(Appended::Duplicate(StoredMessage {
                                    row,
                                    sender: post.sender.clone(),
                                }));
                                continue;
                            }
                        }
                        let seq = match seqs.get(&post.room_id) {
                            Some(seq) => *seq + 1,
                            None => {
                                let max: Option<i64> = messages::table
                                    .filter(messages::room_id.eq(post.room_id))
                                    .select(diesel::dsl::max(messages::seq))
                                    .first(conn)
                                    .await?;
                                max.unwrap_or(0) + 1
                            }
                        };
                        seqs.insert(post.room_id, seq);
                        read_upto.insert((post.room_id, post.sender.id), seq);
                        let row = MessageRow {
                            room_id: post.room_id,
                            seq,
                            sender_id: post.sender.id,
                            body: post.body,
                            template: post.template,
                            client_msg_id: post.client_msg_id,
                            action: post.action,
                            created_ms: now,
                        };
                        let stored = StoredMessage { row: row.clone(), sender: post.sender };
                        if let Some(client_id) = &row.client_msg_id {
                            by_client_id
                                .insert((row.room_id, row.sender_id, client_id.clone()), stored.clone());
                        }
                        rows.push(row);
                        job_outcomes.push(Appended::New(stored));
                    }
                    outcomes.push(job_outcomes);
                }
                if !rows.is_empty() {
                    conn.insert_messages(rows).await?;
                }
                // A sender has read what they sent: keeps `unread` about other people's messages.
                for ((room_id, user_id), seq) in read_upto {
                    diesel::update(
                        members::table
                            .filter(members::room_id.eq(room_id))
                            .filter(members::user_id.eq(user_id))
                            .filter(members::read_seq.lt(seq)),
                    )
                    .set(members::read_seq.eq(seq))
                    .execute(conn)
                    .await?;
                }
                Ok((outcomes, seqs))
            }
        })
        .await
    })
}
