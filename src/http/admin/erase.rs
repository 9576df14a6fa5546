//! `DELETE /admin/users/{id}?erase=true`: the person is erased in the store
//! (`db/erase.rs`), then their open connections get `unauthorized` and close with 4001.

use actix_web::HttpResponse;

use super::disconnect::close_revoked;
use super::Answer;
use crate::db::StoreError;
use crate::error::ProtoError;
use crate::http::AppState;
use crate::protocol::ids::UserRef;

/// Erases the person `id` names (active or deactivated); 404 for a bot's handle, the system
/// or no one.
pub async fn erase(state: &AppState, id: &UserRef) -> Answer {
    let UserRef::Id(user_id) = id else {
        return Err(ProtoError::no_such_user().into());
    };
    let erased = match state.store.erase_user(*user_id).await {
        Err(StoreError::NotFound(_)) => return Err(ProtoError::no_such_user().into()),
        other => other?,
    };
    let closed = close_revoked(state, *user_id, None, "your account was erased").await?;
    log::info!(
        "admin: erased {user_id}: {} messages made tombstones, {} files deleted, {closed} connections closed",
        erased.messages,
        erased.files
    );
    Ok(HttpResponse::NoContent().finish())
}
