//! Server frames: `hello`, replies (`ok` / `error`) and events, each serialized once into a
//! cheaply cloneable text frame so that a room's fan-out shares one buffer.

use bytestring::ByteString;
use serde::Serialize;
use serde_json::{json, Value};

use super::views::{MessageView, RoomView, UserView};
use crate::error::ProtoError;

/// One serialized text frame.
pub type Frame = ByteString;

/// The `id` a client put on a command, echoed in the reply (`null` when there was none or
/// it was not valid).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ReplyId {
    #[default]
    None,
    Text(String),
    Number(serde_json::Number),
}

#[derive(Serialize)]
struct Ok<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a ReplyId,
    data: T,
}

#[derive(Serialize)]
struct Error<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a ReplyId,
    code: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

fn to_frame(value: &impl Serialize) -> Frame {
    // Serializing these plain structs cannot fail: no maps with non-string keys.
    ByteString::from(serde_json::to_string(value).unwrap_or_default())
}

pub fn ok(id: &ReplyId, data: impl Serialize) -> Frame {
    to_frame(&Ok {
        kind: "ok",
        id,
        data,
    })
}

pub fn error(id: &ReplyId, err: &ProtoError) -> Frame {
    crate::metrics::METRICS
        .errors
        .with_label_values(&[err.code.as_str()])
        .inc();
    to_frame(&Error {
        kind: "error",
        id,
        code: err.code.as_str(),
        message: &err.message,
        retry_after_ms: err.retry_after_ms,
    })
}

pub fn hello(session: &str, user: &UserView, heartbeat_s: u64) -> Frame {
    to_frame(&json!({
        "type": "hello",
        "protocol": 1,
        "session": session,
        "user": user,
        "heartbeat_s": heartbeat_s,
    }))
}

/// Server events of docs/protocol.md section 5.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Message {
        message: MessageView,
    },
    MemberJoined {
        room: String,
        user: UserView,
    },
    MemberLeft {
        room: String,
        user: UserView,
    },
    Typing {
        room: String,
        user: UserView,
    },
    Read {
        room: String,
        user: UserView,
        seq: i64,
    },
    Presence {
        user: UserView,
        online: bool,
    },
    RoomAdded {
        room: RoomView,
    },
    RoomRemoved {
        room: String,
    },
    Notice {
        body: String,
    },
}

impl Event {
    pub fn frame(&self) -> Frame {
        to_frame(self)
    }
}

/// `data` of a reply that carries nothing.
pub fn empty() -> Value {
    json!({})
}
