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

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use crate::db::models::UserRow;
pub use crate::model::{FileId, InvalidId, MessageId, RoomId, TokenId, UserId, UserRef};

/// The wire id of `user` (`u_N`, or its handle).
pub fn user_id(user: &UserRow) -> String {
    user.user_ref().to_string()
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
            id: UserId(id),
            name: "x".into(),
            kind: crate::db::models::UserKind::User,
            handle: handle.map(str::to_string),
            created_ms: 0,
        }
    }

    #[test]
    fn a_users_wire_id_is_its_handle_or_u_n() {
        assert_eq!(user_id(&row(7, None)), "u_7");
        assert_eq!(user_id(&row(2, Some("mathbot"))), "mathbot");
    }
}
