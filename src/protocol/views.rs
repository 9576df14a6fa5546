//! The objects of docs/protocol.md section 3 (User, Room, Message) and section 9 (File) as
//! they go on the wire.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::ids::{self, FileId, MessageId, RoomId};
use crate::db::models::{FileRow, RoomKind, StoredMessage, UserKind, UserRow};
use crate::db::RoomSummary;

/// A user, bot or the system: `{"id":"u_12","name":"amy","kind":"user","online":true}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    /// `u_N`, or a bot's or the system's handle (`mathbot`, `system`).
    pub id: String,
    pub name: String,
    /// `user`, `bot` or `system`.
    #[schema(value_type = String)]
    pub kind: UserKind,
    /// Present on User objects, absent on a message's `sender`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
}

impl UserView {
    pub fn with_presence(user: &UserRow, online: bool) -> UserView {
        UserView {
            online: Some(online),
            ..UserView::sender(user)
        }
    }

    pub fn sender(user: &UserRow) -> UserView {
        UserView {
            id: ids::user_id(user),
            name: user.name.clone(),
            kind: user.kind,
            online: None,
        }
    }
}

/// A room as one user (or an admin, with `read_seq` 0) sees it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Room)]
pub struct RoomView {
    /// `r_N`.
    pub id: String,
    /// `group`, `direct` or `bot`.
    #[schema(value_type = String)]
    pub kind: RoomKind,
    pub name: Option<String>,
    pub public: bool,
    pub owner: Option<String>,
    pub members_count: i64,
    pub last_seq: i64,
    pub read_seq: i64,
    pub unread: i64,
    /// The caller's notification level for the room: `all`, `mentions` or `none` (the room
    /// kind's default until they choose one with `notify`).
    #[schema(value_type = String)]
    pub notify: crate::notify::Level,
}

impl RoomView {
    /// `owner` is the owner's wire id, which the summary does not carry.
    pub fn from_summary(summary: &RoomSummary) -> RoomView {
        let kind = summary.room.kind;
        let grouped = kind == RoomKind::Group;
        RoomView {
            id: RoomId(summary.room.id).to_string(),
            kind,
            name: if grouped {
                summary.room.name.clone()
            } else {
                summary.display_name.clone()
            },
            public: grouped && summary.room.public,
            owner: match (grouped, summary.room.owner_id) {
                (true, Some(owner)) => Some(format!("u_{owner}")),
                _ => None,
            },
            members_count: summary.members_count,
            last_seq: summary.last_seq,
            read_seq: summary.read_seq,
            unread: (summary.last_seq - summary.read_seq).max(0),
            notify: crate::notify::Level::effective(summary.notify, kind),
        }
    }
}

/// A stored message; `seq` is per room, 1, 2, 3, … with no gaps.
#[derive(Clone, Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    /// `m_R_S`: room R, seq S.
    pub id: String,
    pub room: String,
    pub seq: i64,
    /// RFC 3339 UTC with milliseconds.
    pub ts: String,
    pub sender: UserView,
    pub body: String,
    /// A template of docs/protocol.md section 6 (bots and the system only).
    pub template: Option<Value>,
    pub client_msg_id: Option<String>,
    /// `{"message":"m_…","id":"b1"}` on a user's answer to a button or quick reply.
    pub action: Option<Value>,
    /// The files the message carries (`[]` when none).
    pub files: Vec<FileView>,
}

impl MessageView {
    pub fn from_stored(message: &StoredMessage) -> MessageView {
        let row = &message.row;
        MessageView {
            id: MessageId {
                room: RoomId(row.room_id),
                seq: row.seq,
            }
            .to_string(),
            room: RoomId(row.room_id).to_string(),
            seq: row.seq,
            ts: crate::clock::rfc3339_ms(row.created_ms),
            sender: UserView::sender(&message.sender),
            body: row.body.clone(),
            template: parse_stored_json(row.template.as_deref()),
            client_msg_id: row.client_msg_id.clone(),
            action: parse_stored_json(row.action.as_deref()),
            files: message.files.iter().map(FileView::from_row).collect(),
        }
    }
}

fn parse_stored_json(text: Option<&str>) -> Option<Value> {
    text.and_then(|text| serde_json::from_str(text).ok())
}

/// An uploaded file: `{"id":"f_…","name":"triangle.jpg","mime":"image/jpeg","size":183422,
/// "width":1200,"height":900,"thumbnail":true}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = File)]
pub struct FileView {
    /// `f_` and 32 hex digits.
    pub id: String,
    /// The name the uploader gave (`?name=`).
    pub name: String,
    /// Detected from the bytes, never from the name or the declared type.
    pub mime: String,
    /// In bytes.
    pub size: i64,
    /// Only for images that decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    /// Whether `GET /files/{id}/thumbnail` exists.
    pub thumbnail: bool,
}

impl FileView {
    pub fn from_row(row: &FileRow) -> FileView {
        FileView {
            id: FileId::stored(&row.id).to_string(),
            name: row.name.clone(),
            mime: row.mime.clone(),
            size: row.size,
            width: row.width,
            height: row.height,
            thumbnail: row.thumbnail_mime.is_some(),
        }
    }
}
