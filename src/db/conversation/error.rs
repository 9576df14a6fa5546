//! What a change to a message, a search or a reply can be refused for, in terms the
//! protocol layer maps to its codes (each variant says which).

use crate::db::error::{user_list, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    /// `not_found`: the room, or the message in this room.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `forbidden`: the caller may not do this to this message (what is said).
    #[error("{0}")]
    Forbidden(&'static str),
    /// `forbidden` (`bad_request` on oneself): the roles' rule refused a delete of another's
    /// message (docs/safety.md).
    #[error(transparent)]
    Denied(crate::safety::Denied),
    /// `forbidden`: the caller is muted in the group until then (ms).
    #[error("you are muted in this group until {}", crate::clock::rfc3339_ms(*.0))]
    Muted(i64),
    /// `forbidden`: the caller is not a member of the room.
    #[error("not a member of the room")]
    NotMember,
    /// `bad_request`: the message is deleted (no edit, no reaction).
    #[error("the message is deleted")]
    Deleted,
    /// `bad_request`: a 21st distinct emoji on one message.
    #[error(
        "a message has at most {} different reactions",
        crate::conversation::MAX_EMOJIS
    )]
    TooManyEmojis,
    /// `bad_request`: mentions of users who are not members of the room (the ids).
    #[error("{} not a member of the room", user_list(.0))]
    NotMembers(Vec<crate::model::UserId>),
    /// `bad_request`: a number or list out of its range (what is said).
    #[error("{0}")]
    OutOfRange(String),
    /// The store failed: mapped as every other store error is.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ConversationError {
    fn from(err: diesel::result::Error) -> Self {
        ConversationError::Store(err.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ConversationError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        ConversationError::Store(err.into())
    }
}

impl From<crate::db::sqlite::SqliteUnavailable> for ConversationError {
    fn from(err: crate::db::sqlite::SqliteUnavailable) -> Self {
        ConversationError::Store(err.into())
    }
}

impl ConversationError {
    /// The store's error of a read, which refuses nothing: only `Store` can come of one, and
    /// anything else would be a bug, reported as such rather than as a passing failure.
    pub fn into_read_error(self) -> StoreError {
        match self {
            ConversationError::Store(err) => err,
            ConversationError::NotFound(what) => StoreError::NotFound(what),
            other => StoreError::Corrupt(format!("a read was refused: {other}")),
        }
    }
}
