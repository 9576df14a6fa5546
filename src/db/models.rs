//! Rows as diesel reads and writes them, and how the domain's kinds ([`RoomKind`],
//! [`UserKind`], `crate::model`) are stored: as text. Ids in rows are the domain's typed ids
//! ([`UserId`], [`RoomId`]), stored as `BIGINT` (`model/ids.rs` maps them).

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use super::schema::{files, members, message_files, messages, rooms, tokens, users};
use crate::model::{RoomId, UserId, UserRef};
pub use crate::model::{RoomKind, UserKind};

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: UserId,
    pub name: String,
    pub kind: UserKind,
    pub handle: Option<String>,
    pub created_ms: i64,
}

impl UserRow {
    /// How the user is named on the wire: its handle if it has one, `u_N` otherwise.
    pub fn user_ref(&self) -> UserRef {
        match &self.handle {
            Some(handle) => UserRef::Handle(handle.clone()),
            None => UserRef::Id(self.id),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub kind: UserKind,
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
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub created_ms: i64,
}

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = rooms)]
pub struct RoomRow {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: Option<String>,
    pub public: bool,
    pub owner_id: Option<UserId>,
    pub pair_key: Option<String>,
    pub created_ms: i64,
}

#[derive(Insertable)]
#[diesel(table_name = rooms)]
pub struct NewRoom<'a> {
    pub kind: RoomKind,
    pub name: Option<&'a str>,
    pub public: bool,
    pub owner_id: Option<UserId>,
    pub pair_key: Option<&'a str>,
    pub created_ms: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = members)]
pub struct MemberRow {
    pub room_id: RoomId,
    pub user_id: UserId,
    pub read_seq: i64,
    pub joined_ms: i64,
}

#[derive(
    Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq, Serialize, Deserialize,
)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct MessageRow {
    #[serde(with = "crate::model::room_number")]
    pub room_id: RoomId,
    pub seq: i64,
    pub sender_id: UserId,
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
    /// The message this one answers, as it is now (section 11).
    #[serde(default)]
    pub reply_to: Option<ReplyRef>,
    /// Whom the message mentions: user ids, ascending, distinct.
    #[serde(default)]
    pub mentions: Vec<UserId>,
}

/// The message a reply answers, as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRef {
    #[serde(with = "crate::model::room_number")]
    pub room_id: RoomId,
    pub seq: i64,
    pub sender: UserRow,
    /// The first 100 code points of its body; `""` once it is deleted.
    pub excerpt: String,
}

/// A message's key: its room and its seq there.
pub type MessageKey = (RoomId, i64);

/// One page of a room's messages, oldest first.
#[derive(Clone, Debug, Default)]
pub struct MessagePage {
    pub messages: Vec<StoredMessage>,
    pub has_more: bool,
}

/// A `kind` column holding text that no version of Palaver writes: reading the row fails
/// with this (a store error naming the text), it is never taken for some default kind.
#[derive(Debug, thiserror::Error)]
#[error("unknown stored {what} kind {text:?}")]
pub struct UnknownKind {
    what: &'static str,
    text: String,
}

macro_rules! text_enum_sql {
    ($kind:ident, $what:literal) => {
        impl<DB> FromSql<Text, DB> for $kind
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                $kind::parse(&text).ok_or_else(|| UnknownKind { what: $what, text }.into())
            }
        }

        impl<DB> ToSql<Text, DB> for $kind
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }
    };
}

text_enum_sql!(RoomKind, "room");
text_enum_sql!(UserKind, "user");

/// A room with its members, as a room actor loads it.
#[derive(Clone, Debug)]
pub struct RoomSnapshot {
    pub room: RoomRow,
    pub members: Vec<(UserRow, i64)>,
    pub last_seq: i64,
    /// The room's `authz_version` as read before the members (`db/authz.rs`): a change
    /// after it moves it past this, so the room reloads once more rather than never.
    pub authz_version: i64,
    /// The members who chose a notification level for the room (section 12).
    pub levels: Vec<(UserId, crate::notify::Level)>,
    /// `(blocker, blocked)` for every block a member made (section 13).
    pub blocks: Vec<(UserId, UserId)>,
    /// The members whose role or mute is not the default (docs/safety.md).
    pub standings: Vec<(UserId, super::safety::Standing)>,
}

/// An uploaded file's description (its bytes and thumbnail are read separately).
#[derive(
    Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq, Serialize, Deserialize,
)]
#[diesel(table_name = files, treat_none_as_default_value = false)]
pub struct FileRow {
    /// 32 hex digits; the wire id is `f_` and these.
    pub id: String,
    pub uploader_id: UserId,
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
    pub room_id: RoomId,
    pub seq: i64,
    pub position: i32,
    pub file_id: String,
}
