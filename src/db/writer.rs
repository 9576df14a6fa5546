//! Group commit: the one task of a node that appends messages. It folds every request that
//! is waiting into one transaction, which takes each room's `seq` from its locked room row
//! (`db/seq.rs`), so a room's sequence has no gaps and no repeats however many rooms,
//! connections and nodes send at once. A post the database refuses fails alone: the batch is
//! split until the refused post stands by itself, and the others commit. On PostgreSQL
//! several batches commit at once, on separate connections, while the next one is gathered;
//! batches in flight never share a room, and a room's jobs commit in the order they came
//! (`writer/schedule.rs`). A batch is planned in memory between its reads and its writes
//! (`writer/plan.rs`).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::backend::Backend;
use super::bulk::BulkInsert;
use super::conversation::{ConversationReads, Known, PostedConversation};
use super::error::StoreError;
use super::file_queries::FileQueries;
use super::health::CommitHealth;
use super::models::{MessageKey, MessageRow, StoredMessage};
use super::notify_queries::NotifyQueries;
use super::schema::messages;
use super::sender_checks::SenderChecks;
use super::seq::RoomSeqs;
use crate::model::RoomId;
use crate::write_conn;
use schedule::{BatchId, Schedule};

mod failure;
mod plan;
mod post;
mod schedule;

use failure::Failure;
use plan::{plan, LookedUp, Lookups};
pub use post::{Appended, NewPost, Outcome};

pub(crate) struct AppendJob {
    pub posts: Vec<NewPost>,
    pub reply: oneshot::Sender<Vec<Outcome>>,
}

/// Largest number of messages folded into one transaction.
pub const MAX_BATCH: usize = 1024;

/// Batches a PostgreSQL writer commits at once by default, each on its own pooled
/// connection: enough that the round trips and the fsync of one commit do not cap the
/// throughput, few enough to leave the pool (`StoreConfig::pool_size`) to the readers.
pub const COMMITS_IN_FLIGHT: usize = 4;

/// Fewest posts a batch needs to start while another commits (`writer/schedule.rs`).
pub const MIN_BESIDE: usize = MAX_BATCH / 8;

/// Takes append jobs off `jobs_rx` and commits them in batches, up to `in_flight` batches at
/// once on PostgreSQL (one on SQLite, which has one writing connection); `schedule.rs` says
/// which jobs may go together and which must wait for a batch in flight. Each batch answers
/// its own jobs as soon as it is done.
pub(crate) async fn run(
    backend: Arc<Backend>,
    mut jobs_rx: mpsc::Receiver<AppendJob>,
    health: Arc<CommitHealth>,
    in_flight: usize,
    min_beside: usize,
    wake: Arc<tokio::sync::Notify>,
) {
    let limit = match backend.as_ref() {
        Backend::Postgres(_) => in_flight.max(1),
        _ => 1,
    };
    let mut schedule = Schedule::new(limit, MAX_BATCH, min_beside);
    let mut commits = FuturesUnordered::new();
    let mut open = true;
    let gauge = &crate::metrics::METRICS.commits_in_flight;
    loop {
        // Everything queued, up to a batch's worth: the next batch is gathered while the
        // ones in flight commit.
        while open && !schedule.is_full() {
            match jobs_rx.try_recv() {
                Ok(job) => take(&mut schedule, job),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => open = false,
            }
        }
        while let Some((id, jobs)) = schedule.next_batch() {
            commits.push(commit_jobs(&backend, &health, &wake, id, jobs));
        }
        gauge.set(schedule.in_flight() as i64);
        tokio::select! {
            job = jobs_rx.recv(), if open && !schedule.is_full() => match job {
                Some(job) => take(&mut schedule, job),
                None => open = false,
            },
            Some(id) = commits.next(), if !commits.is_empty() => schedule.finished(id),
            else => break,
        }
    }
    gauge.set(0);
}

fn take(schedule: &mut Schedule<AppendJob>, job: AppendJob) {
    let rooms = job.posts.iter().map(|post| post.room_id).collect();
    let posts = job.posts.len();
    schedule.push(job, rooms, posts);
}

/// Commits one batch of jobs (those whose caller still waits), answers each and reports
/// to `health`; returns `id` for [`Schedule::finished`].
async fn commit_jobs(
    backend: &Backend,
    health: &CommitHealth,
    wake: &tokio::sync::Notify,
    id: BatchId,
    jobs: Vec<AppendJob>,
) -> BatchId {
    let (jobs, abandoned) = still_awaited(jobs);
    if abandoned > 0 {
        log::warn!(
            "dropped {abandoned} append requests whose callers gave up waiting (answered \
             unavailable: nothing of theirs is stored)"
        );
    }
    if jobs.is_empty() {
        return id;
    }
    let count = jobs.iter().map(|job| job.posts.len()).sum();
    let mut posts = Vec::with_capacity(count);
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        replies.push((job.reply, job.posts.len()));
        posts.extend(job.posts);
    }
    let outcomes = commit_isolating(backend, wake, posts.into()).await;
    if outcomes.iter().any(Result::is_ok) {
        health.committed();
    } else if outcomes
        .iter()
        .any(|outcome| matches!(outcome, Err(StoreError::Unavailable(_))))
    {
        health.failed();
    }
    let mut outcomes = outcomes.into_iter();
    for (reply, len) in replies {
        let _ = reply.send(outcomes.by_ref().take(len).collect());
    }
    id
}

/// The jobs whose caller still waits, and how many posts were left out. A caller that timed
/// out (`Store::append`) has told its client `unavailable`, "nothing was stored, retry": its
/// posts must not be committed after that. Committing them anyway also wasted the writer's
/// time on answers no one reads: under a burst the queue filled with such jobs, every new one
/// waited behind them past the time-out, and the writer never caught up again (the soak, see
/// BENCHMARKS.md).
fn still_awaited(jobs: Vec<AppendJob>) -> (Vec<AppendJob>, usize) {
    let (live, gone): (Vec<AppendJob>, Vec<AppendJob>) =
        jobs.into_iter().partition(|job| !job.reply.is_closed());
    (live, gone.iter().map(|job| job.posts.len()).sum())
}

/// Commits `posts` in one transaction. If the database refuses it, the posts are split in
/// halves and each half is committed on its own, down to single posts: a post the store
/// rejects fails alone and every other post commits, in order (at most 2n−1 transactions
/// for n posts, and only when something was refused).
async fn commit_isolating(
    backend: &Backend,
    wake: &tokio::sync::Notify,
    posts: Arc<[NewPost]>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(posts.len());
    // The ranges still to commit; the next one is on top.
    let mut pending = Vec::with_capacity(16);
    pending.push(0..posts.len());
    while let Some(range) = pending.pop() {
        let part = &posts[range.clone()];
        if part.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        match commit(backend, posts.clone(), range.clone()).await {
            Ok(stored) => {
                let metrics = &crate::metrics::METRICS;
                metrics
                    .commit_latency
                    .observe(started.elapsed().as_secs_f64());
                metrics.commit_batch.observe(part.len() as f64);
                let new = stored
                    .iter()
                    .filter(|outcome| matches!(outcome, Ok(Appended::New(_))))
                    .count();
                metrics.messages_stored.inc_by(new as u64);
                if part.iter().any(|post| !post.notify.is_empty()) {
                    // The node's sender looks at once (committed now: it will see them).
                    wake.notify_one();
                }
                log::trace!("committed {} posts in {:?}", part.len(), started.elapsed());
                outcomes.extend(stored);
            }
            Err(Failure::Refused(err)) if part.len() > 1 => {
                log::debug!(
                    "append of {} posts refused ({err}); committing them in halves",
                    part.len()
                );
                let middle = range.start + part.len() / 2;
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
            Err(failure) => {
                let err = failure.into_error();
                let mut rooms: Vec<String> =
                    part.iter().map(|post| post.room_id.to_string()).collect();
                rooms.sort();
                rooms.dedup();
                rooms.truncate(10);
                log::warn!(
                    "append of {} posts failed (rooms {}): {err}",
                    part.len(),
                    rooms.join(" ")
                );
                outcomes.extend(std::iter::repeat_n(Err(err), part.len()));
            }
        }
    }
    outcomes
}

type CommitResult = Vec<Outcome>;

/// One transaction for the posts, in a fixed handful of statements whatever their number:
/// lock their room rows and read their last `seq`, check that each person posting is still
/// a member (after the lock, which a membership change takes too: `db/authz.rs`), look up
/// earlier messages for their
/// `client_msg_id`s (after the lock, so a retry through another node is seen) and the files
/// they carry, one multi-row insert, one update of the rooms' last `seq`, one of the
/// senders' read positions (on SQLite, where a statement is a call in place, the last three
/// are cached statements run once per row instead: `db/bulk.rs`, `db/seq.rs`). Checking the
/// files in the transaction that refers to them means the clean-up of old uploads cannot
/// delete one in between. `posts` is shared with the writer's other transactions, `range` is
/// this one's part: on SQLite the whole transaction is one call on the writer thread.
async fn commit(
    backend: &Backend,
    posts: Arc<[NewPost]>,
    range: Range<usize>,
) -> Result<CommitResult, Failure> {
    write_conn!(backend, conn => {
        conn.transaction::<CommitResult, Failure, _>(async move |conn| {
            let posts = &posts[range];
            let wanted = Lookups::of(posts);
            let seqs: HashMap<RoomId, i64> =
                conn.lock_rooms(&wanted.rooms).await?.into_iter().collect();
            let refused = conn.refused_senders(&wanted.people).await?;
            let earlier: Vec<MessageRow> = if wanted.client_ids.is_empty() {
                Vec::new()
            } else {
                messages::table
                    .filter(messages::room_id.eq_any(&wanted.client_rooms))
                    .filter(messages::client_msg_id.eq_any(&wanted.client_ids))
                    .select(MessageRow::as_select())
                    .load(conn)
                    .await?
            };
            let keys: Vec<String> = posts.iter().flat_map(|post| post.files.clone()).collect();
            let uploads = conn.files_by_keys(keys).await?;
            let known = if wanted.replies.is_empty() && wanted.mentioned.is_empty() {
                Known::default()
            } else {
                conn.known(wanted.replies, wanted.mentioned).await?
            };
            let looked_up = LookedUp { refused: &refused, earlier, uploads, known };
            let mut plan = plan(posts, seqs, looked_up, crate::clock::now_ms());
            if !plan.rows.is_empty() {
                conn.insert_messages(plan.rows).await?;
            }
            if !plan.attached.is_empty() {
                conn.attach(plan.attached).await?;
            }
            if !plan.links.is_empty() {
                conn.insert_message_files(plan.links).await?;
            }
            if !plan.notifications.is_empty() {
                let decided = conn.record_notifications(plan.notifications).await?;
                crate::metrics::METRICS.push_decided.inc_by(decided as u64);
            }
            let repeated: Vec<StoredMessage> = plan
                .outcomes
                .iter()
                .filter_map(|outcome| match outcome {
                    Ok(Appended::Duplicate(message)) => Some(message.clone()),
                    _ => None,
                })
                .collect();
            if !repeated.is_empty() {
                // A repeated send answers with the first message, files, reply and mentions.
                let keys = repeated.iter().map(|message| (message.row.room_id, message.row.seq));
                let found: HashMap<MessageKey, StoredMessage> = conn
                    .full_messages(keys.collect())
                    .await?
                    .into_iter()
                    .map(|full| ((full.room_id(), full.seq()), full.message))
                    .collect();
                for outcome in &mut plan.outcomes {
                    if let Ok(Appended::Duplicate(message)) = outcome {
                        let key = (message.row.room_id, message.row.seq);
                        if let Some(first) = found.get(&key) {
                            message.files = first.files.clone();
                            message.reply_to = first.reply_to.clone();
                            message.mentions = first.mentions.clone();
                        }
                    }
                }
            }
            conn.advance_rooms(&plan.seqs).await?;
            conn.advance_reads(&plan.read_upto).await?;
            Ok(plan.outcomes)
        })
        .await
    })
}

#[cfg(test)]
mod tests;
