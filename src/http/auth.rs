//! Who is calling: a user's token on the WebSocket upgrade, the admin token on `/admin`.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;

/// The token of `Authorization: Bearer TOKEN`.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_string())
}

/// A WebSocket client's token: `?token=` (browsers cannot set headers) or the header.
pub fn client_token(req: &HttpRequest) -> Option<String> {
    let from_query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|query| query.get("token").cloned())
            .filter(|token| !token.is_empty());
    from_query.or_else(|| bearer(req))
}

/// Proof that the request carried the admin token. Put it first among a handler's
/// arguments so that an unauthenticated request gets 401 before anything else is read.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Admin, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authorized = match (req.app_data::<web::Data<AppState>>(), bearer(req)) {
            (Some(state), Some(token)) => {
                // Comparing digests keeps the time taken independent of where they differ.
                Sha256::digest(token.as_bytes()) == Sha256::digest(state.admin_token.as_bytes())
            }
            _ => false,
        };
        ready(if authorized {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized())
        })
    }
}
