//! Client frames, parsed once into a [`Command`] (docs/protocol.md sections 2 and 4). Everything
//! a client can get wrong is caught here, before any actor sees the command.

use serde_json::{Map, Value};

use super::fields::{char_count, Fields, MAX_ID_CHARS};
use super::frames::ReplyId;
use super::ids::{FileId, MessageId, RoomId, UserRef};
use super::json::{self, JsonError};
use super::names::group_name;
use crate::error::{ErrorCode, ProtoError};

/// Longest message body, in Unicode code points.
pub const MAX_BODY_CHARS: usize = 4000;
/// Files one message may carry.
pub const MAX_MESSAGE_FILES: usize = 10;
/// Most members a `create_group` may name.
pub const MAX_GROUP_MEMBERS: usize = 1000;
/// Page sizes of `join` and `history`.
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;
/// Page sizes of `users` (the directory).
pub const DEFAULT_DIRECTORY_PAGE: i64 = 20;
pub const MAX_DIRECTORY_PAGE: i64 = 50;
/// Page sizes of `rooms` when paged (section 4): without `limit` it answers every room.
pub const DEFAULT_ROOMS_PAGE: i64 = 100;
pub const MAX_ROOMS_PAGE: i64 = 500;
/// Longest `users` query: a prefix longer than any name could match nothing.
pub const MAX_QUERY_CHARS: usize = crate::db::MAX_USER_NAME;

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Ping,
    /// Every room, or with `limit` or `after`, one page of them.
    Rooms {
        page: Option<RoomsPage>,
    },
    CreateGroup {
        name: String,
        members: Vec<UserRef>,
        public: bool,
    },
    OpenDirect {
        user: UserRef,
    },
    OpenBot {
        /// The bot's handle.
        bot: String,
    },
    Join {
        room: RoomId,
        after_seq: Option<i64>,
        limit: i64,
    },
    Leave {
        room: RoomId,
        forget: bool,
    },
    Send {
        room: RoomId,
        body: String,
        client_msg_id: Option<String>,
        /// The files the message carries, at most 10, none twice.
        files: Vec<FileId>,
    },
    History {
        room: RoomId,
        before_seq: Option<i64>,
        limit: i64,
    },
    Read {
        room: RoomId,
        seq: i64,
    },
    Typing {
        room: RoomId,
    },
    /// The caller's notification level for the room (section 12).
    Notify {
        room: RoomId,
        level: crate::notify::Level,
    },
    Action {
        room: RoomId,
        message: MessageId,
        action: String,
    },
    Invite {
        room: RoomId,
        user: UserRef,
    },
    Kick {
        room: RoomId,
        user: UserRef,
    },
    /// Leave (and forget) every group `owner` owns that the caller is in.
    LeaveGroups {
        owner: UserRef,
    },
    /// The directory: people and bots whose name starts with `query` (section 10).
    Users {
        query: String,
        /// The previous page's `next`: the wire id of its last entry.
        after: Option<UserRef>,
        limit: i64,
    },
}

/// A page of `rooms`: the rooms after `after` (the previous page's `next`), by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomsPage {
    pub after: Option<RoomId>,
    pub limit: i64,
}

impl Command {
    /// The room the command is about.
    pub fn room(&self) -> Option<RoomId> {
        match self {
            Command::Join { room, .. }
            | Command::Leave { room, .. }
            | Command::Send { room, .. }
            | Command::History { room, .. }
            | Command::Read { room, .. }
            | Command::Typing { room }
            | Command::Notify { room, .. }
            | Command::Action { room, .. }
            | Command::Invite { room, .. }
            | Command::Kick { room, .. } => Some(*room),
            Command::Ping
            | Command::Rooms { .. }
            | Command::CreateGroup { .. }
            | Command::OpenDirect { .. }
            | Command::OpenBot { .. }
            | Command::LeaveGroups { .. }
            | Command::Users { .. } => None,
        }
    }

    /// The `type` this command came as; used in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Ping => "ping",
            Command::Rooms { .. } => "rooms",
            Command::CreateGroup { .. } => "create_group",
            Command::OpenDirect { .. } => "open_direct",
            Command::OpenBot { .. } => "open_bot",
            Command::Join { .. } => "join",
            Command::Leave { .. } => "leave",
            Command::Send { .. } => "send",
            Command::History { .. } => "history",
            Command::Read { .. } => "read",
            Command::Typing { .. } => "typing",
            Command::Notify { .. } => "notify",
            Command::Action { .. } => "action",
            Command::Invite { .. } => "invite",
            Command::Kick { .. } => "kick",
            Command::LeaveGroups { .. } => "leave_groups",
            Command::Users { .. } => "users",
        }
    }
}

/// A parsed client frame: the command and the id to echo.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientFrame {
    pub id: ReplyId,
    pub command: Command,
}

/// A frame that could not be parsed: the error, and the id to echo when one was readable.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    pub id: ReplyId,
    pub error: ProtoError,
}

pub fn parse(text: &str) -> Result<ClientFrame, Rejected> {
    let reject = |id: &ReplyId, error: ProtoError| Rejected {
        id: id.clone(),
        error,
    };
    let value: Value = match json::parse(text) {
        Ok(value) => value,
        Err(JsonError::Syntax(err)) => {
            return Err(reject(
                &ReplyId::None,
                ProtoError::bad_request(format!("the frame is not JSON: {err}")),
            ))
        }
        // The frame is JSON that will not be run; its id is echoed if it can be trusted.
        Err(err) => {
            let id = if err.spoils_id() {
                ReplyId::None
            } else {
                lenient_id(text)
            };
            return Err(reject(&id, ProtoError::bad_request(err.to_string())));
        }
    };
    let Value::Object(object) = value else {
        return Err(reject(
            &ReplyId::None,
            ProtoError::bad_request("a frame must be a JSON object"),
        ));
    };
    let id = reply_id(&object).map_err(|error| reject(&ReplyId::None, error))?;
    let command = command(&object).map_err(|error| reject(&id, error))?;
    Ok(ClientFrame { id, command })
}

/// The id of a frame that will not be processed (over the rate limit), to echo it.
pub fn peek_id(text: &str) -> ReplyId {
    match json::parse(text) {
        Ok(Value::Object(object)) => reply_id(&object).unwrap_or_default(),
        Err(err) if !err.spoils_id() => lenient_id(text),
        _ => ReplyId::None,
    }
}

/// The top-level `id` of a frame that is JSON but was refused by the strict reading.
fn lenient_id(text: &str) -> ReplyId {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => reply_id(&object).unwrap_or_default(),
        _ => ReplyId::None,
    }
}

fn reply_id(object: &Map<String, Value>) -> Result<ReplyId, ProtoError> {
    let invalid = || {
        ProtoError::bad_request(format!(
            "`id` must be a string or an integer of at most {MAX_ID_CHARS} characters"
        ))
    };
    match object.get("id") {
        None => Ok(ReplyId::None),
        Some(Value::String(text)) if char_count(text) <= MAX_ID_CHARS => {
            Ok(ReplyId::Text(text.clone()))
        }
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Ok(ReplyId::Number(number.clone()))
        }
        Some(_) => Err(invalid()),
    }
}

fn command(object: &Map<String, Value>) -> Result<Command, ProtoError> {
    let fields = Fields(object);
    let kind = match object.get("type") {
        None => return Err(ProtoError::bad_request("missing field `type`")),
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(ProtoError::bad_request("field `type` must be a string")),
    };
    // Ids are turned into types after every other field is checked, so a frame with a
    // malformed field and an id that names nothing is answered as it always was; an id
    // that is not canonical is answered exactly as one that names nothing.
    let room = || fields.id("room");
    let command = match kind {
        "ping" => Command::Ping,
        "rooms" => Command::Rooms {
            page: match object.contains_key("limit") || object.contains_key("after") {
                false => None,
                true => Some(RoomsPage {
                    after: match fields.opt_id("after")? {
                        None => None,
                        Some(text) => Some(text.parse().map_err(|_| bad_rooms_cursor())?),
                    },
                    limit: fields.limit("limit", DEFAULT_ROOMS_PAGE, MAX_ROOMS_PAGE)?,
                }),
            },
        },
        "create_group" => {
            let name = group_name(fields.string("name")?)?;
            let members = fields.id_list("members", MAX_GROUP_MEMBERS)?;
            let public = fields.bool_or("public", false)?;
            Command::CreateGroup {
                name,
                members: members
                    .into_iter()
                    .map(user_ref)
                    .collect::<Result<_, _>>()?,
                public,
            }
        }
        "open_direct" => Command::OpenDirect {
            user: user_ref(fields.id("user")?)?,
        },
        "open_bot" => Command::OpenBot {
            bot: fields.id("bot")?.to_string(),
        },
        "join" => {
            let room = room()?;
            let after_seq = fields.opt_seq("after_seq")?;
            let limit = fields.limit("limit", DEFAULT_PAGE, MAX_PAGE)?;
            Command::Join {
                room: room_id(room)?,
                after_seq,
                limit,
            }
        }
        "leave" => {
            let room = room()?;
            let forget = fields.bool_or("forget", false)?;
            Command::Leave {
                room: room_id(room)?,
                forget,
            }
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
            Command::Send {
                room: room_id(room)?,
                body,
                client_msg_id,
                files,
            }
        }
        "history" => {
            let room = room()?;
            let before_seq = fields.opt_seq("before_seq")?;
            let limit = fields.limit("limit", DEFAULT_PAGE, MAX_PAGE)?;
            Command::History {
                room: room_id(room)?,
                before_seq,
                limit,
            }
        }
        "read" => {
            let room = room()?;
            let seq = fields.seq("seq")?;
            Command::Read {
                room: room_id(room)?,
                seq,
            }
        }
        "typing" => Command::Typing {
            room: room_id(room()?)?,
        },
        "notify" => {
            let level = fields.string("level")?;
            let level = crate::notify::Level::parse(level).ok_or_else(|| {
                ProtoError::bad_request("field `level` must be \"all\", \"mentions\" or \"none\"")
            })?;
            Command::Notify {
                room: room_id(room()?)?,
                level,
            }
        }
        "action" => {
            let room = room()?;
            let message = fields.id("message")?;
            let action = fields.id("action")?.to_string();
            Command::Action {
                room: room_id(room)?,
                message: message_id(message)?,
                action,
            }
        }
        "invite" => {
            let room = room()?;
            let user = user_ref(fields.id("user")?)?;
            Command::Invite {
                room: room_id(room)?,
                user,
            }
        }
        "kick" => {
            let room = room()?;
            let user = user_ref(fields.id("user")?)?;
            Command::Kick {
                room: room_id(room)?,
                user,
            }
        }
        "leave_groups" => Command::LeaveGroups {
            owner: user_ref(fields.id("owner")?)?,
        },
        "users" => Command::Users {
            query: directory_query(fields.opt_string("query")?)?,
            after: match fields.opt_id("after")? {
                None => None,
                Some(text) => Some(text.parse().map_err(|_| bad_cursor())?),
            },
            limit: fields.limit("limit", DEFAULT_DIRECTORY_PAGE, MAX_DIRECTORY_PAGE)?,
        },
        other => {
            let shown: String = other.chars().take(MAX_ID_CHARS).collect();
            return Err(ProtoError::new(
                ErrorCode::UnknownType,
                format!("unknown type {shown:?}"),
            ));
        }
    };
    Ok(command)
}

/// A room id; one that is not canonical is `not_found` like a room that does not exist.
fn room_id(text: &str) -> Result<RoomId, ProtoError> {
    text.parse().map_err(|_| ProtoError::no_such_room())
}

/// A user reference; `u_` with anything but a canonical number is `not_found` like an id
/// nobody has.
fn user_ref(text: &str) -> Result<UserRef, ProtoError> {
    text.parse()
        .map_err(|_| ProtoError::no_such_user_named(text))
}

/// A message id. One that is not canonical is answered as the room answers an id of a
/// message it does not hold.
fn message_id(text: &str) -> Result<MessageId, ProtoError> {
    text.parse()
        .map_err(|_| ProtoError::bad_request(format!("message {text:?} is not in this room")))
}

/// A message body: 1 to 4,000 code points.
pub fn body(text: &str) -> Result<String, ProtoError> {
    let chars = char_count(text);
    if chars == 0 {
        return Err(ProtoError::bad_request("field `body` must not be empty"));
    }
    if chars > MAX_BODY_CHARS {
        return Err(ProtoError::too_large(format!(
            "the body has {chars} characters; at most {MAX_BODY_CHARS} are allowed"
        )));
    }
    Ok(text.to_string())
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

/// A `users` query: a name prefix of at most 64 code points; absent is everyone.
fn directory_query(text: Option<&str>) -> Result<String, ProtoError> {
    let text = text.unwrap_or_default();
    if char_count(text) > MAX_QUERY_CHARS {
        return Err(ProtoError::bad_request(format!(
            "field `query` must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(text.to_string())
}

/// An `after` of `rooms` that is not a room id.
fn bad_rooms_cursor() -> ProtoError {
    ProtoError::bad_request("field `after` must be the `next` of an earlier `rooms` page")
}

/// An `after` that no page of `users` gave as its `next`.
pub fn bad_cursor() -> ProtoError {
    ProtoError::bad_request("field `after` must be the `next` of an earlier `users` page")
}

#[cfg(test)]
mod tests;
