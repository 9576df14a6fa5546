//! Who is calling: a user's token (`pv_…` or a JWT) on the WebSocket upgrade and file
//! requests, the admin token on `/admin`, the metrics token (or the admin token) on
//! `/metrics`.

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

/// Proof that the request carried the admin token, with the server's state. Put it first
/// among a handler's arguments so that an unauthenticated request gets 401 before anything
/// else is read.
pub struct Admin(pub web::Data<AppState>);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Admin, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authorized = match (req.app_data::<web::Data<AppState>>(), bearer(req)) {
            // Comparing digests keeps the time taken independent of where they differ.
            (Some(state), Some(token))
                if Sha256::digest(token.as_bytes())
                    == Sha256::digest(state.admin_token.as_bytes()) =>
            {
                Some(Admin(state.clone()))
            }
            _ => None,
        };
        ready(authorized.ok_or_else(ApiError::unauthorized))
    }
}

/// Proof that the request may read `/metrics`: the metrics token (`--metrics-token`) or
/// the admin token.
pub struct MetricsReader;

impl FromRequest for MetricsReader {
    type Error = ApiError;
    type Future = Ready<Result<MetricsReader, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authorized = match (req.app_data::<web::Data<AppState>>(), bearer(req)) {
            (Some(state), Some(token)) => {
                let given = Sha256::digest(token.as_bytes());
                let metrics = state
                    .metrics_token
                    .as_ref()
                    .is_some_and(|metrics| given == Sha256::digest(metrics.as_bytes()));
                metrics || given == Sha256::digest(state.admin_token.as_bytes())
            }
            _ => false,
        };
        ready(if authorized {
            Ok(MetricsReader)
        } else {
            Err(ApiError::unauthorized())
        })
    }
}

/// Who a user's token (`pv_…` or a JWT) signs in, and the `pv_` token's id.
pub struct SignedIn {
    pub user: crate::db::models::UserRow,
    /// `None` for a JWT.
    pub token_id: Option<i64>,
}

/// Signs a user in with a token from `?token=` or `Authorization: Bearer` (docs/protocol.md
/// sections 1 and 10): a Palaver token of an active user, or a valid JWT, whose `sub` is
/// made a user on first sight (and renamed when its `name` changed). Anything else is 401; an unreachable JWKS is 503.
pub async fn sign_in(state: &AppState, token: &str) -> Result<SignedIn, ApiError> {
    use crate::db::identity::Identified;
    use crate::error::{ErrorCode, ProtoError};
    use crate::http::jwt::{looks_like_jwt, JwtError};

    let refused = |why: String| ApiError(ProtoError::new(ErrorCode::Unauthorized, why));
    let Some(verifier) = state.jwt.as_ref().filter(|_| looks_like_jwt(token)) else {
        let (user, token_id) = state
            .store
            .signed_in(token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        return Ok(SignedIn {
            user,
            token_id: Some(token_id),
        });
    };
    let identity = verifier.verify(token).await.map_err(|err| match err {
        JwtError::Refused(_) => refused(err.to_string()),
        // Logged where the fetch failed.
        JwtError::KeysUnavailable { .. } => ApiError(ProtoError::unavailable(
            "the keys to check this JWT cannot be fetched now; retry",
        )),
    })?;
    // Made on first sight, renamed when `name` changed (docs/auth.md, "Names").
    let user = match state
        .store
        .user_for_identity(&identity.sub, identity.name.as_deref())
        .await?
    {
        Identified::Created(user) | Identified::Found(user) => user,
        Identified::Deactivated => {
            return Err(refused(
                "the JWT was refused: this user was deactivated".into(),
            ))
        }
    };
    Ok(SignedIn {
        user,
        token_id: None,
    })
}
