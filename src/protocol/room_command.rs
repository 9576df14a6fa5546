//! The commands addressed to one room ([`RoomCommand`]), parsed from a client frame: the
//! one type that travels from the parser through the session to the room, which matches
//! it (`actors/room/requests.rs`). A new room command is a variant here, its arm in
//! [`parse`], its handler in the room, and its section in docs/protocol.md.

use super::fields::Fields;
use super::ids::{FileId, MessageId, RoomId, UserId, UserRef};
pub use super::post_fields::{body, MAX_BODY_CHARS};
use super::post_fields::{mentions, reply_to};
use crate::error::ProtoError;
/// Files one message may carry.
pub const MAX_MESSAGE_FILES: usize = 10;
/// Page sizes of `join` and `history`.
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// A command to one room; the room it goes to travels beside it
/// ([`Command::Room`](super::Command::Room)).
#[derive(Clone, Debug, PartialEq)]
pub enum RoomCommand {
    Join {
        after_seq: Option<i64>,
        limit: i64,
    },
    Leave {
        forget: bool,
    },
    /// A post: answered by the room once stored.
    Send {
        body: String,
        client_msg_id: Option<String>,
        /// The files the message carries, at most 10, none twice.
        files: Vec<FileId>,
        /// The message of this room it answers (section 11).
        reply_to: Option<MessageId>,
        /// Members it mentions, at most 20, none twice.
        mentions: Vec<UserId>,
    },
    History {
        before_seq: Option<i64>,
        limit: i64,
    },
    Read {
        seq: i64,
    },
    Typing,
    /// The caller's notification level for the room (section 12).
    Notify {
        level: crate::notify::Level,
    },
    /// A post: the user pressed a button or quick reply of one of the bot's messages.
    Action {
        message: MessageId,
        action: String,
    },
    Invite {
        user: UserRef,
    },
    Kick {
        user: UserRef,
    },
    /// Section 11: the sender replaces a message's body (and its mentions, when given).
    Edit {
        message: MessageId,
        body: String,
        mentions: Option<Vec<UserId>>,
    },
    /// Section 11: leaves a tombstone.
    Delete {
        message: MessageId,
    },
    /// Section 11: adds (`on`) or takes back the caller's reaction.
    React {
        message: MessageId,
        emoji: crate::conversation::Emoji,
        on: bool,
    },
    /// Section 11: every message changed after `after_rev`.
    Changes {
        after_rev: i64,
        limit: i64,
    },
    /// Section 13: the group's owner makes a member a moderator or a member again.
    SetRole {
        user: UserRef,
        role: crate::safety::Role,
    },
    /// Section 13: the owner or a moderator mutes a member (`minutes` 0 lifts it).
    Mute {
        user: UserRef,
        minutes: crate::safety::MuteMinutes,
    },
    /// Section 13: the owner or a moderator bans someone (removing them) or lifts it.
    Ban {
        user: UserRef,
        on: bool,
    },
}

impl RoomCommand {
    /// The `type` this command came as; used in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            RoomCommand::Join { .. } => "join",
            RoomCommand::Leave { .. } => "leave",
            RoomCommand::Send { .. } => "send",
            RoomCommand::History { .. } => "history",
            RoomCommand::Read { .. } => "read",
            RoomCommand::Typing => "typing",
            RoomCommand::Notify { .. } => "notify",
            RoomCommand::Action { .. } => "action",
            RoomCommand::Invite { .. } => "invite",
            RoomCommand::Kick { .. } => "kick",
            RoomCommand::Edit { .. } => "edit",
            RoomCommand::Delete { .. } => "delete",
            RoomCommand::React { .. } => "react",
            RoomCommand::Changes { .. } => "changes",
            RoomCommand::SetRole { .. } => "set_role",
            RoomCommand::Mute { .. } => "mute",
            RoomCommand::Ban { .. } => "ban",
        }
    }

    /// A post goes into the room's posting pipeline and is answered by the room when it is
    /// stored; any other command is a request the room answers at once.
    pub fn is_post(&self) -> bool {
        matches!(self, RoomCommand::Send { .. } | RoomCommand::Action { .. })
    }
}

/// The room command of type `kind` and its room, or `None` when `kind` names none.
///
/// Ids are turned into types after every other field is checked, so a frame with a
/// malformed field and an id that names nothing is answered as it always was; an id that
/// is not canonical is answered exactly as one that names nothing.
pub(super) fn parse(
    kind: &str,
    fields: &Fields,
) -> Result<Option<(RoomId, RoomCommand)>, ProtoError> {
    let room = || fields.id("room");
    let parsed = match kind {
        "join" => {
            let room = room()?;
            let after_seq = fields.opt_seq("after_seq")?;
            let limit = fields.limit("limit", DEFAULT_PAGE, MAX_PAGE)?;
            (room_id(room)?, RoomCommand::Join { after_seq, limit })
        }
        "leave" => {
            let room = room()?;
            let forget = fields.bool_or("forget", false)?;
            (room_id(room)?, RoomCommand::Leave { forget })
        }
        "send" => {
            let files = file_ids(fields.id_list("files", MAX_MESSAGE_FILES)?)?;
            let text = fields.string("body")?;
            let room = room()?;
            // With files, the body may be empty.
            let body = if files.is_empty() || !text.is_empty() {
                body(text)?
            } else {
                String::new()
            };
            let client_msg_id = fields.opt_id("client_msg_id")?.map(str::to_string);
            let mentions = mentions(fields)?;
            let reply_to = reply_to(fields)?;
            let send = RoomCommand::Send {
                body,
                client_msg_id,
                files,
                reply_to,
                mentions,
            };
            (room_id(room)?, send)
        }
        "history" => {
            let room = room()?;
            let before_seq = fields.opt_seq("before_seq")?;
            let limit = fields.limit("limit", DEFAULT_PAGE, MAX_PAGE)?;
            (room_id(room)?, RoomCommand::History { before_seq, limit })
        }
        "read" => {
            let room = room()?;
            let seq = fields.seq("seq")?;
            (room_id(room)?, RoomCommand::Read { seq })
        }
        "typing" => (room_id(room()?)?, RoomCommand::Typing),
        "notify" => {
            let level = fields.string("level")?;
            let level = crate::notify::Level::parse(level).ok_or_else(|| {
                ProtoError::bad_request("field `level` must be \"all\", \"mentions\" or \"none\"")
            })?;
            (room_id(room()?)?, RoomCommand::Notify { level })
        }
        "action" => {
            let room = room()?;
            let message = fields.id("message")?;
            let action = fields.id("action")?.to_string();
            let room = room_id(room)?;
            let message = message_id(message)?;
            (room, RoomCommand::Action { message, action })
        }
        "invite" => {
            let room = room()?;
            let user = user_ref(fields.id("user")?)?;
            (room_id(room)?, RoomCommand::Invite { user })
        }
        "kick" => {
            let room = room()?;
            let user = user_ref(fields.id("user")?)?;
            (room_id(room)?, RoomCommand::Kick { user })
        }
        "set_role" => {
            let room = room()?;
            let user = fields.id("user")?;
            let role = fields.string("role")?;
            let role = crate::safety::Role::settable(role).ok_or_else(|| {
                ProtoError::bad_request(
                    "field `role` must be \"moderator\" or \"member\" (a group has one owner)",
                )
            })?;
            let user = user_ref(user)?;
            (room_id(room)?, RoomCommand::SetRole { user, role })
        }
        "mute" => {
            let room = room()?;
            let user = fields.id("user")?;
            let minutes = fields
                .seq("minutes")
                .ok()
                .and_then(crate::safety::MuteMinutes::new);
            let minutes = minutes.ok_or_else(|| {
                ProtoError::bad_request(format!(
                    "field `minutes` must be an integer from 0 (lifts the mute) to {}",
                    crate::safety::roles::MAX_MUTE_MINUTES
                ))
            })?;
            let user = user_ref(user)?;
            (room_id(room)?, RoomCommand::Mute { user, minutes })
        }
        "ban" => {
            let room = room()?;
            let user = fields.id("user")?;
            let on = fields.bool_or("on", true)?;
            let user = user_ref(user)?;
            (room_id(room)?, RoomCommand::Ban { user, on })
        }
        // Section 11's room commands are parsed by `conversation::parse_room`.
        _ => return Ok(None),
    };
    Ok(Some(parsed))
}

/// A room id; one that is not canonical is `not_found` like a room that does not exist.
fn room_id(text: &str) -> Result<RoomId, ProtoError> {
    text.parse().map_err(|_| ProtoError::no_such_room())
}

/// A user reference; `u_` with anything but a canonical number is `not_found` like an id
/// nobody has.
pub(super) fn user_ref(text: &str) -> Result<UserRef, ProtoError> {
    text.parse()
        .map_err(|_| ProtoError::no_such_user_named(text))
}

/// A message id. One that is not canonical is answered as the room answers an id of a
/// message it does not hold.
fn message_id(text: &str) -> Result<MessageId, ProtoError> {
    text.parse()
        .map_err(|_| ProtoError::bad_request(format!("message {text:?} is not in this room")))
}

/// A `send`'s file ids. An id that no upload can have is `not_found`, the same answer as for
/// an id that is not the sender's; the same file twice is a mistake.
fn file_ids(list: Vec<&str>) -> Result<Vec<FileId>, ProtoError> {
    let mut files: Vec<FileId> = Vec::with_capacity(list.len());
    for id in list {
        let file: FileId = id
            .parse()
            .map_err(|_| ProtoError::not_found("no such file"))?;
        if files.contains(&file) {
            return Err(ProtoError::bad_request(format!(
                "field `files` names {id} twice"
            )));
        }
        files.push(file);
    }
    Ok(files)
}
