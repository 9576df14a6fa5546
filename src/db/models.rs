//! Rows as diesel reads and writes them, and the small enums stored as text.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::{files, members, message_files, messages, rooms, tokens, users};

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub handle: Option<String>,
    pub created_ms: i64,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub handle: Option<&'a str>,
    pub created_ms: i64,
    /// The name folded to lower case, for the directory's prefix search.
    pub name_key: String,
    /// The `sub` of the JWT that created the user.
    pub external_sub: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = tokens)]
pub struct NewToken<'a> {
    pub user_id: i64,
    pub token_hash: &'a str,
    pub created_ms: i64,
}

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = rooms)]
pub struct RoomRow {
    pub id: i64,
    pub kind: String,
    pub name: Option<String>,
    pub public: bool,
    pub owner_id: Option<i64>,
    pub pair_key: Option<String>,
    pub created_ms: i64,
}

#[derive(Insertable)]
#[diesel(table_name = rooms)]
pub struct NewRoom<'a> {
    pub kind: &'a str,
    pub name: Option<&'a str>,
    pub public: bool,
    pub owner_id: Option<i64>,
    pub pair_key: Option<&'a str>,
    pub created_ms: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = members)]
pub struct MemberRow {
    pub room_id: i64,
    pub user_id: i64,
    pub read_seq: i64,
    pub joined_ms: i64,
}

#[derive(
    Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq, Serialize, Deserialize,
)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct MessageRow {
    pub room_id: i64,
    pub seq: i64,
    pub sender_id: i64,
    pub body: String,
    pub template: Option<String>,
    pub client_msg_id: Option<String>,
    pub action: Option<String>,
    pub created_ms: i64,
}

/// A stored message with the user who sent it, as every reader needs both (and as one node
/// tells the others over Redis what it committed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub row: MessageRow,
    pub sender: UserRow,
    /// The files the message carries, in the order the sender gave them.
    #[serde(default)]
    pub files: Vec<FileRow>,
}

/// One page of a room's messages, oldest first.
#[derive(Clone, Debug, Default)]
pub struct MessagePage {
    pub messages: Vec<StoredMessage>,
    pub has_more: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoomKind {
    Group,
    Direct,
    Bot,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Group => "group",
            RoomKind::Direct => "direct",
            RoomKind::Bot => "bot",
        }
    }

    pub fn parse(text: &str) -> Option<RoomKind> {
        match text {
            "group" => Some(RoomKind::Group),
            "direct" => Some(RoomKind::Direct),
            "bot" => Some(RoomKind::Bot),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserKind {
    User,
    Bot,
    System,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::User => "user",
            UserKind::Bot => "bot",
            UserKind::System => "system",
        }
    }
}

impl RoomRow {
    pub fn room_kind(&self) -> RoomKind {
        RoomKind::parse(&self.kind).unwrap_or(RoomKind::Group)
    }
}

/// A room with its members, as a room actor loads it.
#[derive(Clone, Debug)]
pub struct RoomSnapshot {
    pub room: RoomRow,
    pub members: Vec<(UserRow, i64)>,
    pub last_seq: i64,
}

/// An uploaded file's description (its bytes and thumbnail are read separately).
#[derive(
    Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq, Serialize, Deserialize,
)]
#[diesel(table_name = files, treat_none_as_default_value = false)]
pub struct FileRow {
    /// 32 hex digits; the wire id is `f_` and these.
    pub id: String,
    pub uploader_id: i64,
    pub name: String,
    /// Detected from the bytes.
    pub mime: String,
    pub size: i64,
    /// Hex SHA-256 of the bytes (the `ETag`).
    pub sha256: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Set when a thumbnail is stored.
    pub thumbnail_mime: Option<String>,
    pub created_ms: i64,
}

/// That a message carries a file, at a position of its list.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = message_files)]
pub struct MessageFileRow {
    pub room_id: i64,
    pub seq: i64,
    pub position: i32,
    pub file_id: String,
}
