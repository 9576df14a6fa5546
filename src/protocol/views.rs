//! The objects of docs/protocol.md section 3 (User, Room, Message) and section 9 (File) as
//! they go on the wire.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::ids::{self, FileId, MessageId, UserId};
use crate::conversation::ReactionView;
use crate::db::conversation::{FullMessage, ReplyRef};
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

/// A member in `members` of `join` and the admin API: the User, and in a group their
/// `role` and `muted_until` (docs/safety.md); a direct or bot room's members have neither.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Member)]
pub struct MemberView {
    #[serde(flatten)]
    pub user: UserView,
    /// `owner`, `moderator` or `member` (groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub role: Option<crate::safety::Role>,
    /// Until when the member is muted (RFC 3339), `null` when not (groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Option<String>>)]
    pub muted_until: Option<Option<String>>,
}

/// A room as one user (or an admin, with `read_seq` 0) sees it.
#[derive(Clone, Debug, Serialize, PartialEq, ToSchema)]
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
    /// The room's last `rev` (0 when no message ever changed).
    pub last_rev: i64,
    /// Messages after the caller's `read_seq` that mention the caller.
    pub mentions_unread: i64,
    /// The room's newest message as the caller sees it (a tombstone if deleted); `null` in
    /// an empty room.
    pub last_message: Option<Box<MessageView>>,
}

impl RoomView {
    /// `owner` is the owner's wire id, which the summary does not carry.
    pub fn from_summary(summary: &RoomSummary) -> RoomView {
        let kind = summary.room.kind;
        let grouped = kind == RoomKind::Group;
        RoomView {
            id: summary.room.id.to_string(),
            kind,
            name: if grouped {
                summary.room.name.clone()
            } else {
                summary.display_name.clone()
            },
            public: grouped && summary.room.public,
            owner: match (grouped, summary.room.owner_id) {
                (true, Some(owner)) => Some(owner.to_string()),
                _ => None,
            },
            members_count: summary.members_count,
            last_seq: summary.last_seq,
            read_seq: summary.read_seq,
            unread: (summary.last_seq - summary.read_seq).max(0),
            notify: crate::notify::Level::effective(summary.notify, kind),
            last_rev: 0,
            mentions_unread: 0,
            last_message: None,
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
    /// The message this one answers, as it is now; `null` when none.
    pub reply_to: Option<ReplyView>,
    /// The users the message mentions (`u_N`), `[]` when none.
    pub mentions: Vec<String>,
    /// When the message was last edited (RFC 3339), `null` if never.
    pub edited: Option<String>,
    /// A deleted message keeps only `id`, `seq`, `ts` and `sender`.
    pub deleted: bool,
    /// `[{"emoji":"👍","count":2,"me":true}…]` in the order each emoji was first used;
    /// `me` is as the receiver sees it.
    #[schema(value_type = Vec<Object>)]
    pub reactions: Vec<ReactionView>,
    /// The room `rev` of the message's latest change, `0` if it never changed.
    pub rev: i64,
    /// Present, and `true`, only for a receiver who blocks the sender (section 13): the
    /// content (`body`, `files`, `template`, `reactions`) is left out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
}

/// What a reply shows of the message it answers: `{"id","seq","sender","excerpt"}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = ReplyTo)]
pub struct ReplyView {
    pub id: String,
    pub seq: i64,
    pub sender: UserView,
    /// The first 100 code points of its body, `""` once it is deleted.
    pub excerpt: String,
}

impl ReplyView {
    fn from_ref(target: &ReplyRef) -> ReplyView {
        ReplyView {
            id: MessageId {
                room: target.room_id,
                seq: target.seq,
            }
            .to_string(),
            seq: target.seq,
            sender: UserView::sender(&target.sender),
            excerpt: target.excerpt.clone(),
        }
    }
}

impl MessageView {
    /// A message whole, as `viewer` sees it (their own reactions are `me`).
    pub fn from_full(full: &FullMessage, viewer: Option<UserId>) -> MessageView {
        MessageView {
            edited: full.edited_ms.map(crate::clock::rfc3339_ms),
            deleted: full.deleted,
            reactions: full.reactions_for(viewer),
            rev: full.rev,
            ..MessageView::from_stored(&full.message)
        }
    }

    /// A message as it was stored: what a new message is (no edit, no reactions, `rev` 0).
    pub fn from_stored(message: &StoredMessage) -> MessageView {
        let row = &message.row;
        MessageView {
            id: MessageId {
                room: row.room_id,
                seq: row.seq,
            }
            .to_string(),
            room: row.room_id.to_string(),
            seq: row.seq,
            ts: crate::clock::rfc3339_ms(row.created_ms),
            sender: UserView::sender(&message.sender),
            body: row.body.clone(),
            template: parse_stored_json(row.template.as_deref()),
            client_msg_id: row.client_msg_id.clone(),
            action: parse_stored_json(row.action.as_deref()),
            files: message.files.iter().map(FileView::from_row).collect(),
            reply_to: message.reply_to.as_ref().map(ReplyView::from_ref),
            mentions: message.mentions.iter().map(UserId::to_string).collect(),
            edited: None,
            deleted: false,
            reactions: Vec::new(),
            rev: 0,
            blocked: false,
        }
    }

    /// The message as a receiver who blocks its sender gets it (section 13): `blocked`,
    /// with `body` `""`, `files` `[]`, `template` `null` and `reactions` `[]`; its place
    /// (`id`, `seq`, `ts`, `sender`, `rev`) stays, so `seq` stays gapless.
    pub fn hidden(self, hidden: bool) -> MessageView {
        if !hidden {
            return self;
        }
        MessageView {
            blocked: true,
            body: String::new(),
            files: Vec::new(),
            template: None,
            reactions: Vec::new(),
            ..self
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
