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
use crate::model::ids::parse_number;
pub use crate::model::{FileId, InvalidId, MessageId, RoomId, TokenId, UserId};

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
    MessageId,
    "MessageId",
    "^m_(0|[1-9][0-9]{0,18})_(0|[1-9][0-9]{0,18})$",
    "A message: `m_R_S` (room R, seq S).",
    "m_1_2"
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
