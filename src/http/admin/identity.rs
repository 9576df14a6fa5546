//! Users by the id the team's own backend gives them (a JWT's `sub`): `GET
//! /admin/users?external_id=SUB` finds one, `PUT /admin/users/external/{sub}` makes one
//! ahead of their first sign-in (or finds and renames them), so that the backend can put a
//! student in a group before they ever connect (docs/auth.md, "Users made ahead").

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::requests::ExternalUser;
use super::Answer;
use super::UserPage;
use crate::db::identity::{check_external_id, Identified};
use crate::error::{ErrorCode, ProtoError};
use crate::http::auth::Admin;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_body::Json;
use crate::http::AppState;
use crate::protocol::views::UserView;

/// A user and the external id that names them.
#[derive(Serialize, ToSchema)]
pub struct ExternalUserAnswer {
    /// The id given (a JWT's `sub`).
    pub external_id: String,
    pub user: UserView,
}

/// The external id of a request, checked as a JWT's `sub` is.
fn external_id(sub: &str) -> Result<(), ApiError> {
    check_external_id(sub).map_err(|err| ProtoError::bad_request(err).into())
}

/// `GET /admin/users?external_id=SUB`: the list with that one user, or 404.
pub async fn find(state: &AppState, sub: &str) -> Answer {
    external_id(sub)?;
    match state.store.user_by_sub(sub).await? {
        Some((user, false)) => Ok(HttpResponse::Ok().json(UserPage {
            next: None,
            users: vec![UserView::with_presence(
                &user,
                state.presence.is_online(user.id),
            )],
        })),
        Some((_, true)) => {
            Err(ProtoError::not_found("the user with this external id was deactivated").into())
        }
        None => Err(ProtoError::not_found("no user has this external id").into()),
    }
}

/// Make the user a JWT with this `sub` would sign in, before their first sign-in; or find
/// them, renamed when `name` changed. Idempotent: the same call again answers 200 with the
/// same user.
#[utoipa::path(
    put,
    operation_id = "users_put_external",
    path = "/admin/users/external/{sub}",
    tag = "users",
    responses(
        (status = 201, description = "Created: the first sign-in with this `sub` finds this user", body = ExternalUserAnswer),
        (status = 200, description = "There already (renamed if `name` changed)", body = ExternalUserAnswer),
        (status = 400, description = "bad_request: the external id is empty, over 255 characters or holds a control character", body = ErrorBody),
        (status = 409, description = "conflict: the user with this external id was deactivated", body = ErrorBody),
    ),
)]
pub async fn put(Admin(state): Admin, sub: web::Path<String>, body: Json<ExternalUser>) -> Answer {
    let sub = sub.into_inner();
    external_id(&sub)?;
    let name = body.into_inner();
    let (created, user) = match state.store.user_for_identity(&sub, name.as_deref()).await? {
        Identified::Created(user) => (true, user),
        Identified::Found(user) => (false, user),
        Identified::Deactivated => {
            return Err(ProtoError::new(
                ErrorCode::Conflict,
                "the user with this external id was deactivated",
            )
            .into())
        }
    };
    let answer = ExternalUserAnswer {
        external_id: sub,
        user: UserView::with_presence(&user, state.presence.is_online(user.id)),
    };
    if created {
        log::info!("admin: made {} ({}) for an external id", user.id, user.name);
        Ok(HttpResponse::Created().json(answer))
    } else {
        Ok(HttpResponse::Ok().json(answer))
    }
}
