//! `/admin/users`: create and list users, issue and revoke tokens, close connections.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::{next_cursor, PageQuery};
use crate::actors::hub::CloseUser;
use crate::actors::outbox::close;
use crate::db::models::{UserKind, UserRow};
use crate::db::{Store, StoreError};
use crate::error::{ErrorCode, ProtoError};
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::protocol::fields::Fields;
use crate::protocol::ids;
use crate::protocol::views::{RoomView, UserView};
use crate::protocol::{frames, ReplyId};

/// Longest user name, in code points.
pub const MAX_USER_NAME: usize = 64;

pub fn check_user_name(name: &str) -> Result<String, ProtoError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_USER_NAME || name.chars().any(char::is_control) {
        return Err(ProtoError::bad_request(format!(
            "`name` must be 1 to {MAX_USER_NAME} printable characters"
        )));
    }
    Ok(name.to_string())
}

pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let object = super::object(body.into_inner())?;
    let name = check_user_name(Fields(&object).string("name")?)?;
    let user = state.store.create_user(&name, UserKind::User, None).await?;
    let token = state.store.issue_token(user.id).await?;
    log::info!("admin: created user u_{} ({name})", user.id);
    Ok(HttpResponse::Created().json(json!({
        "user": UserView::with_presence(&user, false),
        "token": token,
    })))
}

pub async fn list(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let after = query.after(|text| match ids::parse_user_ref(text) {
        Some(ids::UserRef::Id(id)) => Some(id),
        _ => None,
    })?;
    let mut users = state.store.list_users(after, limit + 1).await?;
    let next = next_cursor(&mut users, limit, |user| format!("u_{}", user.id));
    let users: Vec<UserView> = users
        .iter()
        .map(|user| UserView::with_presence(user, state.presence.is_online(user.id)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "users": users, "next": next })))
}

/// The user a reference names (`u_N` or a bot's handle); never the system user.
/// Shared by the admin API and the command line (`palaver rooms add --members`).
pub async fn lookup(store: &Store, text: &str) -> Result<Option<UserRow>, StoreError> {
    let user = match ids::parse_user_ref(text) {
        Some(ids::UserRef::Id(id)) => store.user(id).await?,
        Some(ids::UserRef::Handle(handle)) => store.user_by_handle(&handle).await?,
        None => None,
    };
    Ok(user.filter(|user| user.kind != UserKind::System.as_str()))
}

/// The user an admin path names: `u_N` or a bot's handle.
pub async fn find(state: &AppState, text: &str) -> Result<UserRow, ApiError> {
    lookup(&state.store, text)
        .await?
        .ok_or_else(|| ProtoError::no_such_user().into())
}

pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&state, &id).await?;
    let rooms: Vec<RoomView> = state
        .store
        .rooms_of(user.id)
        .await?
        .iter()
        .map(RoomView::from_summary)
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "user": UserView::with_presence(&user, state.presence.is_online(user.id)),
        "connections": state.presence.connections(user.id),
        "rooms": rooms,
    })))
}

pub async fn issue_token(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&state, &id).await?;
    let token = state.store.issue_token(user.id).await?;
    Ok(HttpResponse::Created().json(json!({ "token": token })))
}

pub async fn revoke_tokens(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&state, &id).await?;
    let revoked = state.store.revoke_tokens(user.id).await?;
    let closed = state
        .hub
        .send(CloseUser {
            user_id: user.id,
            code: close::REVOKED,
            reason: "token revoked",
            last_frame: Some(frames::error(
                &ReplyId::None,
                &ProtoError::new(
                    ErrorCode::Unauthorized,
                    "your token was revoked; sign in again",
                ),
            )),
        })
        .await?;
    log::info!(
        "admin: revoked {revoked} tokens of u_{}, closed {closed} connections",
        user.id
    );
    Ok(HttpResponse::NoContent().finish())
}

pub async fn disconnect(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&state, &id).await?;
    let closed = state
        .hub
        .send(CloseUser {
            user_id: user.id,
            code: close::REVOKED,
            reason: "disconnected by an admin",
            last_frame: None,
        })
        .await?;
    log::info!("admin: closed {closed} connections of u_{}", user.id);
    Ok(HttpResponse::NoContent().finish())
}
