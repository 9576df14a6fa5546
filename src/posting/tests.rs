//! The posting pipeline without an actor: the store's outcomes are written by hand, the
//! waiters are plain names.

use super::*;
use crate::db::models::{MessageRow, UserRow};
use crate::error::ErrorCode;
use crate::model::{RoomId, UserId};

const ROOM: RoomId = RoomId(7);

fn user(id: UserId) -> UserRow {
    UserRow {
        id,
        name: format!("u{}", id.0),
        kind: crate::db::models::UserKind::User,
        handle: None,
        created_ms: 0,
    }
}

fn post(body: &str, client_msg_id: Option<&str>) -> NewPost {
    NewPost {
        client_msg_id: client_msg_id.map(str::to_string),
        ..NewPost::text(ROOM, user(UserId(1)), body)
    }
}

fn stored(seq: i64, body: &str) -> StoredMessage {
    StoredMessage {
        reply_to: None,
        mentions: Vec::new(),
        row: MessageRow {
            room_id: ROOM,
            seq,
            sender_id: UserId(1),
            body: body.into(),
            template: None,
            client_msg_id: None,
            action: None,
            created_ms: 0,
        },
        sender: user(UserId(1)),
        files: Vec::new(),
    }
}

fn new(seq: i64, body: &str) -> Outcome {
    Ok(Appended::New(stored(seq, body)))
}

fn seqs(messages: &[StoredMessage]) -> Vec<i64> {
    messages.iter().map(|message| message.row.seq).collect()
}

fn bodies(batch: &Batch) -> Vec<&str> {
    batch.posts.iter().map(|post| post.body.as_str()).collect()
}

/// Each waiter with the seq it was answered with, or its error code.
fn answered(settled: &Settled<&'static str>) -> Vec<(&'static str, Result<i64, ErrorCode>)> {
    settled
        .answers
        .iter()
        .map(|(waiter, answer)| {
            let answer = match answer {
                Ok(message) => Ok(message.row.seq),
                Err(err) => Err(err.code),
            };
            (*waiter, answer)
        })
        .collect()
}

/// A pipeline of a room that has `last_seq` committed and nothing queued.
fn loaded(last_seq: i64) -> Pipeline<&'static str> {
    let mut pipeline = Pipeline::new(16, None);
    pipeline.loaded(last_seq);
    pipeline
}

#[test]
fn one_batch_at_a_time_and_deliveries_in_seq_order() {
    let mut pipeline = loaded(0);
    let first = pipeline.push(post("a", None), "amy").expect("taken");
    assert_eq!(bodies(&first.expect("a batch starts at once")), ["a"]);
    for (body, waiter) in [("b", "bob"), ("c", "cat")] {
        let queued = pipeline.push(post(body, None), waiter).expect("taken");
        assert!(queued.is_none(), "queued behind the batch in flight");
    }
    assert!(!pipeline.is_idle());

    let settled = pipeline.settle(Ok(vec![new(1, "a")]));
    assert_eq!(answered(&settled), [("amy", Ok(1))]);
    assert_eq!(seqs(&settled.committed), [1]);
    assert_eq!(seqs(&settled.deliveries), [1]);
    let next = settled.next_batch.expect("the queued posts go next");
    assert_eq!(bodies(&next), ["b", "c"]);

    let settled = pipeline.settle(Ok(vec![new(2, "b"), new(3, "c")]));
    assert_eq!(answered(&settled), [("bob", Ok(2)), ("cat", Ok(3))]);
    assert_eq!(seqs(&settled.deliveries), [2, 3]);
    assert!(settled.next_batch.is_none());
    assert!(pipeline.is_idle());
    assert_eq!(pipeline.delivered_seq(), 3);
    assert_eq!(pipeline.gap(true), None);
}

#[test]
fn another_nodes_messages_and_our_own_merge_into_one_seq_order() {
    let mut pipeline = loaded(0);
    pipeline.push(post("ours", None), "amy").expect("taken");
    // Another node's seq 2 arrives before its seq 1: held, and the gap is read.
    assert!(pipeline.arrive(vec![stored(2, "theirs 2")]).is_empty());
    assert_eq!(pipeline.gap(true), Some(Gap::Read { after: 0, count: 2 }));
    // Our commit got seq 3: answered at once, delivered only after 1 and 2.
    let settled = pipeline.settle(Ok(vec![new(3, "ours")]));
    assert_eq!(answered(&settled), [("amy", Ok(3))]);
    assert_eq!(seqs(&settled.committed), [3]);
    assert!(settled.deliveries.is_empty(), "3 waits for 1 and 2");
    assert_eq!(pipeline.gap(true), None, "one read at a time");
    let read = pipeline.fetched(vec![stored(1, "theirs 1"), stored(2, "theirs 2")]);
    assert_eq!(seqs(&read), [1, 2, 3]);
    // Publishes that come late, or twice, deliver nothing again.
    assert!(pipeline
        .arrive(vec![stored(1, "theirs 1"), stored(3, "ours")])
        .is_empty());
    assert_eq!(seqs(&pipeline.arrive(vec![stored(4, "theirs 4")])), [4]);
}

#[test]
fn a_repeated_client_msg_id_is_answered_with_the_original_and_delivers_nothing() {
    let mut pipeline = loaded(0);
    pipeline
        .push(post("one", Some("c-1")), "amy")
        .expect("taken");
    let settled = pipeline.settle(Ok(vec![new(1, "one")]));
    assert_eq!(seqs(&settled.deliveries), [1]);

    pipeline
        .push(post("two", Some("c-1")), "amy again")
        .expect("taken");
    let settled = pipeline.settle(Ok(vec![Ok(Appended::Duplicate(stored(1, "one")))]));
    match &settled.answers[..] {
        [("amy again", Ok(message))] => assert_eq!(message, &stored(1, "one")),
        other => panic!("answered {other:?}"),
    }
    assert!(
        settled.committed.is_empty(),
        "nothing new for the bus or the bot"
    );
    assert!(settled.deliveries.is_empty(), "nothing delivered twice");
    assert_eq!(pipeline.delivered_seq(), 1);
}

#[test]
fn a_repeated_client_msg_id_of_a_message_never_delivered_reads_it_from_the_store() {
    // "two" was committed, but its batch's answer came too late: the room answered
    // `unavailable` and never delivered it. The retry finds it stored.
    let mut pipeline = loaded(1);
    pipeline
        .push(post("two", Some("c-2")), "amy")
        .expect("taken");
    let settled = pipeline.settle(Err(StoreError::Unavailable("timed out".into())));
    assert_eq!(answered(&settled), [("amy", Err(ErrorCode::Unavailable))]);
    assert_eq!(pipeline.gap(true), None, "nothing says seq 2 exists yet");

    pipeline
        .push(post("two", Some("c-2")), "amy again")
        .expect("taken");
    let settled = pipeline.settle(Ok(vec![Ok(Appended::Duplicate(stored(2, "two")))]));
    assert_eq!(answered(&settled), [("amy again", Ok(2))]);
    assert!(settled.deliveries.is_empty());
    assert_eq!(pipeline.gap(true), Some(Gap::Read { after: 1, count: 1 }));
    assert_eq!(seqs(&pipeline.fetched(vec![stored(2, "two")])), [2]);
    assert_eq!(pipeline.delivered_seq(), 2);
    assert_eq!(pipeline.gap(true), None);
}

#[test]
fn a_failed_commit_answers_every_post_of_it_delivers_nothing_and_the_pipeline_goes_on() {
    let mut pipeline = loaded(4);
    pipeline.push(post("a", None), "amy").expect("taken");
    pipeline.push(post("b", None), "bob").expect("taken");
    pipeline.push(post("c", None), "cat").expect("taken");
    let settled = pipeline.settle(Err(StoreError::Unavailable("connection refused".into())));
    assert_eq!(answered(&settled), [("amy", Err(ErrorCode::Unavailable))]);
    assert!(settled.committed.is_empty() && settled.deliveries.is_empty());
    assert_eq!(bodies(&settled.next_batch.expect("next")), ["b", "c"]);

    let settled = pipeline.settle(Err(StoreError::Unavailable("still down".into())));
    assert_eq!(
        answered(&settled),
        [
            ("bob", Err(ErrorCode::Unavailable)),
            ("cat", Err(ErrorCode::Unavailable))
        ]
    );
    assert!(settled.next_batch.is_none() && pipeline.is_idle());

    // The store is back: seq carries on from what was committed.
    pipeline.push(post("d", None), "dan").expect("taken");
    let settled = pipeline.settle(Ok(vec![new(5, "d")]));
    assert_eq!(answered(&settled), [("dan", Ok(5))]);
    assert_eq!(seqs(&settled.deliveries), [5]);
}

#[test]
fn a_post_the_store_refuses_fails_alone() {
    let mut pipeline = loaded(0);
    pipeline.push(post("a", None), "amy").expect("taken");
    let settled = pipeline.settle(Ok(vec![new(1, "a")]));
    assert!(settled.next_batch.is_none());
    pipeline.push(post("b", None), "bob").expect("taken");
    pipeline
        .push(post("with a made-up file", None), "eve")
        .expect("taken");
    pipeline.push(post("c", None), "cat").expect("taken");
    let batch = pipeline.settle(Ok(vec![new(2, "b")])).next_batch;
    assert_eq!(bodies(&batch.expect("next")), ["with a made-up file", "c"]);
    let settled = pipeline.settle(Ok(vec![Err(StoreError::NotFound("file")), new(3, "c")]));
    assert_eq!(
        answered(&settled),
        [("eve", Err(ErrorCode::NotFound)), ("cat", Ok(3))]
    );
    assert_eq!(seqs(&settled.deliveries), [3]);
}

#[test]
fn a_missing_outcome_is_an_internal_error_not_a_silence() {
    let mut pipeline = loaded(0);
    pipeline.push(post("a", None), "amy").expect("taken");
    pipeline.push(post("b", None), "bob").expect("taken");
    pipeline.push(post("c", None), "cat").expect("taken");
    pipeline.settle(Ok(vec![new(1, "a")]));
    let settled = pipeline.settle(Ok(vec![new(2, "b")]));
    assert_eq!(
        answered(&settled),
        [("bob", Ok(2)), ("cat", Err(ErrorCode::Internal))]
    );
}

#[test]
fn a_room_restarted_mid_batch_delivers_what_its_predecessor_did_not_once_and_without_gap() {
    // The crashed room had delivered up to 3; its batch of 4 and 5 committed as it died.
    let mut pipeline: Pipeline<&'static str> = Pipeline::new(16, Some(3));
    pipeline.loaded(5);
    assert_eq!(pipeline.delivered_seq(), 3);
    // A send that came to the new room meanwhile.
    pipeline.push(post("after", None), "amy").expect("taken");
    assert_eq!(pipeline.gap(true), Some(Gap::Read { after: 3, count: 2 }));
    let settled = pipeline.settle(Ok(vec![new(6, "after")]));
    assert_eq!(answered(&settled), [("amy", Ok(6))]);
    assert!(settled.deliveries.is_empty(), "6 waits for 4 and 5");
    let read = pipeline.fetched(vec![stored(4, "x"), stored(5, "y")]);
    assert_eq!(seqs(&read), [4, 5, 6]);
    // The predecessor's publish of 5 arriving late is not delivered twice.
    assert!(pipeline.arrive(vec![stored(5, "y")]).is_empty());
    assert_eq!(pipeline.gap(true), None);
    assert_eq!(pipeline.delivered_seq(), 6);
}

#[test]
fn a_restarted_room_that_no_one_follows_skips_to_the_stored_last_seq() {
    let mut pipeline: Pipeline<&'static str> = Pipeline::new(16, Some(3));
    pipeline.loaded(5);
    assert_eq!(pipeline.gap(false), None, "no one to deliver to");
    assert_eq!(pipeline.delivered_seq(), 5);
    pipeline.push(post("next", None), "amy").expect("taken");
    let settled = pipeline.settle(Ok(vec![new(6, "next")]));
    assert_eq!(seqs(&settled.deliveries), [6]);
}

#[test]
fn a_new_room_has_delivered_everything_stored() {
    let mut pipeline = loaded(9);
    assert_eq!(pipeline.delivered_seq(), 9);
    assert_eq!(pipeline.gap(true), None);
}

#[test]
fn too_much_to_replay_closes_the_followers_instead() {
    let mut pipeline: Pipeline<&'static str> = Pipeline::new(16, Some(10));
    pipeline.loaded(10 + MAX_REPLAY + 1);
    assert_eq!(
        pipeline.gap(true),
        Some(Gap::TooFar {
            behind: MAX_REPLAY + 1
        })
    );
    assert_eq!(pipeline.delivered_seq(), 10 + MAX_REPLAY + 1);
    assert_eq!(pipeline.gap(true), None);
}

#[test]
fn a_short_page_or_a_failed_read_asks_for_the_rest() {
    let mut pipeline = loaded(0);
    pipeline.committed_upto(4);
    assert_eq!(pipeline.gap(true), Some(Gap::Read { after: 0, count: 4 }));
    pipeline.fetch_failed();
    assert_eq!(pipeline.gap(true), Some(Gap::Read { after: 0, count: 4 }));
    assert_eq!(
        seqs(&pipeline.fetched(vec![stored(1, "a"), stored(2, "b")])),
        [1, 2]
    );
    assert_eq!(pipeline.gap(true), Some(Gap::Read { after: 2, count: 2 }));
}

#[test]
fn the_queue_behind_the_batch_in_flight_is_bounded() {
    let mut pipeline: Pipeline<&'static str> = Pipeline::new(2, None);
    pipeline.loaded(0);
    assert!(pipeline
        .push(post("a", None), "a")
        .expect("taken")
        .is_some());
    assert!(pipeline
        .push(post("b", None), "b")
        .expect("taken")
        .is_none());
    assert!(pipeline
        .push(post("c", None), "c")
        .expect("taken")
        .is_none());
    let refused = pipeline.push(post("d", None), "d").expect_err("full");
    assert_eq!(refused.waiter, "d");
    assert_eq!(refused.error.code, ErrorCode::Unavailable);
    // Settling makes room again.
    let next = pipeline.settle(Ok(vec![new(1, "a")])).next_batch;
    assert_eq!(bodies(&next.expect("next")), ["b", "c"]);
    assert!(pipeline
        .push(post("d", None), "d")
        .expect("taken")
        .is_none());
}
