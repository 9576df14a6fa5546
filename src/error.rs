//! The error codes of the protocol (docs/protocol.md section 2) and the one place where errors
//! from elsewhere (the store, actor mailboxes) become them. A store error's own text (the
//! database's words) is logged here and never put in a client's answer.

use serde::Serialize;

use crate::db::conversation::ConversationError;
use crate::db::safety::SanctionError;
use crate::db::StoreError;
use crate::model::names::NameError;
use crate::safety::Denied;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    UnknownType,
    TooLarge,
    UnsupportedFrame,
    Unauthorized,
    NotFound,
    Forbidden,
    Conflict,
    RateLimited,
    /// A request's body stopped coming, or took too long (HTTP 408).
    Timeout,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::BadRequest,
        ErrorCode::UnknownType,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedFrame,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::Timeout,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedFrame => "unsupported_frame",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status the admin API answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::UnknownType | ErrorCode::UnsupportedFrame => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Timeout => 408,
            ErrorCode::Conflict => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// An error as a client sees it: a code and a sentence saying what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ProtoError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl ProtoError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ProtoError {
        ProtoError {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ProtoError {
        ProtoError::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ProtoError {
        ProtoError::new(ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ProtoError {
        ProtoError::new(ErrorCode::Forbidden, message)
    }

    pub fn too_large(message: impl Into<String>) -> ProtoError {
        ProtoError::new(ErrorCode::TooLarge, message)
    }

    pub fn internal(message: impl Into<String>) -> ProtoError {
        ProtoError::new(ErrorCode::Internal, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ProtoError {
        ProtoError::new(ErrorCode::Unavailable, message)
    }

    /// The answer for a room that does not exist or that the caller may not see: the
    /// same words either way, so a private room's existence is never revealed.
    pub fn no_such_room() -> ProtoError {
        ProtoError::not_found("no such room")
    }

    pub fn no_such_user() -> ProtoError {
        ProtoError::not_found("no such user")
    }

    /// A person named by `text` that nobody is: an id (`u_…`) is named as it was written;
    /// a name gets a pointer to the directory.
    pub fn no_such_user_named(text: &str) -> ProtoError {
        if text.starts_with("u_") {
            ProtoError::not_found(format!("no such user {text}"))
        } else {
            ProtoError::not_found(format!(
                "no such user {text:?}: people are named by id (u_12); find one by name with `users`"
            ))
        }
    }

    pub fn rate_limited(retry_after_ms: u64) -> ProtoError {
        ProtoError::rate_limited_because("too many frames; slow down", retry_after_ms)
    }

    /// `rate_limited` for another limit than the frame rate, saying which.
    pub fn rate_limited_because(message: impl Into<String>, retry_after_ms: u64) -> ProtoError {
        ProtoError {
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after_ms: Some(retry_after_ms),
        }
    }
}

impl From<StoreError> for ProtoError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ProtoError::not_found(format!("no such {what}")),
            StoreError::NoSuchUsers(_) => ProtoError::not_found(err.to_string()),
            StoreError::Conflict(message) => ProtoError::new(ErrorCode::Conflict, message),
            // Members only; a public group's outsider may see the room, others may not.
            StoreError::NotMember { public_group: true } => {
                ProtoError::forbidden("you are not a member of this group; join it first")
            }
            StoreError::NotMember {
                public_group: false,
            } => ProtoError::no_such_room(),
            StoreError::Deactivated => {
                ProtoError::new(ErrorCode::Unauthorized, "your account was deactivated")
            }
            StoreError::Duplicate(reason) => {
                log::warn!("store: {reason}");
                ProtoError::new(
                    ErrorCode::Conflict,
                    "this collided with the same change made at the same moment; nothing was changed, retry",
                )
            }
            StoreError::TooManyRooms(..) | StoreError::Banned(_) | StoreError::Muted(_) => {
                ProtoError::forbidden(err.to_string())
            }
            StoreError::MentionsOutsiders(_) => ProtoError::bad_request(err.to_string()),
            StoreError::TooManyBlocks(_) | StoreError::Blocked => {
                ProtoError::forbidden(err.to_string())
            }
            StoreError::Unavailable(reason) => {
                // The caller logs the failure with its session, user and room.
                log::debug!("store unavailable: {reason}");
                ProtoError::unavailable("the store could not commit; nothing was stored, retry")
            }
            StoreError::Corrupt(reason) => {
                log::error!("store: {reason}");
                ProtoError::internal("the store holds data this server cannot read")
            }
        }
    }
}

impl From<ConversationError> for ProtoError {
    /// The codes of docs/protocol.md section 11 (each variant's doc names its code).
    fn from(err: ConversationError) -> Self {
        match err {
            ConversationError::NotFound(what) => ProtoError::not_found(format!("no such {what}")),
            ConversationError::Forbidden(_)
            | ConversationError::NotMember
            | ConversationError::Muted(_) => ProtoError::forbidden(err.to_string()),
            ConversationError::Denied(denied) => ProtoError::from(denied),
            ConversationError::Deleted
            | ConversationError::TooManyEmojis
            | ConversationError::NotMembers(_)
            | ConversationError::OutOfRange(_) => ProtoError::bad_request(err.to_string()),
            ConversationError::Store(err) => ProtoError::from(err),
        }
    }
}

impl From<Denied> for ProtoError {
    /// docs/safety.md: acting on oneself makes no sense (`bad_request`); every other refusal
    /// of the roles' rule is `forbidden`.
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::OnSelf(_) => ProtoError::bad_request(denied.to_string()),
            _ => ProtoError::forbidden(denied.to_string()),
        }
    }
}

impl From<NameError> for ProtoError {
    fn from(err: NameError) -> Self {
        ProtoError::bad_request(err.to_string())
    }
}

impl From<SanctionError> for ProtoError {
    fn from(err: SanctionError) -> Self {
        match err {
            SanctionError::NotGroup => ProtoError::bad_request(err.to_string()),
            SanctionError::NoSuchMember => ProtoError::not_found(err.to_string()),
            SanctionError::Denied(denied) => ProtoError::from(denied),
            SanctionError::Store(err) => ProtoError::from(err),
        }
    }
}

/// The actor whose mailbox a request went to, for the answer when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mailbox {
    Hub,
    Room,
    Bot,
}

impl ProtoError {
    /// An actor's mailbox failed: it stopped (a room restarting, the hub shutting down) or did
    /// not answer in time. Both are passing, so `unavailable`, saying which actor; the
    /// caller's failure line (a warning) names the session, user and room.
    pub fn mailbox(which: Mailbox, err: actix::MailboxError) -> ProtoError {
        use actix::MailboxError::{Closed, Timeout};
        let message = match (which, err) {
            (Mailbox::Room, Closed) => "the room restarted while handling this; retry",
            (Mailbox::Room, Timeout) => "the room did not answer in time; retry",
            (Mailbox::Hub, Closed) => "the server is shutting down; retry",
            (Mailbox::Hub, Timeout) => "the server did not answer in time; retry",
            (Mailbox::Bot, Closed) => "the bot restarted while handling this; retry",
            (Mailbox::Bot, Timeout) => "the bot did not answer in time; retry",
        };
        ProtoError::unavailable(message)
    }
}

/// The answer of an actor's `send`, with a failed mailbox turned into the [`ProtoError`]
/// that names it: `hub.send(…).await.answered_by(Mailbox::Hub)?`.
pub trait Answered<T> {
    fn answered_by(self, which: Mailbox) -> Result<T, ProtoError>;
}

impl<T> Answered<T> for Result<T, actix::MailboxError> {
    fn answered_by(self, which: Mailbox) -> Result<T, ProtoError> {
        self.map_err(|err| ProtoError::mailbox(which, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database's words (a constraint's name, a connection error) stay in the log.
    #[test]
    fn a_failed_mailbox_is_unavailable_and_named() {
        let hub = ProtoError::mailbox(Mailbox::Hub, actix::MailboxError::Closed);
        let room = ProtoError::mailbox(Mailbox::Room, actix::MailboxError::Closed);
        assert_eq!(
            (hub.code, room.code),
            (ErrorCode::Unavailable, ErrorCode::Unavailable)
        );
        assert!(hub.message.contains("server"), "{hub:?}");
        assert_eq!(
            room.message,
            "the room restarted while handling this; retry"
        );
    }

    #[test]
    fn no_store_text_reaches_a_client() {
        let words = "duplicate key value violates unique constraint \"rooms_pair_key_key\"";
        for err in [
            StoreError::Duplicate(words.into()),
            StoreError::Unavailable(words.into()),
            StoreError::Corrupt(words.into()),
        ] {
            let answer = ProtoError::from(err.clone());
            assert!(
                !answer.message.contains("rooms_pair_key_key")
                    && !answer.message.contains("duplicate key"),
                "{err:?} -> {answer:?}"
            );
        }
        assert_eq!(
            ProtoError::from(StoreError::Duplicate(words.into())).code,
            ErrorCode::Conflict
        );
        assert_eq!(
            ProtoError::from(StoreError::Corrupt("unknown stored room kind".into())).code,
            ErrorCode::Internal
        );
    }
}
