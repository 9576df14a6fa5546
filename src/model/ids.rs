//! The ids of the domain, as types: [`RoomId`] (`r_3`), [`UserId`] (`u_12`), [`MessageId`]
//! (`m_3_121`: room 3, seq 121), [`FileId`] (`f_` and 32 hex digits), an API token's
//! [`TokenId`] (`t_7`), a [`UserRef`] (`u_12` or a bot's handle), and the positions [`Seq`] (a message's place in its room) and [`Rev`]
//! (a revision). Each is written by its `Display` as the wire writes it and parsed from that
//! text canonically by its `FromStr`: a number is written without sign or leading zeros, so
//! `r_0001`, `r_+1` and `m_01_2` are not ids at all (and are answered like ids that name
//! nothing), never another spelling of `r_1`.
//!
//! The numbered ids are also what the store's rows hold: diesel reads and writes them as a
//! `BIGINT` column (`stored_as_integer!`), so a row's `id` is a `UserId` or a `RoomId` and no
//! bare integer stands for one anywhere between the store and the wire. Where a stored row
//! travels between nodes a room is its bare number ([`room_number`]), as before.

use std::fmt;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::BigInt;

/// Text that is not the canonical spelling of an id of this kind. It names nothing, so its
/// message is the answer to an id that names nothing: "no such room".
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no such {0}")]
pub struct InvalidId(pub &'static str);

/// How an id or a position is stored: as its bare number, a `BIGINT` column on both
/// backends, read and written by diesel as the type itself.
macro_rules! stored_as_integer {
    ($name:ident) => {
        impl<DB> FromSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                i64::from_sql(bytes).map($name)
            }
        }

        impl<DB> ToSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }
    };
}

/// An id written as a prefix and a canonical number (`r_3`): the type, its `Display` and its
/// canonical `FromStr`, whose error names the kind.
macro_rules! numbered_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(AsExpression, FromSqlRow)]
        #[diesel(sql_type = BigInt)]
        pub struct $name(pub i64);

        stored_as_integer!($name);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<$name, InvalidId> {
                text.strip_prefix($prefix)
                    .and_then(parse_number)
                    .map($name)
                    .ok_or(InvalidId($kind))
            }
        }
    };
}

/// A position written as its bare number (`121`): the type and its `Display`.
macro_rules! position {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            Debug,
            Default,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numbered_id!(
    /// A room: `r_N`. (Read by serde from that text, `protocol/ids.rs`; where a stored row
    /// travels between nodes it is its bare number, [`room_number`].)
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    RoomId,
    "r_",
    "room"
);

/// A [`RoomId`] written by serde as its bare number (`3`), for the stored rows one node
/// hands the others (`#[serde(with = "room_number")]`); on the wire a room is `r_3`.
pub mod room_number {
    use super::RoomId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(room: &RoomId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(room.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<RoomId, D::Error> {
        i64::deserialize(deserializer).map(RoomId)
    }
}

numbered_id!(
    /// A user: `u_N`. (A client may also name a bot or the system by its handle: that is a
    /// `UserRef` of the protocol, found in the store.)
    #[derive(
        Clone,
        Copy,
        Debug,
        Default,
        PartialEq,
        Eq,
        Hash,
        PartialOrd,
        Ord,
        serde::Serialize,
        serde::Deserialize,
    )]
    #[serde(transparent)]
    UserId,
    "u_",
    "user"
);

position!(
    /// A message's place in its room: 1, 2, 3… as committed; 0 is before the first.
    Seq
);

position!(
    /// A revision of something that changes in place (a message edited, section 11): 0 as
    /// first written, one more at each change.
    Rev
);

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

numbered_id!(
    /// An API token (admin API and command line, never the WebSocket): `t_N`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    TokenId,
    "t_",
    "token"
);

/// A reference to a user as a client or an operator writes it: `u_N` for people, a handle
/// for bots and the system (`mathbot`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserRef {
    Id(UserId),
    Handle(String),
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRef::Id(id) => write!(f, "{id}"),
            UserRef::Handle(handle) => f.write_str(handle),
        }
    }
}

/// Written as its text (`"u_12"`, `"mathbot"`).
impl serde::Serialize for UserRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for UserRef {
    type Err = InvalidId;

    /// `u_` and a canonical number is an id; anything else starting `u_` is no reference
    /// (a handle never starts so); other non-empty text is a handle.
    fn from_str(text: &str) -> Result<UserRef, InvalidId> {
        match text.strip_prefix("u_") {
            Some(number) => parse_number(number)
                .map(|number| UserRef::Id(UserId(number)))
                .ok_or(InvalidId("user")),
            None if !text.is_empty() => Ok(UserRef::Handle(text.to_string())),
            None => Err(InvalidId("user")),
        }
    }
}

/// A canonical non-negative number: digits only, no leading zero (but `0` itself), in range.
pub fn parse_number(text: &str) -> Option<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_refs_are_ids_or_handles() {
        assert_eq!("u_7".parse(), Ok(UserRef::Id(UserId(7))));
        assert_eq!("mathbot".parse(), Ok(UserRef::Handle("mathbot".into())));
        for junk in ["", "u_", "u_x", "u_007", "u_+7", "u_-7"] {
            assert_eq!(junk.parse::<UserRef>(), Err(InvalidId("user")), "{junk}");
        }
        assert_eq!(UserRef::Id(UserId(7)).to_string(), "u_7");
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
    fn user_ids_round_trip_canonically() {
        assert_eq!(UserId(7).to_string(), "u_7");
        assert_eq!("u_7".parse(), Ok(UserId(7)));
        for junk in ["u_", "u_07", "u_+7", "u_-7", "mathbot", "7"] {
            assert_eq!(junk.parse::<UserId>(), Err(InvalidId("user")), "{junk}");
        }
    }
}
