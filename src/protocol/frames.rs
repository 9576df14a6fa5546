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

/// The frame of `value`, for the command `id` (`ReplyId::None` for events). Serializing
/// can only fail on a bug (a map with non-string keys, a failing `Serialize`): then the
/// client gets an `internal` error instead, and the failure is logged, never an empty frame.
fn to_frame(value: &impl Serialize, id: &ReplyId) -> Frame {
    match serde_json::to_string(value) {
        Ok(mut text) => {
            // serde_json grows its buffer by doubling, so a frame could hold up to twice its
            // length; frames wait in queues (a client that stops reading holds up to
            // --outbound-queue of them until it is closed 4002), so each keeps only its length.
            text.shrink_to_fit();
            ByteString::from(text)
        }
        Err(err) => {
            log::error!("a server frame could not be serialized (a bug): {err}");
            unwritable(id)
        }
    }
}

/// The `internal` error that stands for a frame that could not be written.
fn unwritable(id: &ReplyId) -> Frame {
    let err = ProtoError::internal("the server could not write this frame");
    crate::metrics::METRICS
        .errors
        .with_label_values(&[err.code.as_str()])
        .inc();
    let frame = Error {
        kind: "error",
        id,
        code: err.code.as_str(),
        message: &err.message,
        retry_after_ms: None,
    };
    // An `Error` holds only strings and numbers, so this cannot fail; if it did, the
    // same frame without the id.
    serde_json::to_string(&frame).map_or_else(
        |_| {
            ByteString::from_static(
                r#"{"type":"error","id":null,"code":"internal","message":"the server could not write this frame"}"#,
            )
        },
        ByteString::from,
    )
}

pub fn ok(id: &ReplyId, data: impl Serialize) -> Frame {
    to_frame(
        &Ok {
            kind: "ok",
            id,
            data,
        },
        id,
    )
}

/// The `ok` answer to a `send`: `{"message": …}`, written straight from the view (no
/// `serde_json::Value` tree in between: this is one frame per message sent).
pub fn sent(id: &ReplyId, message: &MessageView) -> Frame {
    #[derive(Serialize)]
    struct Sent<'a> {
        message: &'a MessageView,
    }
    ok(id, Sent { message })
}

pub fn error(id: &ReplyId, err: &ProtoError) -> Frame {
    crate::metrics::METRICS
        .errors
        .with_label_values(&[err.code.as_str()])
        .inc();
    to_frame(
        &Error {
            kind: "error",
            id,
            code: err.code.as_str(),
            message: &err.message,
            retry_after_ms: err.retry_after_ms,
        },
        id,
    )
}

pub fn hello(session: &str, user: &UserView, heartbeat_s: u64) -> Frame {
    to_frame(
        &json!({
            "type": "hello",
            "protocol": 1,
            "session": session,
            "user": user,
            "heartbeat_s": heartbeat_s,
        }),
        &ReplyId::None,
    )
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
    /// Section 13: a member's role or mute changed (`muted_until`: RFC 3339, `null` when
    /// not muted).
    MemberUpdated {
        room: String,
        user: UserView,
        role: crate::safety::Role,
        muted_until: Option<String>,
    },
    /// Section 11: a message changed (edit, delete, reaction), with the room's `rev` of it.
    MessageUpdated {
        room: String,
        rev: i64,
        message: MessageView,
    },
}

impl Event {
    pub fn frame(&self) -> Frame {
        to_frame(self, &ReplyId::None)
    }
}

/// `data` of a reply that carries nothing.
pub fn empty() -> Value {
    json!({})
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_send_is_answered_with_the_message_as_ok_data() {
        let message = MessageView {
            id: "m_1_2".into(),
            room: "r_1".into(),
            seq: 2,
            ts: "2026-12-01T19:00:00.000Z".into(),
            sender: UserView {
                id: "u_3".into(),
                name: "amy".into(),
                kind: crate::db::models::UserKind::User,
                online: None,
            },
            body: "hi".into(),
            template: None,
            client_msg_id: Some("c1".into()),
            action: None,
            files: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            edited: None,
            deleted: false,
            reactions: Vec::new(),
            rev: 0,
            blocked: false,
        };
        let frame = sent(&ReplyId::Number(5.into()), &message);
        let value: Value = serde_json::from_str(&frame).expect("a JSON frame");
        assert_eq!(
            value,
            json!({"type": "ok", "id": 5, "data": {"message": serde_json::to_value(&message).expect("a view")}})
        );
        assert_eq!(value["data"]["message"]["client_msg_id"], "c1");
    }

    #[test]
    fn data_that_cannot_be_serialized_is_an_internal_error_not_an_empty_frame() {
        // JSON object keys must be strings: a map keyed by lists cannot be written.
        let unwritable: BTreeMap<Vec<u8>, i32> = BTreeMap::from([(vec![1], 1)]);
        let frame = ok(&ReplyId::Number(7.into()), &unwritable);
        let value: Value = serde_json::from_str(&frame).expect("a JSON frame");
        assert_eq!(
            value,
            json!({
                "type": "error",
                "id": 7,
                "code": "internal",
                "message": "the server could not write this frame",
            })
        );
        let fine = ok(&ReplyId::Text("a".into()), json!({"x": 1}));
        assert_eq!(&*fine, r#"{"type":"ok","id":"a","data":{"x":1}}"#);
    }

    #[test]
    fn a_frame_keeps_no_spare_capacity() {
        // Serialized into a buffer that doubled to 4,096 bytes for some 3,030: the frame that
        // waits in outbound queues must not keep the 1,066 spare ones.
        let frame = ok(&ReplyId::None, json!({"body": "x".repeat(3000)}));
        let length = frame.len();
        assert!(length > 2048 && length < 4096, "length {length}");
        let buffer = frame
            .into_bytes()
            .try_into_mut()
            .expect("nothing else holds the frame");
        assert_eq!(buffer.capacity(), length);
    }
}
