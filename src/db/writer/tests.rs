//! Unit tests of `db/writer.rs` and `writer/plan.rs`: the pure batch `plan` (seqs per room,
//! repeated client ids), a post that names uploads not its sender's, a person who may no
//! longer post, and that posts whose caller gave up waiting are left out of a batch.

use super::*;
use std::collections::HashSet;

use crate::db::conversation::ReplyRef;
use crate::db::models::{FileRow, UserRow};
use crate::db::sender_checks::Refusal;
use crate::model::{RoomId, Seq, UserId};

fn post(room_id: RoomId, sender: UserId, client_msg_id: Option<&str>) -> NewPost {
    NewPost {
        client_msg_id: client_msg_id.map(str::to_string),
        ..NewPost::text(
            room_id,
            UserRow {
                id: sender,
                name: format!("u{}", sender.0),
                kind: crate::db::models::UserKind::User,
                handle: None,
                created_ms: 0,
            },
            "hi",
        )
    }
}

#[test]
fn posts_whose_caller_gave_up_are_left_out() {
    let (reply, waiting) = oneshot::channel();
    let live = AppendJob {
        posts: vec![post(RoomId(1), UserId(2), Some("c-1"))],
        reply,
    };
    let (reply, gave_up) = oneshot::channel();
    let abandoned = AppendJob {
        posts: vec![
            post(RoomId(1), UserId(3), Some("c-2")),
            post(RoomId(2), UserId(3), None),
        ],
        reply,
    };
    drop(gave_up);
    let (jobs, left_out) = still_awaited(vec![abandoned, live]);
    assert_eq!(left_out, 2);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].posts[0].client_msg_id.as_deref(), Some("c-1"));
    drop(waiting);
}

#[test]
fn plans_consecutive_seqs_per_room_and_spots_repeated_client_ids() {
    let earlier = MessageRow {
        room_id: RoomId(1),
        seq: 4,
        sender_id: UserId(7),
        body: "first".into(),
        template: None,
        client_msg_id: Some("old".into()),
        action: None,
        created_ms: 0,
    };
    let batch = vec![
        post(RoomId(1), UserId(7), None),
        post(RoomId(2), UserId(8), Some("a")),
        post(RoomId(1), UserId(7), Some("old")),
        post(RoomId(2), UserId(8), Some("a")),
        post(RoomId(1), UserId(9), Some("a")),
    ];
    let plan = plan(
        &batch,
        last_seqs(&[(1, 5), (2, 0)]),
        looked_up(&HashMap::new(), vec![earlier], vec![], Known::default()),
        0,
    );
    let seqs: Vec<(bool, i64)> = plan
        .outcomes
        .iter()
        .flatten()
        .map(|outcome| {
            (
                matches!(outcome, Appended::New(_)),
                outcome.message().row.seq,
            )
        })
        .collect();
    assert_eq!(
        seqs,
        vec![(true, 6), (true, 1), (false, 4), (false, 1), (true, 7)]
    );
    assert_eq!(plan.rows.len(), 3);
    assert_eq!(plan.seqs, last_seqs(&[(1, 7), (2, 1)]));
    assert_eq!(
        plan.read_upto,
        reads(&[((1, 7), 6), ((2, 8), 1), ((1, 9), 7)])
    );
}

fn upload(key: &str, uploader: i64) -> FileRow {
    FileRow {
        id: key.into(),
        uploader_id: UserId(uploader),
        name: format!("{key}.png"),
        mime: "image/png".into(),
        size: 1,
        sha256: "00".into(),
        width: Some(1),
        height: Some(1),
        thumbnail_mime: None,
        created_ms: 0,
    }
}

#[test]
fn a_post_carries_only_its_senders_uploads_and_fails_alone_otherwise() {
    let with = |sender: UserId, files: &[&str]| NewPost {
        reply_to: None,
        mentions: Vec::new(),
        files: files.iter().map(|key| key.to_string()).collect(),
        ..post(RoomId(1), sender, None)
    };
    let batch = vec![
        with(UserId(7), &["b", "a"]),
        with(UserId(7), &["a", "theirs"]),
        with(UserId(7), &["made-up"]),
        with(UserId(8), &["theirs"]),
    ];
    let uploads = vec![upload("a", 7), upload("b", 7), upload("theirs", 8)];
    let plan = plan(
        &batch,
        last_seqs(&[(1, 0)]),
        looked_up(&HashMap::new(), vec![], uploads, Known::default()),
        0,
    );
    let carried: Vec<Result<Vec<String>, StoreError>> = plan
        .outcomes
        .iter()
        .map(|outcome| {
            outcome.clone().map(|appended| {
                appended
                    .message()
                    .files
                    .iter()
                    .map(|f| f.id.clone())
                    .collect()
            })
        })
        .collect();
    assert_eq!(
        carried,
        vec![
            Ok(vec!["b".to_string(), "a".to_string()]),
            Err(StoreError::NotFound("file")),
            Err(StoreError::NotFound("file")),
            Ok(vec!["theirs".to_string()]),
        ]
    );
    // The failed posts take no seq: the room stays gapless.
    assert_eq!(plan.seqs, last_seqs(&[(1, 2)]));
    let links: Vec<(i64, i32, &str)> = plan
        .links
        .iter()
        .map(|link| (link.seq, link.position, link.file_id.as_str()))
        .collect();
    assert_eq!(links, vec![(1, 0, "b"), (1, 1, "a"), (2, 0, "theirs")]);
}

#[test]
fn a_person_who_may_no_longer_post_fails_alone_and_takes_no_seq() {
    let system = |room: RoomId| NewPost {
        reply_to: None,
        mentions: Vec::new(),
        sender: UserRow {
            kind: crate::db::models::UserKind::System,
            ..post(room, UserId(1), None).sender
        },
        ..post(room, UserId(1), None)
    };
    let batch = vec![
        post(RoomId(1), UserId(7), None),
        post(RoomId(1), UserId(8), Some("kicked")),
        post(RoomId(2), UserId(8), None),
        post(RoomId(1), UserId(9), None),
        // The system (the admin API) posts where it is asked to, member or not.
        system(RoomId(1)),
        post(RoomId(1), UserId(7), None),
    ];
    let refused = HashMap::from([
        (
            (RoomId(1), UserId(8)),
            Refusal::NotMember {
                public_group: false,
            },
        ),
        ((RoomId(1), UserId(9)), Refusal::Deactivated),
        (
            (RoomId(1), UserId(1)),
            Refusal::NotMember { public_group: true },
        ),
    ]);
    // Even a repeat of an earlier message is refused: nothing is answered to them.
    let earlier = MessageRow {
        room_id: RoomId(1),
        seq: 3,
        sender_id: UserId(8),
        body: "before the kick".into(),
        template: None,
        client_msg_id: Some("kicked".into()),
        action: None,
        created_ms: 0,
    };
    let plan = plan(
        &batch,
        last_seqs(&[(1, 3), (2, 0)]),
        looked_up(&refused, vec![earlier], vec![], Known::default()),
        0,
    );
    let outcomes: Vec<Result<i64, StoreError>> = plan
        .outcomes
        .iter()
        .map(|outcome| outcome.clone().map(|appended| appended.message().row.seq))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            Ok(4),
            Err(StoreError::NotMember {
                public_group: false
            }),
            Ok(1),
            Err(StoreError::Deactivated),
            Ok(5),
            Ok(6),
        ]
    );
    assert_eq!(plan.seqs, last_seqs(&[(1, 6), (2, 1)]));
    assert!(plan.rows.iter().all(|row| row.sender_id != UserId(9)));
    assert!(!plan.read_upto.contains_key(&(RoomId(1), UserId(8))));
}

/// Each room's last seq, by room number.
fn last_seqs(pairs: &[(i64, i64)]) -> HashMap<RoomId, i64> {
    pairs
        .iter()
        .map(|&(room, seq)| (RoomId(room), seq))
        .collect()
}

/// Each (room, sender)'s read position, by numbers.
fn reads(pairs: &[((i64, i64), i64)]) -> HashMap<(RoomId, UserId), i64> {
    pairs
        .iter()
        .map(|&((room, user), seq)| ((RoomId(room), UserId(user)), seq))
        .collect()
}

fn looked_up(
    refused: &HashMap<(RoomId, UserId), Refusal>,
    earlier: Vec<MessageRow>,
    uploads: Vec<FileRow>,
    known: Known,
) -> LookedUp<'_> {
    LookedUp {
        refused,
        earlier,
        uploads,
        known,
    }
}

/// A planned message: its seq, the seq it answers, whom it mentions.
type Planned = (i64, Option<i64>, Vec<UserId>);

#[test]
fn a_reply_needs_its_message_in_the_room_and_mentions_need_members() {
    let answered = |seq: i64| ReplyRef {
        room_id: RoomId(1),
        seq,
        sender: post(RoomId(1), UserId(7), None).sender,
        excerpt: "earlier".into(),
    };
    let known = Known {
        replies: HashMap::from([((RoomId(1), 2), answered(2))]),
        members: HashSet::from([(RoomId(1), UserId(7)), (RoomId(1), UserId(8))]),
    };
    let with = |reply_to: Option<i64>, mentions: Vec<i64>| NewPost {
        reply_to: reply_to.map(Seq),
        mentions: mentions.into_iter().map(UserId).collect(),
        ..post(RoomId(1), UserId(7), None)
    };
    let batch = vec![
        with(Some(2), vec![8, 7, 8]),
        with(Some(9), vec![]),
        with(None, vec![8, 9]),
        // Answers the first post of this batch (seq 6).
        with(Some(6), vec![]),
    ];
    let empty = HashMap::new();
    let plan = plan(
        &batch,
        last_seqs(&[(1, 5)]),
        looked_up(&empty, vec![], vec![], known),
        0,
    );
    let outcomes: Vec<Result<Planned, StoreError>> = plan
        .outcomes
        .iter()
        .map(|outcome| {
            outcome.clone().map(|appended| {
                let message = appended.message();
                (
                    message.row.seq,
                    message.reply_to.as_ref().map(|target| target.seq),
                    message.mentions.clone(),
                )
            })
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            Ok((6, Some(2), vec![UserId(7), UserId(8)])),
            Err(StoreError::NotFound("message")),
            Err(StoreError::MentionsOutsiders(vec![UserId(9)])),
            Ok((7, Some(6), vec![])),
        ]
    );
    assert_eq!(
        plan.attached.replies,
        vec![(RoomId(1), 6, 2), (RoomId(1), 7, 6)]
    );
    assert_eq!(
        plan.attached.mentions,
        vec![(RoomId(1), 6, UserId(7)), (RoomId(1), 6, UserId(8))]
    );
}
