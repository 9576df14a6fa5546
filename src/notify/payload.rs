//! What a notification carries (docs/protocol.md section 12), the same JSON for every
//! provider: `{"type":"message","room":{…},"message":{…,"excerpt":…},"count":N,"unread":N}`.

use serde::Serialize;

use crate::model::{MessageId, RoomId, RoomKind, UserKind, UserRef};

/// Code points of the newest message's body a notification shows.
pub const EXCERPT_CHARS: usize = 200;

/// `--push-preview`: whether notifications show what was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preview {
    /// The first 200 code points of the body.
    #[default]
    Full,
    /// `""`: the provider never sees what was written.
    None,
}

impl std::str::FromStr for Preview {
    type Err = String;

    fn from_str(text: &str) -> Result<Preview, String> {
        match text {
            "full" => Ok(Preview::Full),
            "none" => Ok(Preview::None),
            _ => Err(format!(
                "{text:?} is not a preview: use full (the first 200 characters) or none"
            )),
        }
    }
}

/// The room as the notified user sees it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RoomRef {
    pub id: String,
    pub kind: RoomKind,
    /// A group's name; for direct and bot rooms the other party's name.
    pub name: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MessageRef {
    pub id: String,
    pub seq: i64,
    pub sender: Sender,
    pub excerpt: String,
}

/// Who wrote the message, as a message's `sender` is written: `{"id","name","kind"}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Sender {
    /// `u_N`, or a bot's handle.
    pub id: UserRef,
    pub name: String,
    pub kind: UserKind,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Payload {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub room: RoomRef,
    pub message: MessageRef,
    /// The messages this notification stands for (not a running total).
    pub count: i64,
    /// The user's unread messages over all rooms: the badge.
    pub unread: i64,
}

/// The newest message of a notification, as the store reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Newest<'a> {
    pub room_id: i64,
    pub room_kind: RoomKind,
    pub room_name: Option<String>,
    pub seq: i64,
    pub sender: &'a Sender,
    pub body: &'a str,
}

/// The first [`EXCERPT_CHARS`] code points of `body`, or `""` without previews.
pub fn excerpt(body: &str, preview: Preview) -> String {
    match preview {
        Preview::None => String::new(),
        Preview::Full => body.chars().take(EXCERPT_CHARS).collect(),
    }
}

impl Payload {
    pub fn new(newest: &Newest<'_>, count: i64, unread: i64, preview: Preview) -> Payload {
        Payload {
            kind: "message",
            room: RoomRef {
                id: RoomId(newest.room_id).to_string(),
                kind: newest.room_kind,
                name: newest.room_name.clone(),
            },
            message: MessageRef {
                id: MessageId {
                    room: RoomId(newest.room_id),
                    seq: newest.seq,
                }
                .to_string(),
                seq: newest.seq,
                sender: newest.sender.clone(),
                excerpt: excerpt(newest.body, preview),
            },
            count,
            unread,
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The collapse key of a room's notifications (Web Push `Topic`, FCM `collapse_key`, APNs
/// `apns-collapse-id`): a later one replaces the earlier on the device. At most 32
/// URL-safe characters, as RFC 8030's `Topic` requires.
pub fn collapse_key(room_id: i64) -> String {
    format!("r_{room_id}")
}

#[cfg(test)]
mod tests {
    use crate::model::UserId;
    use serde_json::json;

    use super::*;

    fn amy() -> Sender {
        Sender {
            id: UserRef::Id(UserId(12)),
            name: "amy".into(),
            kind: UserKind::User,
        }
    }

    #[test]
    fn the_payload_is_exactly_section_12() {
        let sender = amy();
        let newest = Newest {
            room_id: 3,
            room_kind: RoomKind::Direct,
            room_name: Some("amy".into()),
            seq: 121,
            sender: &sender,
            body: "is x=3 right?",
        };
        let payload = Payload::new(&newest, 2, 5, Preview::Full);
        let value: serde_json::Value =
            serde_json::from_str(&payload.to_json()).expect("payload JSON");
        assert_eq!(
            value,
            json!({
                "type": "message",
                "room": {"id": "r_3", "kind": "direct", "name": "amy"},
                "message": {
                    "id": "m_3_121",
                    "seq": 121,
                    "sender": {"id": "u_12", "name": "amy", "kind": "user"},
                    "excerpt": "is x=3 right?"
                },
                "count": 2,
                "unread": 5
            })
        );
        let hidden = Payload::new(&newest, 1, 1, Preview::None);
        assert_eq!(hidden.message.excerpt, "");
    }

    #[test]
    fn the_excerpt_is_200_code_points() {
        let body: String = "가".repeat(150) + &"é".repeat(100);
        let cut = excerpt(&body, Preview::Full);
        assert_eq!(cut.chars().count(), 200);
        assert!(cut.starts_with(&"가".repeat(150)));
        assert_eq!(excerpt("short", Preview::Full), "short");
        assert_eq!(excerpt("short", Preview::None), "");
    }

    #[test]
    fn previews_parse_from_the_flag() {
        assert_eq!("none".parse::<Preview>(), Ok(Preview::None));
        assert_eq!("full".parse::<Preview>(), Ok(Preview::Full));
        assert!("some".parse::<Preview>().is_err());
    }

    #[test]
    fn the_collapse_key_is_a_valid_topic() {
        let key = collapse_key(i64::MAX);
        assert!(key.len() <= 32);
        assert!(key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }
}
