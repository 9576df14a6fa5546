//! What can go wrong in the store, in terms the rest of the server can act on.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::model::UserId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Users a caller named that are not there (or deactivated, or the system user): the
    /// ids, so the answer can say which.
    #[error("no such user {}", user_list(.0))]
    NoSuchUsers(Vec<UserId>),
    /// A conflict the store's own code found and described (a name taken).
    #[error("{0}")]
    Conflict(String),
    /// A person's post in a room they are not a member of (any more), found by the commit
    /// (`db/authz.rs`); `public_group`: a room they may join.
    #[error("the sender is not a member of the room")]
    NotMember { public_group: bool },
    /// The user is banned from the group (docs/safety.md): they may not join or be invited.
    #[error("{} is banned from this group", user_list(&[*.0]))]
    Banned(UserId),
    /// A post of a member muted until then (ms), found by the commit (docs/safety.md).
    #[error("you are muted in this group until {}", crate::clock::rfc3339_ms(*.0))]
    Muted(i64),
    /// A post, or a command, of a person who was deactivated.
    #[error("the user is deactivated")]
    Deactivated,
    /// A unique constraint refused a write no code above expected (two requests racing):
    /// the database's own words, for the log only; a client is told only that it collided.
    #[error("a unique constraint refused the write: {0}")]
    Duplicate(String),
    /// Users already in as many groups as one user may be (the ids, and the limit).
    #[error("{users} already in {cap} groups, the most one user may be in", users = user_list(.0), cap = .1)]
    TooManyRooms(Vec<UserId>, i64),
    /// A post mentions users who are not members of its room (the ids).
    #[error("{} not a member of the room", user_list(.0))]
    MentionsOutsiders(Vec<UserId>),
    /// A user already blocks as many users as one may (the limit).
    #[error("you already block {0} users, the most one user may block")]
    TooManyBlocks(i64),
    /// A post into a direct room between two users one of whom blocks the other, found by
    /// the commit (`db/sender_checks.rs`).
    #[error("a block stands between you and this user; nothing can be sent in this room until it is lifted")]
    Blocked,
    #[error("the store could not complete the request: {0}")]
    Unavailable(String),
    /// A stored row this server cannot read (an unknown `kind`, say): not a passing
    /// failure, so never answered as "retry".
    #[error("a stored row cannot be read: {0}")]
    Corrupt(String),
}

/// `u_3, u_9`: users as the protocol names them.
pub fn user_list(ids: &[UserId]) -> String {
    ids.iter()
        .map(UserId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => StoreError::NotFound("row"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Duplicate(info.message().to_string())
            }
            DieselError::DeserializationError(err) => {
                // "Error deserializing field 'kind'", then what was wrong with it.
                let mut reason = err.to_string();
                let mut cause = err.source();
                while let Some(err) = cause {
                    reason = format!("{reason}: {err}");
                    cause = err.source();
                }
                StoreError::Corrupt(reason)
            }
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    /// With the causes ("error connecting to server: Connection refused"), not only the
    /// pool's own words.
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        StoreError::Unavailable(format!("no database connection: {}", chain(&err)))
    }
}

impl From<super::sqlite::SqliteUnavailable> for StoreError {
    fn from(err: super::sqlite::SqliteUnavailable) -> Self {
        StoreError::Unavailable(err.0)
    }
}

/// An error and its causes, joined with ": ".
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
