//! Every message that crosses from one actor to another, and the small handles of
//! [`Recipient`]s that carry them. A leaf: it imports no actor, so rooms, bots and sessions
//! talk to their supervisor (the hub) and to each other without importing one another, and
//! each can be started in a test with whatever answers these messages.

use std::collections::HashMap;

use actix::prelude::*;
use serde_json::Value;

pub use super::origin::{Caller, Origin};
use super::outbox::Outbox;
use super::presence::Presence;
use crate::db::models::{StoredMessage, UserRow};
use crate::error::ProtoError;
use crate::model::{RoomId, UserId};
use crate::protocol::views::{MemberView, RoomView};
use crate::protocol::{Frame, RoomCommand};

pub use super::origin::SessionKey;

// ---- What sessions, rooms and bots tell their supervisor -------------------------------

/// A connection opened.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub user: UserRow,
    pub session: SessionKey,
    /// The id of the `pv_` token it signed in with (`None` for a JWT).
    pub token_id: Option<i64>,
    pub outbox: Outbox,
    /// Told when the connection is closed from outside.
    pub closed: Recipient<Closed>,
}

/// A connection closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub user: UserRow,
    pub session: SessionKey,
}

/// The live actor of a room, started if there is none. A room that does not exist answers
/// every request with `not_found` and stops.
#[derive(Message)]
#[rtype(result = "RoomHandle")]
pub struct GetRoom {
    pub id: RoomId,
}

/// A room stopped on purpose (idle, deleted or missing).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    pub id: RoomId,
    pub room: RoomHandle,
}

/// A room actor died without stopping: start it again from the store, with the
/// connections that had joined it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomCrashed {
    pub id: RoomId,
    pub inheritance: Inheritance,
}

/// A connection that has joined a room and gets its events.
#[derive(Clone)]
pub struct Subscriber {
    pub user_id: UserId,
    pub outbox: Outbox,
}

/// What a restarted room takes over from the one that crashed.
pub struct Inheritance {
    pub subscribers: HashMap<SessionKey, Subscriber>,
    pub delivered_seq: i64,
    /// The last change (`rev`) it delivered.
    pub delivered_rev: i64,
}

/// An event for every connection of one user (`room_added`, `room_removed`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct NotifyUser {
    pub user_id: UserId,
    /// The connection whose own command caused this: it has the reply instead.
    pub except: Option<SessionKey>,
    pub frame: Frame,
}

/// A turn for the bot of a bot room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToBot {
    pub bot: String,
    pub room_id: RoomId,
    pub turn: Turn,
}

/// The user a bot posts as, if the bot exists.
#[derive(Message)]
#[rtype(result = "Option<UserRow>")]
pub struct FindBot {
    pub id: String,
}

/// What the directory (`users`) needs of the hub: the users of the bots `open_bot` can
/// open on this node, and who is online.
#[derive(Message)]
#[rtype(result = "DirectoryScope")]
pub struct GetDirectoryScope;

pub struct DirectoryScope {
    pub bot_ids: Vec<UserId>,
    pub presence: Presence,
}

/// A bot actor died without stopping: start it again with its definition.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BotCrashed {
    pub id: String,
}

// ---- What the supervisor tells a session ------------------------------------------------

/// The connection was closed from outside (admin, shutdown, overflow): stop reading.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Closed;

// ---- What a room answers ---------------------------------------------------------------

/// A connection's command to a room. A post ([`RoomCommand::is_post`]) is answered by the
/// room through its [`Origin`] and the session waits for nothing; any other command is
/// answered with the result.
#[derive(Message)]
#[rtype(result = "Result<Reply, ProtoError>")]
pub struct ToRoom {
    pub origin: Origin,
    pub command: RoomCommand,
}

/// How a command was answered.
#[derive(Debug)]
pub enum Reply {
    /// The session writes `{"type":"ok","data":…}`.
    Data(Value),
    /// The room wrote the reply into the caller's outbox, in its place among the room's
    /// events (the `ok` of a `join` comes before the events that follow it), or answers a
    /// post through its [`Origin`].
    Written,
}

/// A message from someone who is not a connection: the system (admin API) or a bot.
#[derive(Message)]
#[rtype(result = "Result<StoredMessage, ProtoError>")]
pub struct Post {
    pub sender: UserRow,
    pub body: String,
    pub template: Option<Value>,
    pub action: Option<Value>,
}

/// The admin API's changes to a room.
#[derive(Message)]
#[rtype(result = "Result<AdminReply, ProtoError>")]
pub enum AdminOp {
    Describe,
    AddMember {
        user: UserRow,
    },
    RemoveMember {
        user_id: UserId,
    },
    Delete,
    /// Section 11: delete any message of the room (it leaves a tombstone).
    DeleteMessage {
        seq: i64,
    },
}

#[derive(Debug)]
pub enum AdminReply {
    Described {
        room: RoomView,
        members: Vec<MemberView>,
    },
    Done,
}

/// A connection went away.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session: SessionKey,
}

// ---- What a bot answers ----------------------------------------------------------------

/// Something a bot must answer.
#[derive(Clone, Debug)]
pub enum Turn {
    /// The room was just opened: greet.
    Greet { user: UserRow },
    /// The user wrote or pressed something (the stored message).
    Heard {
        user: UserRow,
        message: Box<StoredMessage>,
    },
}

// ---- Handles ---------------------------------------------------------------------------

/// One live room, as sessions, bots and the admin API reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomHandle {
    pub command: Recipient<ToRoom>,
    pub post: Recipient<Post>,
    pub admin: Recipient<AdminOp>,
    pub unsubscribe: Recipient<Unsubscribe>,
}

impl RoomHandle {
    /// False once the room's actor has stopped.
    pub fn connected(&self) -> bool {
        self.command.connected()
    }
}

/// What a session needs of its supervisor.
#[derive(Clone)]
pub struct SessionSupervisor {
    pub connect: Recipient<Connect>,
    pub disconnect: Recipient<Disconnect>,
    pub get_room: Recipient<GetRoom>,
    pub notify: Recipient<NotifyUser>,
    pub to_bot: Recipient<ToBot>,
    pub find_bot: Recipient<FindBot>,
    pub directory_scope: Recipient<GetDirectoryScope>,
    pub rooms_changed: Recipient<RoomsChanged>,
}

/// Rooms whose `authz_version` a change made outside them moved (a block, section 13):
/// each one live on this node reads itself again, and the other nodes are told.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RoomsChanged {
    pub rooms: Vec<RoomId>,
}

/// What a room needs of its supervisor.
#[derive(Clone)]
pub struct RoomSupervisor {
    pub stopped: Recipient<RoomStopped>,
    pub crashed: Recipient<RoomCrashed>,
    pub notify: Recipient<NotifyUser>,
    pub to_bot: Recipient<ToBot>,
}

/// What a bot needs of its supervisor.
#[derive(Clone)]
pub struct BotSupervisor {
    pub get_room: Recipient<GetRoom>,
    pub crashed: Recipient<BotCrashed>,
}
