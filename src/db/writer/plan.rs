//! A batch planned in memory, between the transaction's reads and its writes: what the
//! batch must look up ([`Lookups`]), and from what it read ([`LookedUp`]) each post's
//! `seq`, outcome (stored, duplicate, refused), rows, file links, replies, mentions and
//! notifications ([`Plan`]). No I/O: `writer.rs` runs the statements around it.

use std::collections::HashMap;

use super::super::conversation::{Attached, Known, ReplyRef};
use super::super::error::StoreError;
use super::super::models::{
    FileRow, MessageFileRow, MessageKey, MessageRow, StoredMessage, UserKind,
};
use super::super::notify_queries::NotificationRow;
use super::super::sender_checks::Refusal;
use super::post::{Appended, NewPost, Outcome};
use crate::model::{RoomId, Seq, UserId};

/// What a batch needs to look up before it can be planned.
pub(super) struct Lookups {
    /// Every room the batch appends to, ascending: the order their rows are locked in.
    pub(super) rooms: Vec<RoomId>,
    /// `(room, person)` of every post a person makes, ascending.
    pub(super) people: Vec<(RoomId, UserId)>,
    pub(super) client_rooms: Vec<RoomId>,
    pub(super) client_ids: Vec<String>,
    /// `(room, seq)` of every message a post answers.
    pub(super) replies: Vec<MessageKey>,
    /// `(room, user)` of every mention.
    pub(super) mentioned: Vec<(RoomId, UserId)>,
}

/// What the batch's transaction read before planning.
pub(super) struct LookedUp<'a> {
    pub(super) refused: &'a HashMap<(RoomId, UserId), Refusal>,
    pub(super) earlier: Vec<MessageRow>,
    pub(super) uploads: Vec<FileRow>,
    pub(super) known: Known,
}

impl Lookups {
    pub(super) fn of(batch: &[NewPost]) -> Lookups {
        let posts = || batch.iter();
        let mut client_rooms: Vec<RoomId> = posts()
            .filter(|post| post.client_msg_id.is_some())
            .map(|post| post.room_id)
            .collect();
        let mut client_ids: Vec<String> = posts()
            .filter_map(|post| post.client_msg_id.clone())
            .collect();
        let mut rooms: Vec<RoomId> = posts().map(|post| post.room_id).collect();
        for list in [&mut client_rooms, &mut rooms] {
            list.sort_unstable();
            list.dedup();
        }
        let mut people: Vec<(RoomId, UserId)> = posts()
            .filter(|post| post.sender.kind == UserKind::User)
            .map(|post| (post.room_id, post.sender.id))
            .collect();
        people.sort_unstable();
        people.dedup();
        client_ids.sort_unstable();
        client_ids.dedup();
        let replies = posts()
            .filter_map(|post| Some((post.room_id, post.reply_to?.0)))
            .collect();
        let mentioned = posts()
            .flat_map(|post| post.mentions.iter().map(|user| (post.room_id, *user)))
            .collect();
        Lookups {
            rooms,
            people,
            client_rooms,
            client_ids,
            replies,
            mentioned,
        }
    }
}

/// The batch worked out in memory: rows to insert, each post's outcome, read positions.
pub(super) struct Plan {
    pub(super) rows: Vec<MessageRow>,
    /// Which new message carries which file.
    pub(super) links: Vec<MessageFileRow>,
    /// Who is to be notified of which new message.
    pub(super) notifications: Vec<NotificationRow>,
    pub(super) outcomes: Vec<Outcome>,
    pub(super) read_upto: HashMap<(RoomId, UserId), i64>,
    pub(super) seqs: HashMap<RoomId, i64>,
    /// The replies and mentions of the new messages.
    pub(super) attached: Attached,
}

/// Gives each new post the next `seq` of its room (after `seqs`, read from the locked rows).
/// A person's post in a room where they are `refused` fails alone, whatever else it is; a
/// post whose `client_msg_id` its sender used before in that room (earlier, or earlier in
/// this batch) is a duplicate instead; a post naming a file that is not among the sender's
/// `uploads` fails alone, and so does one that answers a message its room does not hold
/// (neither stored nor new in this batch) or mentions someone who is not a member.
pub(super) fn plan(
    posts: &[NewPost],
    mut seqs: HashMap<RoomId, i64>,
    looked_up: LookedUp,
    now: i64,
) -> Plan {
    let LookedUp {
        refused,
        earlier,
        uploads,
        known,
    } = looked_up;
    let mut replies = known.replies;
    let answers_within = posts.iter().any(|post| post.reply_to.is_some());
    let mut attached = Attached::default();
    let uploads: HashMap<String, FileRow> = uploads
        .into_iter()
        .map(|file| (file.id.clone(), file))
        .collect();
    let mut links = Vec::new();
    let mut notifications = Vec::new();
    let mut firsts: HashMap<(RoomId, UserId, String), MessageRow> = earlier
        .into_iter()
        .filter_map(|row| {
            Some((
                (row.room_id, row.sender_id, row.client_msg_id.clone()?),
                row,
            ))
        })
        .collect();
    let mut rows = Vec::new();
    let mut read_upto = HashMap::new();
    let mut outcomes = Vec::with_capacity(posts.len());
    for post in posts {
        if post.sender.kind == UserKind::User {
            if let Some(refusal) = refused.get(&(post.room_id, post.sender.id)) {
                outcomes.push(Err(StoreError::from(*refusal)));
                continue;
            }
        }
        if let Some(client_id) = &post.client_msg_id {
            if let Some(first) = firsts.get(&(post.room_id, post.sender.id, client_id.clone())) {
                outcomes.push(Ok(Appended::Duplicate(StoredMessage {
                    row: first.clone(),
                    sender: post.sender.clone(),
                    // Read with the first message's own after the plan (`commit`).
                    files: Vec::new(),
                    reply_to: None,
                    mentions: Vec::new(),
                })));
                continue;
            }
        }
        let carried: Option<Vec<FileRow>> = post
            .files
            .iter()
            .map(|key| {
                uploads
                    .get(key)
                    .filter(|file| file.uploader_id == post.sender.id)
                    .cloned()
            })
            .collect();
        let Some(carried) = carried else {
            outcomes.push(Err(StoreError::NotFound("file")));
            continue;
        };
        let room_id = post.room_id;
        let reply_to = match post.reply_to {
            None => None,
            Some(Seq(answered)) => match replies.get(&(room_id, answered)) {
                Some(target) => Some(target.clone()),
                None => {
                    outcomes.push(Err(StoreError::NotFound("message")));
                    continue;
                }
            },
        };
        let outsiders: Vec<UserId> = post
            .mentions
            .iter()
            .copied()
            .filter(|user| !known.members.contains(&(room_id, *user)))
            .collect();
        if !outsiders.is_empty() {
            outcomes.push(Err(StoreError::MentionsOutsiders(outsiders)));
            continue;
        }
        let seq = seqs.get(&room_id).copied().unwrap_or(0) + 1;
        seqs.insert(room_id, seq);
        read_upto.insert((room_id, post.sender.id), seq);
        let row = MessageRow {
            room_id,
            seq,
            sender_id: post.sender.id,
            body: post.body.clone(),
            template: post.template.as_ref().map(ToString::to_string),
            client_msg_id: post.client_msg_id.clone(),
            action: post.action.as_ref().map(ToString::to_string),
            created_ms: now,
        };
        if let Some(client_id) = &row.client_msg_id {
            firsts.insert((row.room_id, row.sender_id, client_id.clone()), row.clone());
        }
        links.extend(
            carried
                .iter()
                .enumerate()
                .map(|(position, file)| MessageFileRow {
                    room_id: row.room_id,
                    seq: row.seq,
                    position: position as i32,
                    file_id: file.id.clone(),
                }),
        );
        notifications.extend(post.notify.iter().map(|user_id| NotificationRow {
            user_id: *user_id,
            room_id: row.room_id,
            seq: row.seq,
            decided_ms: now,
        }));
        if let Some(target) = &reply_to {
            attached.replies.push((row.room_id, row.seq, target.seq));
        }
        let mut mentions = post.mentions.clone();
        mentions.sort_unstable();
        mentions.dedup();
        attached
            .mentions
            .extend(mentions.iter().map(|user| (row.room_id, row.seq, *user)));
        // A later post of this batch may answer this one.
        if answers_within {
            replies.insert(
                (row.room_id, row.seq),
                ReplyRef {
                    room_id: row.room_id,
                    seq: row.seq,
                    sender: post.sender.clone(),
                    excerpt: crate::conversation::excerpt(&row.body),
                },
            );
        }
        rows.push(row.clone());
        outcomes.push(Ok(Appended::New(StoredMessage {
            row,
            sender: post.sender.clone(),
            files: carried,
            reply_to,
            mentions,
        })));
    }
    Plan {
        rows,
        links,
        notifications,
        outcomes,
        read_upto,
        seqs,
        attached,
    }
}
