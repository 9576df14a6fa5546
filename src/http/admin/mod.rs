//! The admin HTTP API of docs/protocol.md section 7, under `/admin`; every route needs the
//! admin token. Each handler takes its inputs as types (`web::Path<RoomId>`, a checked
//! `Json<CreateRoom>`), and the OpenAPI document describes exactly those (`inputs`).

pub mod audit;
pub mod bots;
pub mod content_rules;
pub mod disconnect;
pub mod erase;
pub mod export;
pub mod identity;
pub mod inputs;
pub mod live;
pub mod openapi;
pub mod ops;
pub mod reports;
pub mod requests;
pub mod rooms;
pub mod users;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::ApiError;
use crate::error::ProtoError;
use crate::protocol::command::{DEFAULT_PAGE, MAX_PAGE};

/// What an admin handler answers.
pub type Answer = Result<HttpResponse, ApiError>;

/// A page of users and bots, by id.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// The cursor of the next page (`after`); null on the last page.
    pub next: Option<String>,
    pub users: Vec<crate::protocol::views::UserView>,
}

/// Declares every admin route once: `register` adds them to the `/admin` scope, [`ROUTES`]
/// lists them (a test checks each one is in the OpenAPI document) and [`inputs`] says what
/// each one's handler reads (the document is filled in from it).
macro_rules! admin_routes {
    ($($method:ident $path:literal => $handler:path,)*) => {
        /// Every admin route as (method, full path), exactly as `routes()` registers them.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), concat!("/admin", $path)),)*];

        fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope$(.route($path, web::$method().to($handler)))*
        }

        /// What each route of [`ROUTES`] reads, in the same order.
        pub fn inputs() -> Vec<inputs::Inputs> {
            vec![$(inputs::of(&$handler),)*]
        }
    };
}

admin_routes! {
    post "/users" => users::create,
    get "/users" => users::list,
    put "/users/external/{sub}" => identity::put,
    get "/users/{id}" => users::show,
    get "/users/{id}/export" => export::export,
    delete "/users/{id}" => users::deactivate,
    post "/users/{id}/tokens" => users::issue_token,
    get "/users/{id}/tokens" => users::list_tokens,
    delete "/users/{id}/tokens" => users::revoke_tokens,
    delete "/users/{id}/tokens/{token_id}" => users::revoke_token,
    delete "/users/{id}/connections" => users::disconnect,
    post "/rooms" => rooms::create,
    get "/rooms" => rooms::list,
    get "/rooms/{id}" => rooms::show,
    delete "/rooms/{id}" => rooms::delete,
    post "/rooms/{id}/members" => rooms::add_member,
    delete "/rooms/{id}/members/{user}" => rooms::remove_member,
    get "/rooms/{id}/messages" => rooms::messages,
    post "/rooms/{id}/messages" => rooms::post_message,
    delete "/rooms/{id}/messages/{message}" => rooms::delete_message,
    post "/broadcast" => ops::broadcast,
    get "/stats" => ops::stats,
    get "/bots" => bots::list,
    put "/bots/{id}" => bots::put,
    delete "/bots/{id}" => bots::delete,
    get "/rules" => content_rules::show,
    put "/rules" => content_rules::put,
    get "/reports" => reports::list,
    post "/reports/{id}/resolve" => reports::resolve,
    get "/audit" => audit::list,
    get "/openapi.json" => openapi::document,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let paths = web::PathConfig::default().error_handler(path_error);
    cfg.service(
        register(web::scope("/admin").app_data(paths)).default_service(web::to(unknown_route)),
    );
}

async fn unknown_route(_: Admin) -> Answer {
    Err(ProtoError::not_found("no such admin route; see docs/protocol.md section 7").into())
}

/// A path segment that is not an id of its kind (`r_007`) names nothing: `not_found`, with
/// the same message as an id nothing has ("no such room", the id's parse error).
fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    let actix_web::error::PathError::Deserialize(err) = err else {
        return ApiError(ProtoError::not_found("no such path")).into();
    };
    ApiError(ProtoError::not_found(err.to_string())).into()
}

/// `?limit=&after=` of the list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Continue after this id (the previous page's `next`).
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
