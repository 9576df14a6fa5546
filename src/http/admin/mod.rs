//! The admin HTTP API of PROTOCOL.md section 7, under `/admin`; every route needs the
//! admin token.

mod bots;
mod ops;
mod rooms;
pub mod users;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::auth::Admin;
use super::error::ApiError;
use crate::error::ProtoError;
use crate::protocol::command::{DEFAULT_PAGE, MAX_PAGE};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/users", web::post().to(users::create))
            .route("/users", web::get().to(users::list))
            .route("/users/{id}", web::get().to(users::show))
            .route("/users/{id}/tokens", web::post().to(users::issue_token))
            .route("/users/{id}/tokens", web::delete().to(users::revoke_tokens))
            .route(
                "/users/{id}/connections",
                web::delete().to(users::disconnect),
            )
            .route("/rooms", web::post().to(rooms::create))
            .route("/rooms", web::get().to(rooms::list))
            .route("/rooms/{id}", web::get().to(rooms::show))
            .route("/rooms/{id}", web::delete().to(rooms::delete))
            .route("/rooms/{id}/members", web::post().to(rooms::add_member))
            .route(
                "/rooms/{id}/members/{user}",
                web::delete().to(rooms::remove_member),
            )
            .route("/rooms/{id}/messages", web::get().to(rooms::messages))
            .route("/rooms/{id}/messages", web::post().to(rooms::post_message))
            .route("/broadcast", web::post().to(ops::broadcast))
            .route("/stats", web::get().to(ops::stats))
            .route("/bots", web::get().to(bots::list))
            .route("/bots/{id}", web::put().to(bots::put))
            .route("/bots/{id}", web::delete().to(bots::delete))
            .default_service(web::to(unknown_route)),
    );
}

async fn unknown_route(_: Admin) -> Result<HttpResponse, ApiError> {
    Err(ProtoError::not_found("no such admin route; see PROTOCOL.md section 7").into())
}

/// A request body, which must be a JSON object.
pub fn object(
    body: serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match body {
        serde_json::Value::Object(object) => Ok(object),
        _ => Err(ProtoError::bad_request("the body must be a JSON object").into()),
    }
}

/// `?limit=&after=` of the list endpoints.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub after: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(
                ProtoError::bad_request(format!("`limit` must be from 1 to {MAX_PAGE}")).into(),
            );
        }
        Ok(limit)
    }

    /// The id to continue after, parsed by `parse`; 0 when absent.
    pub fn after(&self, parse: impl Fn(&str) -> Option<i64>) -> Result<i64, ApiError> {
        match &self.after {
            None => Ok(0),
            Some(text) => parse(text).ok_or_else(|| {
                ProtoError::bad_request(format!("`after` is not an id of this list: {text:?}"))
                    .into()
            }),
        }
    }
}

/// The `next` cursor: the last id when the page was full, null on the last page.
pub fn next_cursor<T>(items: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> String) -> Option<String> {
    if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(id)
    } else {
        None
    }
}
