//! Client frames, parsed once into a [`Command`] (docs/protocol.md sections 2 and 4). Everything
//! a client can get wrong is caught here, before any actor sees the command.

use serde_json::{Map, Value};

use super::fields::{char_count, Fields, MAX_ID_CHARS};
use super::frames::ReplyId;
use super::ids::{MessageId, RoomId, UserRef};
use super::json::{self, JsonError};
use super::room_command::{self, user_ref};
pub use super::room_command::{
    body, RoomCommand, DEFAULT_PAGE, MAX_BODY_CHARS, MAX_MESSAGE_FILES, MAX_PAGE,
};
use crate::error::{ErrorCode, ProtoError};
use crate::model::names::group_name;

/// Most members a `create_group` may name.
pub const MAX_GROUP_MEMBERS: usize = 1000;
/// Page sizes of `users` (the directory).
pub const DEFAULT_DIRECTORY_PAGE: i64 = 20;
pub const MAX_DIRECTORY_PAGE: i64 = 50;
/// Page sizes of `rooms` when paged (section 4): without `limit` it answers every room.
pub const DEFAULT_ROOMS_PAGE: i64 = 100;
pub const MAX_ROOMS_PAGE: i64 = 500;
/// Longest `users` query: a prefix longer than any name could match nothing.
pub const MAX_QUERY_CHARS: usize = crate::model::names::MAX_USER_NAME;

/// A parsed command: one addressed to a room, or one of the few that are not.
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
    /// Section 11: messages containing every word of a query, in the caller's rooms.
    Search(super::conversation::Search),
    /// A report of a message the caller can see (section 13).
    Report {
        room: RoomId,
        message: MessageId,
        reason: crate::safety::ReportReason,
        note: Option<String>,
    },
    /// Section 13: the caller blocks (`on`) or unblocks a user.
    Block {
        user: UserRef,
        on: bool,
    },
    /// Section 13: the users the caller blocks.
    Blocks,
    /// A command addressed to one room, which runs it.
    Room {
        room: RoomId,
        op: RoomCommand,
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
            Command::Room { room, .. } => Some(*room),
            _ => None,
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
            Command::LeaveGroups { .. } => "leave_groups",
            Command::Users { .. } => "users",
            Command::Search(_) => "search",
            Command::Report { .. } => "report",
            Command::Block { .. } => "block",
            Command::Blocks => "blocks",
            Command::Room { op, .. } => op.name(),
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
    if let Some((room, op)) = room_command::parse(kind, &fields)? {
        return Ok(Command::Room { room, op });
    }
    if let Some((room, op)) = super::conversation::parse_room(kind, &fields)? {
        return Ok(Command::Room { room, op });
    }
    // Ids are turned into types after every other field is checked (as in
    // `room_command::parse`).
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
        "search" => Command::Search(super::conversation::parse_search(&fields)?),
        "report" => report(&fields)?,
        "block" => {
            let on = fields.bool_or("on", true)?;
            Command::Block {
                user: user_ref(fields.id("user")?)?,
                on,
            }
        }
        "blocks" => Command::Blocks,
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

/// `report`: the room, a message of it, a reason a person may give, a note of at most
/// 1,000 code points.
fn report(fields: &Fields) -> Result<Command, ProtoError> {
    let reason = fields.string("reason")?;
    let reason = crate::safety::ReportReason::from_person(reason).ok_or_else(|| {
        ProtoError::bad_request(
            "field `reason` must be \"spam\", \"abuse\", \"sexual\", \"self_harm\" or \"other\"",
        )
    })?;
    let note = fields.opt_string("note")?;
    if note.is_some_and(|note| char_count(note) > crate::safety::MAX_NOTE_CHARS) {
        return Err(ProtoError::bad_request(format!(
            "field `note` must be at most {} characters",
            crate::safety::MAX_NOTE_CHARS
        )));
    }
    let room: RoomId = fields
        .id("room")?
        .parse()
        .map_err(|_| ProtoError::no_such_room())?;
    let text = fields.id("message")?;
    let message: MessageId = text
        .parse()
        .ok()
        .filter(|message: &MessageId| message.room == room)
        .ok_or_else(|| ProtoError::not_found(format!("message {text:?} is not in this room")))?;
    Ok(Command::Report {
        room,
        message,
        reason,
        note: note.map(str::to_string),
    })
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
