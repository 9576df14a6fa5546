//! `/admin/users`: create, list and deactivate users, issue, list and revoke tokens, close
//! connections.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::disconnect::{close_all, close_revoked};
use super::requests::CreateUser;
use super::{next_cursor, Answer, PageQuery, UserPage};
use crate::db::models::{UserKind, UserRow};
use crate::error::ProtoError;
use crate::http::auth::Admin;
use crate::http::devices::DeviceView;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_body::Json;
use crate::http::AppState;
use crate::protocol::ids::{TokenId, UserId, UserRef};
use crate::protocol::views::{RoomView, UserView};

/// A new user and its token: the only time the token is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    pub token: String,
    /// `t_N`: names the token in `GET`/`DELETE /admin/users/{id}/tokens`.
    pub token_id: String,
    pub user: UserView,
}

/// A user, their open connections (on every node), their rooms as they see them, and the
/// devices notifications go to (kinds and ages, never endpoints, tokens or keys).
#[derive(Serialize, ToSchema)]
pub struct UserDetail {
    pub connections: u64,
    pub devices: Vec<DeviceView>,
    pub rooms: Vec<RoomView>,
    pub user: UserView,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedToken {
    pub token: String,
    /// `t_N`.
    pub token_id: String,
}

/// A token as listed: its id and when it was made; never the secret.
#[derive(Serialize, ToSchema)]
pub struct TokenInfo {
    /// `t_N`.
    pub id: String,
    /// RFC 3339 UTC with milliseconds.
    pub created: String,
}

/// The user's live tokens, oldest first.
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// Create a user and its first token.
#[utoipa::path(
    post,
    operation_id = "users_create",
    path = "/admin/users",
    tag = "users",
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "bad_request: no name, or not 1 to 64 printable characters", body = ErrorBody),
        (status = 409, description = "conflict: the name is taken", body = ErrorBody),
    ),
)]
pub async fn create(Admin(state): Admin, name: Json<CreateUser>) -> Answer {
    let name = name.into_inner();
    let user = state.store.create_user(&name, UserKind::User, None).await?;
    let issued = state.store.issue_token(user.id).await?;
    log::info!("admin: created user {} ({name})", user.id);
    Ok(HttpResponse::Created().json(CreatedUser {
        token: issued.token,
        token_id: TokenId(issued.id).to_string(),
        user: UserView::with_presence(&user, false),
    }))
}

/// `?limit=&after=`, or `?external_id=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Continue after this id (the previous page's `next`).
    pub after: Option<String>,
    /// The user whose JWT `sub` (or `PUT /admin/users/external/{sub}`) is this: the page
    /// holds them alone, or the answer is 404. Not with `limit` or `after`.
    pub external_id: Option<String>,
}

/// List users and bots, by id; or find the user an external id names.
#[utoipa::path(
    get,
    operation_id = "users_list",
    path = "/admin/users",
    tag = "users",
    responses(
        (status = 200, description = "A page of users; with `external_id`, that user alone", body = UserPage),
        (status = 400, description = "bad_request: `limit` out of range or `after` not a user id; an `external_id` that no JWT could carry, or with `limit` or `after`", body = ErrorBody),
        (status = 404, description = "not_found: with `external_id`: no user has it, or theirs was deactivated", body = ErrorBody),
    ),
)]
pub async fn list(Admin(state): Admin, query: web::Query<UserListQuery>) -> Answer {
    let UserListQuery {
        limit,
        after,
        external_id,
    } = query.into_inner();
    if let Some(sub) = external_id {
        if limit.is_some() || after.is_some() {
            return Err(ProtoError::bad_request(
                "`external_id` names one user: leave out `limit` and `after`",
            )
            .into());
        }
        return super::identity::find(&state, &sub).await;
    }
    let query = PageQuery { limit, after };
    let limit = query.limit()?;
    let after = query.after(|text| match text.parse() {
        Ok(UserRef::Id(UserId(id))) => Some(id),
        _ => None,
    })?;
    let mut users = state.store.list_users(after, limit + 1).await?;
    let next = next_cursor(&mut users, limit, |user| user.id.to_string());
    let users: Vec<UserView> = users
        .iter()
        .map(|user| UserView::with_presence(user, state.presence.is_online(user.id)))
        .collect();
    Ok(HttpResponse::Ok().json(UserPage { next, users }))
}

/// The user an admin request names: `u_N` or a bot's handle.
pub async fn find(state: &AppState, user: &UserRef) -> Result<UserRow, ApiError> {
    state
        .store
        .user_by_ref(user)
        .await?
        .ok_or_else(|| ProtoError::no_such_user().into())
}

/// One user, their connections on every node, their rooms and their devices.
#[utoipa::path(
    get,
    operation_id = "users_show",
    path = "/admin/users/{id}",
    tag = "users",
    responses(
        (status = 200, description = "The user", body = UserDetail),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
pub async fn show(Admin(state): Admin, id: web::Path<UserRef>) -> Answer {
    let user = find(&state, &id).await?;
    let summaries = state.store.rooms_of(user.id).await?;
    let rooms: Vec<RoomView> =
        crate::actors::room_list::room_views(&state.store, &summaries, Some(user.id)).await?;
    let devices = state
        .store
        .devices_of(user.id)
        .await?
        .iter()
        .map(DeviceView::of)
        .collect::<Result<Vec<_>, _>>()?;
    let connections = super::live::counts(&state).await?.connections_of(user.id);
    Ok(HttpResponse::Ok().json(UserDetail {
        connections,
        devices,
        rooms,
        user: UserView::with_presence(&user, connections > 0),
    }))
}

/// Issue another token for the user.
#[utoipa::path(
    post,
    operation_id = "users_issue_token",
    path = "/admin/users/{id}/tokens",
    tag = "users",
    responses(
        (status = 201, description = "The new token, shown this once", body = IssuedToken),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
pub async fn issue_token(Admin(state): Admin, id: web::Path<UserRef>) -> Answer {
    let user = find(&state, &id).await?;
    let issued = state.store.issue_token(user.id).await?;
    Ok(HttpResponse::Created().json(IssuedToken {
        token: issued.token,
        token_id: TokenId(issued.id).to_string(),
    }))
}

/// List the user's tokens: ids and creation times, never the secrets.
#[utoipa::path(
    get,
    operation_id = "users_list_tokens",
    path = "/admin/users/{id}/tokens",
    tag = "users",
    responses(
        (status = 200, description = "The live tokens, oldest first", body = TokenList),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
pub async fn list_tokens(Admin(state): Admin, id: web::Path<UserRef>) -> Answer {
    let user = find(&state, &id).await?;
    let tokens = state
        .store
        .tokens_of(user.id)
        .await?
        .into_iter()
        .map(|(id, created_ms)| TokenInfo {
            id: TokenId(id).to_string(),
            created: crate::clock::rfc3339_ms(created_ms),
        })
        .collect();
    Ok(HttpResponse::Ok().json(TokenList { tokens }))
}

/// Revoke one token; the connections that signed in with it get `unauthorized` and close
/// with 4001, the user's other connections stay.
#[utoipa::path(
    delete,
    operation_id = "users_revoke_token",
    path = "/admin/users/{id}/tokens/{token_id}",
    tag = "users",
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "not_found: no such user, or no such token of theirs", body = ErrorBody),
    ),
)]
pub async fn revoke_token(Admin(state): Admin, path: web::Path<(UserRef, TokenId)>) -> Answer {
    let (id, TokenId(token_id)) = path.into_inner();
    let user = find(&state, &id).await?;
    state.store.revoke_token(user.id, token_id).await?;
    let closed = close_revoked(
        &state,
        user.id,
        Some(token_id),
        "your token was revoked; sign in again",
    )
    .await?;
    log::info!(
        "admin: revoked token t_{token_id} of {}, closed {closed} connections",
        user.id
    );
    Ok(HttpResponse::NoContent().finish())
}

/// `?erase=true` of `DELETE /admin/users/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteUserQuery {
    /// Erase the person as well (docs/operations.md, "Erase"): their messages become
    /// tombstones, their files are deleted, their name becomes `deleted user (u_N)`; also
    /// for a user deactivated before. Default false: deactivate only.
    pub erase: Option<bool>,
}

/// Deactivate a user: every token stops working, their connections get `unauthorized` and
/// close with 4001; their messages and memberships stay. With `?erase=true`, erase them.
#[utoipa::path(
    delete,
    operation_id = "users_deactivate",
    path = "/admin/users/{id}",
    tag = "users",
    responses(
        (status = 204, description = "Deactivated (and erased, with `erase=true`)"),
        (status = 400, description = "bad_request: a bot (use DELETE /admin/bots/{id}); `erase` not true or false", body = ErrorBody),
        (status = 404, description = "not_found: no such active user (with `erase=true`: no such person)", body = ErrorBody),
    ),
)]
pub async fn deactivate(
    Admin(state): Admin,
    id: web::Path<UserRef>,
    query: web::Query<DeleteUserQuery>,
) -> Answer {
    if query.erase == Some(true) {
        return super::erase::erase(&state, &id).await;
    }
    let user = find(&state, &id).await?;
    if user.kind != UserKind::User {
        return Err(ProtoError::bad_request(
            "a bot is removed with DELETE /admin/bots/{id}, not deactivated",
        )
        .into());
    }
    state.store.deactivate_user(user.id).await?;
    let closed = close_revoked(&state, user.id, None, "your account was deactivated").await?;
    log::info!(
        "admin: deactivated {}, closed {closed} connections",
        user.id
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke every token of the user and close their connections (an `unauthorized` error
/// frame, then close code 4001).
#[utoipa::path(
    delete,
    operation_id = "users_revoke_tokens",
    path = "/admin/users/{id}/tokens",
    tag = "users",
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
pub async fn revoke_tokens(Admin(state): Admin, id: web::Path<UserRef>) -> Answer {
    let user = find(&state, &id).await?;
    let revoked = state.store.revoke_tokens(user.id).await?;
    let closed = close_revoked(
        &state,
        user.id,
        None,
        "your token was revoked; sign in again",
    )
    .await?;
    log::info!(
        "admin: revoked {revoked} tokens of {}, closed {closed} connections",
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
    responses(
        (status = 204, description = "Closed"),
        (status = 404, description = "not_found: no such user", body = ErrorBody),
    ),
)]
pub async fn disconnect(Admin(state): Admin, id: web::Path<UserRef>) -> Answer {
    let user = find(&state, &id).await?;
    let closed = close_all(&state, user.id, "disconnected by an admin").await?;
    log::info!("admin: closed {closed} connections of {}", user.id);
    Ok(HttpResponse::NoContent().finish())
}
