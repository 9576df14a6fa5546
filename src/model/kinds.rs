//! What a room is and what a user is: the kinds of the domain. Each is stored as text
//! (`db/models.rs` maps it) and written on the wire the same.

use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

/// What a room is; stored as text (`group`, `direct`, `bot`), on the wire the same.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, AsExpression, FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "lowercase")]
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

/// What a user is; stored as text (`user`, `bot`, `system`), on the wire the same.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, AsExpression, FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "lowercase")]
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

    pub fn parse(text: &str) -> Option<UserKind> {
        match text {
            "user" => Some(UserKind::User),
            "bot" => Some(UserKind::Bot),
            "system" => Some(UserKind::System),
            _ => None,
        }
    }
}
