//! `/admin/users`: create and list users, issue and revoke tokens, close connections.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
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

/// `POST /admin/users` body.
#[derive(Deserialize, ToSchema)]
pub struct CreateUser {
    /// 1 to 64 printable characters (trimmed), unique; `system` is taken.
    pub name: String,
}

/// A new user and its token: the only time the token is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    pub token: String,
    pub user: UserView,
}

/// A page of users and bots, by id.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// The cursor of the next page (`after`); null on the last page.
    pub next: Option<String>,
    pub users: Vec<UserView>,
}

/// A user, their open connections and their rooms as they see them.
#[derive(Serialize, ToSchema)]
pub struct UserDetail {
    pub connections: usize,
    pub rooms: Vec<RoomView>,
    pub user: UserView,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedToken {
    pub token: String,
}

/// Create a user and its first token.
#[utoipa::path(
    post,
    operation_id = "users_create",
    path = "/admin/users",
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "bad_request: no name, or not 1 to 64 printable characters", body = ErrorBody),
        (status = 409, description = "conflict: the name is taken", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Created().json(CreatedUser {
        token,
        user: UserView::with_presence(&user, false),
    }))
}

/// List users and bots, by id.
#[utoipa::path(
    get,
    operation_id = "users_list",
    path = "/admin/users",
    tag = "users",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "bad_request: `limit` out of range or `after` not a user id", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Ok().json(UserPage { next, users }))
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

/// One user, their connection count and their rooms.
#[utoipa::path(
    get,
    operation_id = "users_show",
    path = "/admin/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "`u_N` or a bot's id")),
    responses(
        (status = 200, description = "The user", body = UserDetail),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Ok().json(UserDetail {
        connections: state.presence.connections(user.id),
        rooms,
        user: UserView::with_presence(&user, state.presence.is_online(user.id)),
    }))
}

/// Issue another token for the user.
#[utoipa::path(
    post,
    operation_id = "users_issue_token",
    path = "/admin/users/{id}/tokens",
    tag = "users",
    params(("id" = String, Path, description = "`u_N` or a bot's id")),
    responses(
        (status = 201, description = "The new token, shown this once", body = IssuedToken),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
pub async fn issue_token(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&state, &id).await?;
    let token = state.store.issue_token(user.id).await?;
    Ok(HttpResponse::Created().json(IssuedToken { token }))
}

/// Revoke every token of the user and close their connections (an `unauthorized` error
/// frame, then close code 4001).
#[utoipa::path(
    delete,
    operation_id = "users_revoke_tokens",
    path = "/admin/users/{id}/tokens",
    tag = "users",
    params(("id" = String, Path, description = "`u_N` or a bot's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
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

/// Close the user's connections (close code 4001); their tokens stay valid.
#[utoipa::path(
    delete,
    operation_id = "users_disconnect",
    path = "/admin/users/{id}/connections",
    tag = "users",
    params(("id" = String, Path, description = "`u_N` or a bot's id")),
    responses(
        (status = 204, description = "Closed"),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
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
