//! `/files` (docs/protocol.md section 9): `POST /files` uploads, `GET /files/{id}` and
//! `GET /files/{id}/thumbnail` download, each with a user's token in
//! `Authorization: Bearer` or `?token=` (for `<img src>`). Every answer, errors included,
//! carries `X-Content-Type-Options: nosniff` and `Cache-Control: private`.

pub mod download;
pub mod upload;

use std::num::NonZeroU32;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::Semaphore;

use super::auth::{client_token, sign_in};
use super::error::ApiError;
use super::AppState;
use crate::db::models::UserRow;
use crate::settings::FileSettings;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/files")
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::CACHE_CONTROL, "private")),
            )
            .route("", web::post().to(upload::upload))
            .route("/{id}", web::get().to(download::file))
            .route("/{id}/thumbnail", web::get().to(download::thumbnail)),
    );
}

/// Per-user upload rate limits and the turns that bound the memory uploads take.
pub struct Uploads {
    settings: FileSettings,
    per_user: DefaultKeyedRateLimiter<i64>,
    /// A turn to read an upload into memory.
    buffering: Semaphore,
    /// A turn to decode an image.
    decoding: Semaphore,
}

/// Users whose rate-limit state is kept before idle ones are forgotten.
const TRACKED_USERS: usize = 10_000;

impl Uploads {
    pub fn new(settings: &FileSettings) -> Uploads {
        let per_minute = NonZeroU32::new(settings.uploads_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.upload_burst).unwrap_or(NonZeroU32::MIN);
        Uploads {
            settings: settings.clone(),
            per_user: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            ),
            buffering: Semaphore::new(settings.concurrent_uploads.max(1)),
            decoding: Semaphore::new(settings.concurrent_decodes.max(1)),
        }
    }
}

/// The user whose token (`pv_…` or a JWT) the request carries; 401 without one.
async fn caller(req: &HttpRequest, state: &AppState) -> Result<UserRow, ApiError> {
    let token = client_token(req).ok_or_else(ApiError::unauthorized)?;
    Ok(sign_in(state, &token).await?.user)
}
