//! Ids on the wire, as types: [`RoomId`] (`r_3`), [`UserRef`] (`u_12`, or a bot's or the
//! system's handle such as `mathbot`), [`MessageId`] (`m_3_121`: room 3, seq 121),
//! [`FileId`] (`f_` and 32 hex digits) and an API token's [`TokenId`] (`t_7`). Each is
//! parsed once, at the edge (a frame, an admin path, the command line), and written back by
//! its `Display`.
//!
//! Ids are canonical: a number is written without sign or leading zeros, so `r_0001`, `r_+1`
//! and `m_01_2` are not ids at all (and are answered like ids that name nothing), never
//! another spelling of `r_1`.
//!
//! [`RoomId`], [`UserRef`] and [`TokenId`] are also read by serde from their text (an admin
//! path segment) and described to the OpenAPI document (end of this file).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use crate::db::models::UserRow;

/// Text that is not the canonical spelling of an id of this kind. It names nothing, so its
/// message is the answer to an id that names nothing: "no such room".
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no such {0}")]
pub struct InvalidId(&'static str);

/// A room: `r_N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub i64);

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r_{}", self.0)
    }
}

impl FromStr for RoomId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<RoomId, InvalidId> {
        text.strip_prefix("r_")
            .and_then(parse_number)
            .map(RoomId)
            .ok_or(InvalidId("room"))
    }
}

/// A reference to a user as a client or an operator writes it: `u_N` for people, a handle
/// for bots and the system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserRef {
    Id(i64),
    Handle(String),
}

impl UserRef {
    /// How `user` is named on the wire: its handle if it has one, `u_N` otherwise.
    pub fn of(user: &UserRow) -> UserRef {
        match &user.handle {
            Some(handle) => UserRef::Handle(handle.clone()),
            None => UserRef::Id(user.id),
        }
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRef::Id(id) => write!(f, "u_{id}"),
            UserRef::Handle(handle) => f.write_str(handle),
        }
    }
}

impl FromStr for UserRef {
    type Err = InvalidId;

    /// `u_` and a canonical number is an id; anything else starting `u_` is no reference
    /// (a handle never starts so); other non-empty text is a handle.
    fn from_str(text: &str) -> Result<UserRef, InvalidId> {
        match text.strip_prefix("u_") {
            Some(number) => parse_number(number)
                .map(UserRef::Id)
                .ok_or(InvalidId("user")),
            None if !text.is_empty() => Ok(UserRef::Handle(text.to_string())),
            None => Err(InvalidId("user")),
        }
    }
}

/// The wire id of `user` (`u_N`, or its handle).
pub fn user_id(user: &UserRow) -> String {
    UserRef::of(user).to_string()
}

/// A message: `m_ROOM_SEQ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageId {
    pub room: RoomId,
    pub seq: i64,
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m_{}_{}", self.room.0, self.seq)
    }
}

impl FromStr for MessageId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<MessageId, InvalidId> {
        let invalid = InvalidId("message");
        let (room, seq) = text
            .strip_prefix("m_")
            .and_then(|rest| rest.split_once('_'))
            .ok_or(invalid)?;
        Ok(MessageId {
            room: RoomId(parse_number(room).ok_or(invalid)?),
            seq: parse_number(seq).ok_or(invalid)?,
        })
    }
}

/// A file: `f_` and the 32 lowercase hex digits of its stored key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileId(String);

impl FileId {
    /// A new id: 128 random bits, so ids say nothing about other uploads.
    pub fn random() -> FileId {
        FileId(hex::encode(rand::random::<[u8; 16]>()))
    }

    /// The id of a file the store keeps under `key`.
    pub fn stored(key: &str) -> FileId {
        FileId(key.to_string())
    }

    /// The key the store keeps the file under (the id without `f_`).
    pub fn key(&self) -> &str {
        &self.0
    }

    pub fn into_key(self) -> String {
        self.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "f_{}", self.0)
    }
}

impl FromStr for FileId {
    type Err = InvalidId;

    /// Anything [`FileId::random`] cannot have made is refused.
    fn from_str(text: &str) -> Result<FileId, InvalidId> {
        text.strip_prefix("f_")
            .filter(|key| {
                key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            })
            .map(|key| FileId(key.to_string()))
            .ok_or(InvalidId("file"))
    }
}

/// An API token (admin API and command line, never the WebSocket): `t_N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenId(pub i64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t_{}", self.0)
    }
}

impl FromStr for TokenId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<TokenId, InvalidId> {
        text.strip_prefix("t_")
            .and_then(parse_number)
            .map(TokenId)
            .ok_or(InvalidId("token"))
    }
}

/// A canonical non-negative number: digits only, no leading zero (but `0` itself), in range.
fn parse_number(text: &str) -> Option<i64> {
    let canonical = match text.as_bytes() {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        digits => digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    text.parse().ok()
}

// ---- Read by serde, described to OpenAPI ---------------------------------------------------

/// `Deserialize` from the canonical text (failing with [`InvalidId`]), and the OpenAPI schema:
/// a string with the given pattern.
macro_rules! text_id {
    ($type:ty, $name:literal, $pattern:literal, $description:literal, $example:literal) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some($pattern))
                    .description(Some($description))
                    .examples([$example])
                    .into()
            }
        }

        impl utoipa::ToSchema for $type {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

text_id!(
    RoomId,
    "RoomId",
    "^r_(0|[1-9][0-9]{0,18})$",
    "A room: `r_N`.",
    "r_1"
);
text_id!(
    UserRef,
    "UserRef",
    "^(u_(0|[1-9][0-9]{0,18})|[a-z][a-z0-9_-]{0,63})$",
    "A user: `u_N`, or a bot's id (`mathbot`).",
    "u_1"
);
text_id!(
    TokenId,
    "TokenId",
    "^t_(0|[1-9][0-9]{0,18})$",
    "An API token: `t_N`.",
    "t_1"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, handle: Option<&str>) -> UserRow {
        UserRow {
            id,
            name: "x".into(),
            kind: crate::db::models::UserKind::User,
            handle: handle.map(str::to_string),
            created_ms: 0,
        }
    }

    #[test]
    fn room_ids_round_trip() {
        for id in [0, 1, 42, i64::MAX] {
            assert_eq!(RoomId(id).to_string().parse(), Ok(RoomId(id)));
        }
        assert_eq!("r_12".parse(), Ok(RoomId(12)));
    }

    #[test]
    fn room_ids_are_canonical_or_nothing() {
        for junk in [
            "r_",
            "r_-1",
            "r_+1",
            "r_01",
            "r_0001",
            "r_00",
            " r_1",
            "r_1 ",
            "r_1x",
            "r_１",
            "R_1",
            "3",
            "r_99999999999999999999",
            "r_9223372036854775808",
        ] {
            assert_eq!(junk.parse::<RoomId>(), Err(InvalidId("room")), "{junk}");
        }
    }

    #[test]
    fn message_ids_carry_room_and_seq_canonically() {
        let id = MessageId {
            room: RoomId(3),
            seq: 121,
        };
        assert_eq!(id.to_string(), "m_3_121");
        assert_eq!("m_3_121".parse(), Ok(id));
        for junk in [
            "m_3", "m_01_2", "m_1_02", "m_1_+2", "m__2", "m_1_", "m_1_2_3", "r_1",
        ] {
            assert_eq!(
                junk.parse::<MessageId>(),
                Err(InvalidId("message")),
                "{junk}"
            );
        }
    }

    #[test]
    fn file_ids_are_f_and_32_hex_digits() {
        let id = FileId::random();
        assert_eq!(id.to_string().parse(), Ok(id.clone()));
        assert_eq!(id.key().len(), 32);
        for junk in [
            "f_",
            "f_123",
            "F_00000000000000000000000000000000",
            "f_0000000000000000000000000000000G",
            "f_0000000000000000000000000000000A",
        ] {
            assert_eq!(junk.parse::<FileId>(), Err(InvalidId("file")), "{junk}");
        }
    }

    #[test]
    fn token_ids_round_trip_canonically() {
        assert_eq!(TokenId(7).to_string(), "t_7");
        assert_eq!("t_7".parse(), Ok(TokenId(7)));
        for junk in ["t_", "t_07", "t_+7", "t_-7", "t_x", "7", "u_7"] {
            assert_eq!(junk.parse::<TokenId>(), Err(InvalidId("token")), "{junk}");
        }
    }

    #[test]
    fn user_refs_are_ids_or_handles() {
        assert_eq!("u_7".parse(), Ok(UserRef::Id(7)));
        assert_eq!("mathbot".parse(), Ok(UserRef::Handle("mathbot".into())));
        for junk in ["", "u_", "u_x", "u_007", "u_+7", "u_-7"] {
            assert_eq!(junk.parse::<UserRef>(), Err(InvalidId("user")), "{junk}");
        }
        assert_eq!(UserRef::Id(7).to_string(), "u_7");
        assert_eq!(user_id(&row(7, None)), "u_7");
        assert_eq!(user_id(&row(2, Some("mathbot"))), "mathbot");
    }
}
