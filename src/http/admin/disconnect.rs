//! Ending a person's live connections from the admin API (a revoked token, a deactivated
//! or erased account): each gets an `unauthorized` error frame, then close code 4001, on
//! every node (through the hub).

use crate::actors::hub::CloseUser;
use crate::error::{Answered, ErrorCode, Mailbox, ProtoError};
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::model::UserId;
use crate::protocol::{frames, CloseCode, ReplyId};

/// Tells the connections (all of the user's, or those of one token) `unauthorized`, then
/// closes them with 4001; answers how many.
pub async fn close_revoked(
    state: &AppState,
    user_id: UserId,
    token_id: Option<i64>,
    why: &'static str,
) -> Result<usize, ApiError> {
    Ok(state
        .hub
        .send(CloseUser {
            user_id,
            token_id,
            code: CloseCode::Revoked,
            reason: "token revoked",
            last_frame: Some(frames::error(
                &ReplyId::None,
                &ProtoError::new(ErrorCode::Unauthorized, why),
            )),
        })
        .await
        .answered_by(Mailbox::Hub)?)
}

/// Closes every connection of the user with 4001 and `reason`, without an error frame (their
/// tokens stay valid: they may connect again); answers how many.
pub async fn close_all(
    state: &AppState,
    user_id: UserId,
    reason: &'static str,
) -> Result<usize, ApiError> {
    Ok(state
        .hub
        .send(CloseUser {
            user_id,
            token_id: None,
            code: CloseCode::Revoked,
            reason,
            last_frame: None,
        })
        .await
        .answered_by(Mailbox::Hub)?)
}
