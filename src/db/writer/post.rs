//! What the writer is given to append ([`NewPost`]) and what became of each post
//! ([`Outcome`]).

use super::super::error::StoreError;
use super::super::models::{StoredMessage, UserRow};
use crate::model::{RoomId, Seq, UserId};

/// A message to append. `seq` and the time are the writer's to give.
#[derive(Clone, Debug)]
pub struct NewPost {
    pub room_id: RoomId,
    /// A person (a connection's `send` or `action`) must be a member of the room, and not
    /// deactivated, when the post commits: checked in the batch's transaction
    /// (`db/sender_checks.rs`), refused alone otherwise. The system and bots post where they are
    /// asked to.
    pub sender: UserRow,
    pub body: String,
    /// A bot's template (buttons, quick replies), stored as JSON text.
    pub template: Option<serde_json::Value>,
    pub client_msg_id: Option<String>,
    /// What an `action` answered (`{"message":…,"id":…}`), stored as JSON text.
    pub action: Option<serde_json::Value>,
    /// Keys of files the sender uploaded, in order (`db/files.rs`); a key that is not one
    /// of the sender's uploads fails the post with `NotFound("file")`.
    pub files: Vec<String>,
    /// The `seq` of the message of this room the post answers: one the room does not hold
    /// fails the post alone with `NotFound("message")`.
    pub reply_to: Option<Seq>,
    /// Users the post mentions, distinct: one who is not a member of the room fails the
    /// post alone with `MentionsOutsiders`.
    pub mentions: Vec<UserId>,
    /// Members the room decided to notify of this message (`crate::notify::decide`): those
    /// with a device get a pending notification in the message's own transaction, so a crash
    /// cannot lose one (`db/notify_queries.rs`). A duplicate `client_msg_id` notifies no one.
    pub notify: Vec<UserId>,
}

impl NewPost {
    /// A plain text post of `sender` to `room`: no template, files, reply, mentions, client
    /// id or notifications (the fields a caller sets after, as it needs them).
    pub fn text(room: RoomId, sender: UserRow, body: impl Into<String>) -> NewPost {
        NewPost {
            room_id: room,
            sender,
            body: body.into(),
            template: None,
            client_msg_id: None,
            action: None,
            files: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            notify: Vec::new(),
        }
    }
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

/// What became of each post of a job, in the job's order.
pub type Outcome = Result<Appended, StoreError>;
