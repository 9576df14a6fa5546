//! What nodes tell each other over Redis, and on which channel. Every event names the node
//! that sent it, so a node skips its own (it delivered them locally already). JSON, read
//! once per node by the bus.

use serde::{Deserialize, Serialize};

use crate::db::models::StoredMessage;
use crate::model::UserId;

/// Channel names, all under one prefix so a Redis shared with other programs stays tidy.
pub mod channel {
    use crate::model::{RoomId, UserId};

    /// Events of one room: its committed messages and the frames for its joined connections.
    pub fn room(room_id: RoomId) -> String {
        format!("palaver:room:{}", room_id.0)
    }

    /// Events for one user's connections, wherever they are.
    pub fn user(user_id: UserId) -> String {
        format!("palaver:user:{}", user_id.0)
    }

    /// Events for every node: broadcasts, presence, node heartbeats.
    pub const ALL: &str = "palaver:all";
}

/// One event on the bus.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub node: String,
    pub event: Event,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    // On a room's channel.
    /// Newly committed messages of the room, ascending by seq.
    Messages { messages: Vec<StoredMessage> },
    /// Changes committed to the room's messages (section 11), each the message at its new
    /// `rev`, ascending.
    Changes {
        messages: Vec<crate::db::conversation::FullMessage>,
    },
    /// A frame for every connection that joined the room (typing, read, member events),
    /// except those of `except_user` (a typist does not see their own typing).
    RoomFrame {
        frame: String,
        except_user: Option<UserId>,
    },
    /// The room's members or settings changed: reload them from the store.
    RoomChanged,
    /// A member's read position moved to `seq` (kept in the room's memory for room views)
    /// and `frame` is the `read` event for joined connections.
    Read {
        user_id: UserId,
        seq: i64,
        frame: String,
    },
    /// The user's first connection joined the room on the sending node (`joined`), or their
    /// last one left it (for notifications: `cluster/joins.rs`).
    Joined { user_id: UserId, joined: bool },
    /// A room just started on the sending node: who is joined on yours?
    JoinsWanted,
    /// Everyone joined to the room on the sending node.
    Joins { users: Vec<UserId> },

    // On a user's channel.
    /// A frame for every connection of the user (room_added, room_removed, notices).
    UserFrame { user_id: UserId, frame: String },
    /// Close the user's connections with this code (4001 on revocation or an
    /// admin's disconnect), after telling them `frame` if there is one.
    CloseUser {
        user_id: UserId,
        /// Only the connections signed in with this token; none: all of them.
        token_id: Option<i64>,
        code: crate::protocol::CloseCode,
        reason: String,
        frame: Option<String>,
    },

    // On the channel of all nodes.
    /// A frame for every connection on every node (an admin's broadcast).
    Broadcast { frame: String },
    /// The user's first connection on the sending node opened, or its last one closed.
    Presence { user_id: UserId, online: bool },
    /// A bot was installed, replaced or deleted through the sending node's admin API:
    /// read its definition from the store again (gone: stop it).
    BotChanged { id: String },
    /// The sending node is alive, with its counts for the admin API's cluster-wide
    /// answers; sent every few seconds. A node not heard from for a while is taken as gone,
    /// its users offline (its presence set in Redis expires too).
    Alive { connections: u64, rooms: u64 },
}
